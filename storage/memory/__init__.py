"""The storage ports in memory: the same contract as SQL (``tests/contract``), for tests and trials.

One unit of work at a time holds the store (as SQLite has one writer); it commits when its
block ends and puts every table back as it was when the block raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from core.ports.broadcasts import Broadcast
from core.ports.channel_health import HealthChange
from core.ports.contact_codes import ContactCode
from core.ports.person_owned import PersonOwned
from core.ports.personal_data import PersonalData
from storage.memory.broadcasts import MemoryBroadcasts
from storage.memory.campaigns import CampaignTables, MemoryCampaigns
from storage.memory.channel_health import MemoryChannelHealth
from storage.memory.contact_codes import MemoryContactCodes
from storage.memory.draws import DrawTables, MemoryDraws
from storage.memory.erasure import MemoryCorePersonalData
from storage.memory.events import EventTables, MemoryEvents, MemoryTimers
from storage.memory.inbox import InboxTables, MemoryInbox
from storage.memory.ledger import LedgerTables, MemoryLedger
from storage.memory.link_codes import LinkTables, MemoryLinkCodes
from storage.memory.messages import MemoryMessages, MessageTables
from storage.memory.people import MemoryPeople, PeopleTables
from storage.memory.photos import MemoryPhotos, PhotoRow
from storage.memory.receipts import MemoryReceipts, ReceiptTables
from storage.memory.reports import MemoryReports
from storage.memory.routes import MemoryRoutes, RouteTables
from storage.memory.staff import MemoryStaff, StaffTables
from storage.memory.states import MemoryStates, StateRow
from storage.memory.table import Table
from storage.memory.tickets import MemoryTickets, TicketTables
from storage.memory.timeline import MemoryTimeline
from storage.memory.workers import MemoryWorkers, Workers


class MemoryTables:
    """Every table of the store."""

    def __init__(self) -> None:
        self.people = PeopleTables()
        self.states: Table[tuple[int, str], StateRow] = Table("scenario_states")
        self.link_codes = LinkTables()
        self.receipts = ReceiptTables()
        self.ledger = LedgerTables()
        self.messages = MessageTables()
        self.inbox = InboxTables()
        self.workers = Workers("workers")
        self.photos: Table[int, PhotoRow] = Table("photos", unique={"content": lambda p: (p.person_id, p.sha256)})
        self.campaigns = CampaignTables()
        self.draws = DrawTables()
        self.tickets = TicketTables()
        self.staff = StaffTables()
        self.routes = RouteTables()
        self.contact_codes: Table[int, ContactCode] = Table("contact_codes")
        self.broadcasts: Table[int, Broadcast] = Table("broadcasts")
        self.events = EventTables()
        self.channel_health: Table[int, HealthChange] = Table("channel_health_log")

    def all(self) -> list[Table]:
        return [*self.campaigns.all(), *self.draws.all(),
                *self.people.all(), self.states, *self.link_codes.all(), *self.receipts.all(),
                *self.ledger.all(), *self.messages.all(), *self.inbox.all(), self.workers, self.photos,
                *self.routes.all(), self.contact_codes, self.broadcasts,
                *self.tickets.all(), *self.staff.all(), *self.events.all(), self.channel_health]


class MemoryUnitOfWork:
    def __init__(self, tables: MemoryTables) -> None:
        persons = tables.people.persons
        self.people = MemoryPeople(tables.people)
        self.states = MemoryStates(tables.states)
        self.link_codes = MemoryLinkCodes(tables.link_codes)
        self.receipts = MemoryReceipts(tables.receipts, persons)
        self.ledger = MemoryLedger(tables.ledger, persons, tables.receipts.receipts)
        self.messages = MemoryMessages(tables.messages, tables.workers, persons)
        self.inbox = MemoryInbox(tables.inbox, tables.workers)
        self.workers = MemoryWorkers(tables.workers)
        self.photos = MemoryPhotos(tables.photos, persons, tables.receipts, tables.tickets)
        self.campaigns = MemoryCampaigns(tables.campaigns, persons)
        self.draws = MemoryDraws(tables.draws, persons)
        self.tickets = MemoryTickets(tables.tickets, persons)
        self.staff = MemoryStaff(tables.staff)
        self.timeline = MemoryTimeline(tables)
        self.reports = MemoryReports(tables)
        self.core_personal_data = MemoryCorePersonalData(tables)
        self.routes = MemoryRoutes(tables.routes, persons, tables.messages.outbox)
        self.contact_codes = MemoryContactCodes(tables.contact_codes, persons)
        self.broadcasts = MemoryBroadcasts(tables.broadcasts, persons, tables.receipts.receipts, tables.draws.winners)
        self.events = MemoryEvents(tables.events)
        self.timers = MemoryTimers(tables.events, tables.workers)
        self.channel_health = MemoryChannelHealth(tables.channel_health)

    def person_owned(self) -> list[PersonOwned]:
        return [self.campaigns, self.draws,
                self.people, self.receipts, self.ledger, self.messages, self.photos, self.routes, self.tickets,
                self.timers]

    def personal_data(self) -> list[PersonalData]:
        return [self.core_personal_data, self.tickets, self.draws, self.routes, self.contact_codes, self.receipts]


class MemoryStore:
    kind = "memory"
    single_process = True

    def __init__(self) -> None:
        self._tables = MemoryTables()
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        return None

    def transaction(self) -> AbstractAsyncContextManager[MemoryUnitOfWork]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[MemoryUnitOfWork]:
        async with self._lock:
            try:
                yield MemoryUnitOfWork(self._tables)
            except BaseException:
                for table in self._tables.all():
                    table.rollback()
                raise
            for table in self._tables.all():
                table.commit()
