"""What the core needs from storage: one unit of work handing out one small repository per aggregate.

``storage`` implements these twice, in SQL (SQLite, PostgreSQL) and in memory, and one
contract suite (``tests/contract``) holds both to the same behaviour. Everything done
through one unit of work commits together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.ports.broadcasts import BroadcastRepository
from core.ports.campaigns import CampaignRepository
from core.ports.channel_health import ChannelHealthRepository
from core.ports.contact_codes import ContactCodeRepository
from core.ports.draws import DrawRepository
from core.ports.events import EventRepository
from core.ports.inbox import InboxEntry, InboxRepository, NewUpdate
from core.ports.ledger import LedgerRepository, Payout
from core.ports.link_codes import LinkAttempt, LinkCodeRepository
from core.ports.messages import LoggedMessage, MessageRepository, Outcome, QueuedMessage
from core.ports.people import PeopleRepository
from core.ports.person_owned import PersonOwned
from core.ports.personal_data import ErasureSubject, PersonalData
from core.ports.photos import PhotoRepository
from core.ports.receipts import ReceiptFlag, ReceiptRepository, ReceiptStatus, StoredReceipt
from core.ports.reports import ReportRepository
from core.ports.routes import RouteRepository
from core.ports.scenario_states import ScenarioState, ScenarioStateRepository
from core.ports.staff import StaffRepository
from core.ports.tickets import TicketRepository
from core.ports.timeline import TimelineRepository
from core.ports.timers import TimerRepository
from core.ports.workers import WorkerRepository


class UnitOfWork(Protocol):
    """One transaction; its repositories commit together.

    Methods raise ``ConflictError`` when a concurrent writer got there first (a unique key
    or a row version): the caller retries the whole unit.
    """

    people: PeopleRepository
    states: ScenarioStateRepository
    link_codes: LinkCodeRepository
    receipts: ReceiptRepository
    ledger: LedgerRepository
    messages: MessageRepository
    inbox: InboxRepository
    workers: WorkerRepository
    photos: PhotoRepository
    campaigns: CampaignRepository
    draws: DrawRepository
    tickets: TicketRepository
    staff: StaffRepository
    timeline: TimelineRepository
    reports: ReportRepository
    routes: RouteRepository
    contact_codes: ContactCodeRepository
    broadcasts: BroadcastRepository
    events: EventRepository
    timers: TimerRepository
    channel_health: ChannelHealthRepository

    def person_owned(self) -> Iterable[PersonOwned]:
        """Every repository holding rows that belong to a person (what a merge moves)."""
        ...

    def personal_data(self) -> Iterable[PersonalData]:
        """Every repository keeping personal data (what an erasure blanks)."""
        ...


class Store(Protocol):
    kind: str  # memory | sqlite | postgresql
    single_process: bool  # True where only one process may run on this store (SQLite, memory)

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    async def close(self) -> None:
        """Let go of connections and threads; the store is not used afterwards."""
        ...
