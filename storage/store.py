"""The core's ``Store``/``Transaction`` on SQLAlchemy: rows in, the core's own records out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import ConflictError
from core.events import Channel, InboundEvent, OutgoingMessage
from core.identity import Account, LinkCode, Person
from core.ports import QueuedMessage, ScenarioState, StoredReceipt
from promo.campaigns import Award, Usage
from promo.ledger import Movement
from promo.receipts import FiscalReceipt
from storage.models import (
    Base,
    ChannelAccountRow,
    ConsentRow,
    LedgerEntryRow,
    LedgerTransactionRow,
    LinkCodeRow,
    LinkFailureRow,
    MessageLogRow,
    OutboxRow,
    PayoutRow,
    PersonMergeRow,
    PersonRow,
    ProcessedUpdateRow,
    ReceiptFlagRow,
    ReceiptRow,
    ScenarioStateRow,
)

# Errors a concurrent writer causes; the engine retries the whole event on them.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available
PERSON_FIELDS = ("name", "email", "source", "registered_at")

R = TypeVar("R")


def _is_retryable(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError):
        return True
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES or "database is locked" in str(error.orig)


def _record(cls: type[R], row: Any, **renamed: Any) -> R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {name: getattr(row, name) for name in names if name not in renamed and hasattr(row, name)}
    return cls(**values, **renamed)


class SqlStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        bind = sessions.kw.get("bind")
        # SQLite has one writer at a time anyway; queueing here avoids its sleeping busy handler.
        self._writer = asyncio.Lock() if bind is not None and bind.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlTransaction]:
        async with self._writer or contextlib.nullcontext(), self._transaction() as tx:
            yield tx

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[SqlTransaction]:
        try:
            async with self.sessions() as session, session.begin():
                yield SqlTransaction(session)
        except DBAPIError as e:
            if _is_retryable(e):
                raise ConflictError(str(e.orig)) from e
            raise


class SqlTransaction:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The session's identity map holds rows weakly; rows we hand out as records are kept here,
        # so saving them later in this transaction needs no second SELECT.
        self._loaded: list[Any] = []

    # updates ---------------------------------------------------------------------------------

    async def claim_update(self, channel: Channel, update_id: str, now: datetime) -> bool:
        insert = sqlite_insert if self.session.bind.dialect.name == "sqlite" else postgresql_insert
        result = await self.session.execute(insert(ProcessedUpdateRow).values(
            channel=channel.value, update_id=update_id, processed_at=now).on_conflict_do_nothing())
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # people and accounts ---------------------------------------------------------------------

    async def find_account_and_person(self, channel: Channel, external_id: str) -> tuple[Account, Person] | None:
        found = (await self.session.execute(select(ChannelAccountRow, PersonRow).join(
            PersonRow, PersonRow.id == ChannelAccountRow.person_id).where(
            ChannelAccountRow.channel == channel.value, ChannelAccountRow.external_id == external_id))).first()
        if found is None:
            return None
        account, person = found
        self._loaded += (account, person)
        return _record(Account, account, channel=channel), _record(Person, person)

    async def create_person(self, locale: str, now: datetime) -> Person:
        row = PersonRow(locale=locale, created_at=now, phone_verified=False, email_verified=False)
        self.session.add(row)
        await self.session.flush()
        self._loaded.append(row)
        return _record(Person, row)

    async def add_account(self, person_id: int, channel: Channel, external_id: str,
                          display_name: str, now: datetime) -> Account:
        row = ChannelAccountRow(person_id=person_id, channel=channel.value, external_id=external_id,
                                display_name=display_name[:128], created_at=now)
        self.session.add(row)
        await self.session.flush()
        self._loaded.append(row)
        return _record(Account, row, channel=channel)

    async def save_account(self, account: Account) -> None:
        row = await self.session.get_one(ChannelAccountRow, account.id)
        row.person_id, row.display_name = account.person_id, account.display_name[:128]
        row.last_seen_at, row.unreachable_since = account.last_seen_at, account.unreachable_since

    async def accounts_of(self, person_id: int) -> list[Account]:
        rows = await self.session.scalars(select(ChannelAccountRow).where(
            ChannelAccountRow.person_id == person_id).order_by(ChannelAccountRow.id))
        return [_record(Account, row, channel=Channel(row.channel)) for row in rows]

    async def get_person(self, person_id: int) -> Person:
        row = await self.session.get_one(PersonRow, person_id)
        self._loaded.append(row)
        return _record(Person, row)

    async def save_person(self, person: Person) -> None:
        row = await self.session.get_one(PersonRow, person.id)
        for field in fields(Person):
            if field.name not in ("id", "created_at"):
                setattr(row, field.name, getattr(person, field.name))
        await self.session.flush()  # a taken phone number fails here, inside the step

    async def find_person_by_phone(self, phone: str) -> Person | None:
        row = await self.session.scalar(select(PersonRow).where(PersonRow.phone == phone))
        return None if row is None else _record(Person, row)

    async def add_consent(self, person_id: int, text_version: str, channel: Channel, now: datetime) -> None:
        self.session.add(ConsentRow(person_id=person_id, kind="personal_data", text_version=text_version,
                                    channel=channel.value, accepted_at=now))

    # scenario states -------------------------------------------------------------------------

    async def load_states(self, person_id: int) -> dict[str, ScenarioState]:
        rows = await self.session.scalars(select(ScenarioStateRow).where(ScenarioStateRow.person_id == person_id))
        return {row.scenario: ScenarioState(row.person_id, row.scenario, row.state, row.active,
                                            dict(row.data), row.version) for row in rows}

    async def save_state(self, state: ScenarioState, now: datetime) -> None:
        values = {"state": state.state, "active": state.active, "data": dict(state.data), "updated_at": now}
        if state.version == 0:
            self.session.add(ScenarioStateRow(person_id=state.person_id, scenario=state.scenario,
                                              version=1, **values))
            await self.session.flush()
        else:
            result = await self.session.execute(update(ScenarioStateRow).where(
                ScenarioStateRow.person_id == state.person_id, ScenarioStateRow.scenario == state.scenario,
                ScenarioStateRow.version == state.version).values(version=state.version + 1, **values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise ConflictError(f"{state.scenario} of person {state.person_id} changed concurrently")
        state.version += 1

    # link codes ------------------------------------------------------------------------------

    async def create_link_code(self, code: LinkCode) -> LinkCode:
        row = LinkCodeRow(person_id=code.person_id, code=code.code, channel=code.channel.value,
                          account_external_id=code.account_id, created_at=code.created_at,
                          expires_at=code.expires_at)
        self.session.add(row)
        await self.session.flush()
        code.id = row.id
        return code

    async def find_link_code(self, code: str) -> LinkCode | None:
        row = await self.session.scalar(select(LinkCodeRow).where(LinkCodeRow.code == code)
                                        .order_by(LinkCodeRow.created_at.desc(), LinkCodeRow.id.desc()).limit(1))
        if row is None:
            return None
        return _record(LinkCode, row, channel=Channel(row.channel), account_id=row.account_external_id)

    async def expire_link_codes(self, person_id: int, now: datetime) -> None:
        await self.session.execute(update(LinkCodeRow).where(
            LinkCodeRow.person_id == person_id, LinkCodeRow.used_at.is_(None),
            LinkCodeRow.expires_at > now).values(expires_at=now))

    async def save_link_code(self, code: LinkCode) -> None:
        row = await self.session.get_one(LinkCodeRow, code.id)
        row.used_at, row.expires_at = code.used_at, code.expires_at

    async def record_link_failure(self, channel: Channel, external_id: str, now: datetime) -> None:
        self.session.add(LinkFailureRow(channel=channel.value, external_id=external_id, failed_at=now))

    async def count_link_failures(self, channel: Channel, external_id: str, since: datetime) -> int:
        await self.session.flush()
        return await self.session.scalar(select(func.count()).select_from(LinkFailureRow).where(
            LinkFailureRow.channel == channel.value, LinkFailureRow.external_id == external_id,
            LinkFailureRow.failed_at >= since)) or 0

    # merging ---------------------------------------------------------------------------------

    async def merge_persons(self, survivor_id: int, absorbed_id: int, reason: str,
                            now: datetime) -> dict[str, int]:
        """Move everything the absorbed person owns to the survivor and leave an audit row.

        Every table with a ``person_id`` column moves, so a table added later moves too.
        The absorbed person's scenario states are dropped: the survivor's are the ones to keep.
        """
        await self.session.flush()
        await self.session.execute(delete(ScenarioStateRow).where(ScenarioStateRow.person_id == absorbed_id))
        moved: dict[str, int] = {}
        for table in Base.metadata.sorted_tables:
            if "person_id" in table.c and table.name != ScenarioStateRow.__tablename__:
                result = await self.session.execute(table.update().where(
                    table.c.person_id == absorbed_id).values(person_id=survivor_id))
                if result.rowcount:  # type: ignore[attr-defined]
                    moved[table.name] = result.rowcount  # type: ignore[attr-defined]
        await self.session.execute(update(PersonRow).where(PersonRow.merged_into_id == absorbed_id)
                                   .values(merged_into_id=survivor_id))
        self.session.expire_all()  # the bulk moves above bypassed the loaded rows
        survivor = await self.session.get_one(PersonRow, survivor_id)
        absorbed = await self.session.get_one(PersonRow, absorbed_id)
        for name in PERSON_FIELDS:
            if getattr(survivor, name) is None:
                setattr(survivor, name, getattr(absorbed, name))
        phone, phone_verified = absorbed.phone, absorbed.phone_verified
        absorbed.phone, absorbed.merged_into_id = None, survivor_id
        await self.session.flush()  # free the unique phone before the survivor may take it
        if survivor.phone is None and phone is not None:
            survivor.phone, survivor.phone_verified = phone, phone_verified
        self.session.add(PersonMergeRow(survivor_id=survivor_id, absorbed_id=absorbed_id, reason=reason,
                                        moved=moved, merged_at=now))
        await self.session.flush()
        return moved

    # messages --------------------------------------------------------------------------------

    async def log_inbound(self, person_id: int, event: InboundEvent, now: datetime) -> None:
        self.session.add(MessageLogRow(person_id=person_id, channel=event.channel.value,
                                       external_id=event.account_id, direction="in", kind=event.kind.value,
                                       body=event.describe()[:4000], params=None, created_at=now))

    async def enqueue(self, message: OutgoingMessage, now: datetime, leased_until: datetime | None = None) -> int:
        channel = message.channel.value if message.channel else None
        row = OutboxRow(person_id=message.person_id, channel=channel, external_id=message.account_id,
                        template=message.template, params=dict(message.params), locale=message.locale,
                        status="sending" if leased_until else "pending", attempts=0,
                        next_attempt_at=leased_until or now, created_at=now)
        self.session.add(row)
        self.session.add(MessageLogRow(person_id=message.person_id, channel=channel,
                                       external_id=message.account_id, direction="out", kind="template",
                                       body=message.template, params=dict(message.params), created_at=now))
        await self.session.flush()
        return row.id

    # delivery --------------------------------------------------------------------------------

    async def claim_due_messages(self, now: datetime, lease_until: datetime, limit: int) -> list[QueuedMessage]:
        rows = (await self.session.scalars(
            select(OutboxRow).where(OutboxRow.status.in_(("pending", "sending")), OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.id).limit(limit).with_for_update(skip_locked=True))).all()
        for row in rows:
            row.status, row.next_attempt_at = "sending", lease_until
        return [QueuedMessage(row.id, row.person_id, row.channel, row.external_id, row.template, dict(row.params),
                              row.locale, row.attempts) for row in rows]

    async def finish_message(self, message_id: int, status: str, now: datetime, *, channel: str | None = None,
                             account_id: str | None = None, error: str | None = None) -> None:
        row = await self.session.get_one(OutboxRow, message_id)
        row.status, row.last_error, row.attempts = status, error, row.attempts + 1
        if status == "sent":
            row.sent_at, row.channel, row.external_id = now, channel, account_id

    async def postpone_message(self, message_id: int, until: datetime, error: str) -> None:
        row = await self.session.get_one(OutboxRow, message_id)
        row.status, row.next_attempt_at, row.last_error = "pending", until, error
        row.attempts += 1

    async def mark_unreachable(self, channel: str, external_id: str, now: datetime) -> None:
        await self.session.execute(update(ChannelAccountRow).where(
            ChannelAccountRow.channel == channel, ChannelAccountRow.external_id == external_id,
            ChannelAccountRow.unreachable_since.is_(None)).values(unreachable_since=now))

    # receipts --------------------------------------------------------------------------------

    @staticmethod
    def _receipt(row: ReceiptRow) -> StoredReceipt:
        return StoredReceipt(row.id, row.person_id, row.campaign, row.canonical, row.status, row.sum_kopecks,
                             row.cashback_kopecks, row.entries, row.check_attempts, row.created_at)

    async def find_receipt(self, key: tuple[int, int, int]) -> StoredReceipt | None:
        fn, document_number, fiscal_sign = key
        row = await self.session.scalar(select(ReceiptRow).where(
            ReceiptRow.fn == fn, ReceiptRow.document_number == document_number, ReceiptRow.fiscal_sign == fiscal_sign))
        return None if row is None else self._receipt(row)

    async def receipt_usage(self, person_id: int, campaign: str, day: tuple[datetime, datetime],
                            hour_since: datetime) -> Usage:
        mine = (ReceiptRow.person_id == person_id, ReceiptRow.campaign == campaign, ReceiptRow.status != "rejected")
        today = await self.session.scalar(select(func.count()).select_from(ReceiptRow).where(
            *mine, ReceiptRow.created_at >= day[0], ReceiptRow.created_at < day[1]))
        last_hour = await self.session.scalar(select(func.count()).select_from(ReceiptRow).where(
            *mine, ReceiptRow.created_at >= hour_since))
        cashback = await self.session.scalar(
            select(func.coalesce(func.sum(ReceiptRow.cashback_kopecks), 0)).where(*mine))
        return Usage(int(today or 0), int(last_hour or 0), int(cashback or 0))

    async def add_receipt(self, person_id: int, campaign: str, receipt: FiscalReceipt, source: str, status: str,
                          award: Award, now: datetime, next_check_at: datetime | None) -> StoredReceipt:
        row = ReceiptRow(person_id=person_id, campaign=campaign, fn=receipt.fn,
                         document_number=receipt.document_number, fiscal_sign=receipt.fiscal_sign,
                         issued_at=receipt.issued_at, sum_kopecks=receipt.sum_kopecks,
                         operation=int(receipt.operation), canonical=receipt.canonical(), source=source,
                         status=status, cashback_kopecks=award.cashback_kopecks, entries=award.entries,
                         created_at=now, next_check_at=next_check_at, check_attempts=0)
        self.session.add(row)
        await self.session.flush()  # a second sender of the same receipt fails here and is retried
        return self._receipt(row)

    async def flag_receipt(self, receipt_id: int, person_id: int, reason: str, now: datetime) -> None:
        self.session.add(ReceiptFlagRow(receipt_id=receipt_id, person_id=person_id, reason=reason, created_at=now))

    async def receipts_to_verify(self, now: datetime, lease_until: datetime, limit: int) -> list[StoredReceipt]:
        rows = (await self.session.scalars(select(ReceiptRow).where(
            ReceiptRow.status == "verifying", ReceiptRow.next_check_at <= now)
            .order_by(ReceiptRow.next_check_at).limit(limit).with_for_update(skip_locked=True))).all()
        for row in rows:
            row.next_check_at = lease_until
        return [self._receipt(row) for row in rows]

    async def set_receipt_status(self, receipt_id: int, status: str, next_check_at: datetime | None,
                                 attempts: int) -> None:
        row = await self.session.get_one(ReceiptRow, receipt_id)
        row.status, row.next_check_at, row.check_attempts = status, next_check_at, attempts

    # ledger ----------------------------------------------------------------------------------

    async def post(self, movement: Movement, now: datetime, *, receipt_id: int | None = None,
                   payout_id: int | None = None) -> None:
        transaction = LedgerTransactionRow(kind=movement.kind, receipt_id=receipt_id, payout_id=payout_id,
                                           created_at=now)
        self.session.add(transaction)
        await self.session.flush()
        self.session.add_all([LedgerEntryRow(transaction_id=transaction.id, account=p.account.value,
                                             person_id=p.person_id, amount_kopecks=p.amount_kopecks)
                              for p in movement.postings])

    async def balances(self, person_id: int) -> dict[str, int]:
        await self.session.flush()
        rows = await self.session.execute(select(LedgerEntryRow.account, func.sum(LedgerEntryRow.amount_kopecks))
                                          .where(LedgerEntryRow.person_id == person_id)
                                          .group_by(LedgerEntryRow.account))
        return {account: int(total) for account, total in rows}

    async def add_payout(self, person_id: int, amount_kopecks: int, phone: str, now: datetime) -> int:
        row = PayoutRow(person_id=person_id, amount_kopecks=amount_kopecks, phone=phone, status="requested",
                        requested_at=now)
        self.session.add(row)
        await self.session.flush()
        return row.id
