"""What the core needs from storage. ``storage`` implements it; the core never imports SQLAlchemy."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.events import Channel, InboundEvent, OutgoingMessage
from core.identity import Account, LinkCode, Person
from promo.campaigns import Award, Usage
from promo.ledger import Movement
from promo.receipts import FiscalReceipt


@dataclass
class ScenarioState:
    person_id: int
    scenario: str
    state: str
    active: bool
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # 0: not stored yet


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    person_id: int
    channel: str | None
    account_id: str | None
    template: str
    params: dict[str, Any]
    locale: str
    attempts: int

    @classmethod
    def fresh(cls, message_id: int, message: OutgoingMessage) -> QueuedMessage:
        channel = message.channel.value if message.channel else None
        return cls(message_id, message.person_id, channel, message.account_id, message.template,
                   dict(message.params), message.locale, 0)


@dataclass(frozen=True)
class StoredReceipt:
    id: int
    person_id: int
    campaign: str
    canonical: str
    status: str  # accepted | verifying | rejected
    sum_kopecks: int
    cashback_kopecks: int
    entries: int
    check_attempts: int
    created_at: datetime


class Transaction(Protocol):
    """One unit of work: everything done through it commits together or not at all.

    Methods raise ``ConflictError`` when a concurrent writer got there first.
    """

    async def claim_update(self, channel: Channel, update_id: str, now: datetime) -> bool:
        """Record an update as applied; False when it already was (a redelivery)."""
        ...

    async def find_account_and_person(self, channel: Channel,
                                      external_id: str) -> tuple[Account, Person] | None: ...
    async def create_person(self, locale: str, now: datetime) -> Person: ...
    async def add_account(self, person_id: int, channel: Channel, external_id: str,
                          display_name: str, now: datetime) -> Account: ...
    async def save_account(self, account: Account) -> None: ...
    async def accounts_of(self, person_id: int) -> list[Account]: ...

    async def get_person(self, person_id: int) -> Person: ...
    async def save_person(self, person: Person) -> None: ...
    async def find_person_by_phone(self, phone: str) -> Person | None: ...
    async def add_consent(self, person_id: int, text_version: str, channel: Channel,
                          now: datetime) -> None: ...

    async def load_states(self, person_id: int) -> dict[str, ScenarioState]: ...
    async def save_state(self, state: ScenarioState, now: datetime) -> None: ...

    async def create_link_code(self, code: LinkCode) -> LinkCode: ...
    async def find_link_code(self, code: str) -> LinkCode | None: ...
    async def expire_link_codes(self, person_id: int, now: datetime) -> None: ...
    async def save_link_code(self, code: LinkCode) -> None: ...
    async def record_link_failure(self, channel: Channel, external_id: str, now: datetime) -> None: ...
    async def count_link_failures(self, channel: Channel, external_id: str, since: datetime) -> int: ...

    async def merge_persons(self, survivor_id: int, absorbed_id: int, reason: str,
                            now: datetime) -> dict[str, int]: ...

    async def find_receipt(self, key: tuple[int, int, int]) -> StoredReceipt | None: ...
    async def receipt_usage(self, person_id: int, campaign: str, day: tuple[datetime, datetime],
                            hour_since: datetime) -> Usage: ...
    async def add_receipt(self, person_id: int, campaign: str, receipt: FiscalReceipt, source: str, status: str,
                          award: Award, now: datetime, next_check_at: datetime | None) -> StoredReceipt: ...
    async def flag_receipt(self, receipt_id: int, person_id: int, reason: str, now: datetime) -> None: ...
    async def receipts_to_verify(self, now: datetime, lease_until: datetime, limit: int) -> list[StoredReceipt]:
        """Receipts whose check is due, leased to this caller until ``lease_until``."""
        ...
    async def set_receipt_status(self, receipt_id: int, status: str, next_check_at: datetime | None,
                                 attempts: int) -> None: ...

    async def post(self, movement: Movement, now: datetime, *, receipt_id: int | None = None,
                   payout_id: int | None = None) -> None: ...
    async def balances(self, person_id: int) -> dict[str, int]: ...
    async def add_payout(self, person_id: int, amount_kopecks: int, phone: str, now: datetime) -> int: ...

    async def log_inbound(self, person_id: int, event: InboundEvent, now: datetime) -> None: ...
    async def enqueue(self, message: OutgoingMessage, now: datetime, leased_until: datetime | None = None) -> int:
        """Queue a message; ``leased_until``: the caller itself delivers it right after commit."""
        ...

    async def claim_due_messages(self, now: datetime, lease_until: datetime, limit: int) -> list[QueuedMessage]:
        """Due pending messages, leased to this caller (others skip them until ``lease_until``)."""
        ...
    async def finish_message(self, message_id: int, status: str, now: datetime, *, channel: str | None = None,
                             account_id: str | None = None, error: str | None = None) -> None: ...
    async def postpone_message(self, message_id: int, until: datetime, error: str) -> None: ...
    async def mark_unreachable(self, channel: str, external_id: str, now: datetime) -> None: ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...
