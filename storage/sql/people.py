"""People, channel accounts, consents and merges in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, null, or_, select, update

from core.channels import ChannelName
from core.identity import ChannelAccount, Consent, Merge, MergeDetails, Person
from core.ports.people import AdvertisingConsent
from core.ports.person_owned import Moved
from storage.sql.db import Db
from storage.sql.ownership import move_rows, restore_rows
from storage.sql.records import record
from storage.tables.people import channel_accounts, consents, person_merges, persons

PERSON_FIELDS = ("name", "phone", "phone_verified", "email", "email_verified", "locale", "source", "registered_at",
                 "merged_into_id")
FILLED_FROM_ABSORBED = ("name", "email", "source", "registered_at")
OWNED = (channel_accounts, consents)
PERSONAL_DATA, ADVERTISING = "personal_data", "advertising"

# Statements on the path of every message are built once: building one costs more than running it.
_touch = (update(channel_accounts).where(channel_accounts.c.id == bindparam("account_id"))
          .values(person_id=bindparam("owner"), display_name=bindparam("name"), last_seen_at=bindparam("seen"),
                  unreachable_since=bindparam("unreachable"), unreachable_reason=bindparam("unreachable_why"),
                  verified_at=bindparam("verified")))
_person_columns = (persons.c.id.label("person_id_"), *[c for c in persons.c if c.name != "id"])
_find_by_account = (select(channel_accounts, *_person_columns)
                    .join(persons, persons.c.id == channel_accounts.c.person_id)
                    .where(channel_accounts.c.channel == bindparam("channel_"),
                           channel_accounts.c.external_id == bindparam("external_id_")))
_create = insert(persons).returning(persons.c.id)
_get = select(persons).where(persons.c.id == bindparam("id_"))
_find_by_phone = select(persons).where(persons.c.phone == bindparam("phone_"))
_save = update(persons).where(persons.c.id == bindparam("id_")).values(
    {name: bindparam(name) for name in PERSON_FIELDS})
_add_account = insert(channel_accounts).returning(channel_accounts.c.id)
_add_consent = insert(consents)
_accounts_of_people = (select(channel_accounts)
                       .where(channel_accounts.c.person_id.in_(bindparam("ids", expanding=True)))
                       .order_by(channel_accounts.c.id))


def _account(row: object) -> ChannelAccount:
    return record(ChannelAccount, row, channel=ChannelName(row.channel))  # type: ignore[attr-defined]


class SqlPeople:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def create(self, locale: str, now: datetime) -> Person:
        person_id = await self.db.scalar(_create, {"locale": locale, "created_at": now, "phone_verified": False,
                                                   "email_verified": False})
        return Person(id=person_id, locale=locale, created_at=now)

    async def get(self, person_id: int) -> Person:
        row = await self.db.first(_get, {"id_": person_id})
        if row is None:
            raise LookupError(f"no person {person_id}")
        return record(Person, row)

    async def save(self, person: Person) -> None:
        await self.db.execute(_save, {"id_": person.id, **{name: getattr(person, name) for name in PERSON_FIELDS}})

    async def find_by_phone(self, phone: str) -> Person | None:
        row = await self.db.first(_find_by_phone, {"phone_": phone})
        return None if row is None else record(Person, row)

    async def find_by_account(self, channel: ChannelName, external_id: str) -> tuple[ChannelAccount, Person] | None:
        row = await self.db.first(_find_by_account, {"channel_": channel, "external_id_": external_id})
        if row is None:
            return None
        person = record(Person, row, id=row.person_id_)
        return _account(row), person

    async def add_account(self, person_id: int, channel: ChannelName, external_id: str, display_name: str,
                          now: datetime) -> ChannelAccount:
        name = display_name[:128]
        account_id = await self.db.scalar(_add_account, {"person_id": person_id, "channel": channel,
                                                         "external_id": external_id, "display_name": name,
                                                         "created_at": now})
        return ChannelAccount(account_id, person_id, channel, external_id, name)

    async def touch_account(self, account: ChannelAccount) -> None:
        self.db.later(_touch, {"account_id": account.id, "owner": account.person_id,
                               "name": account.display_name[:128], "seen": account.last_seen_at,
                               "unreachable": account.unreachable_since,
                               "unreachable_why": account.unreachable_reason if account.unreachable_since else None,
                               "verified": account.verified_at})

    async def accounts_of(self, person_id: int) -> list[ChannelAccount]:
        await self.db.flush()
        rows = await self.db.rows(select(channel_accounts).where(channel_accounts.c.person_id == person_id)
                                  .order_by(channel_accounts.c.id))
        return [_account(row) for row in rows]

    async def accounts_of_people(self, person_ids: list[int]) -> dict[int, list[ChannelAccount]]:
        await self.db.flush()
        found: dict[int, list[ChannelAccount]] = {person_id: [] for person_id in person_ids}
        if person_ids:
            for row in await self.db.rows(_accounts_of_people, {"ids": person_ids}):
                found[row.person_id].append(_account(row))
        return found

    async def mark_unreachable(self, channel: ChannelName, external_id: str, now: datetime,
                               reason: str | None = None) -> None:
        await self.db.execute(update(channel_accounts).where(
            channel_accounts.c.channel == channel, channel_accounts.c.external_id == external_id,
            channel_accounts.c.unreachable_since.is_(None)).values(unreachable_since=now,
                                                                   unreachable_reason=(reason or "")[:64] or None))

    async def add_consent(self, person_id: int, text_version: str, channel: ChannelName, now: datetime) -> None:
        await self.db.execute(_add_consent, {"person_id": person_id, "kind": PERSONAL_DATA, "given": True,
                                             "text_version": text_version, "channel": channel, "accepted_at": now})

    async def consents_of(self, person_id: int) -> list[Consent]:
        rows = await self.db.rows(select(consents).where(consents.c.person_id == person_id,
                                                         consents.c.kind == PERSONAL_DATA).order_by(consents.c.id))
        return [record(Consent, row, channel=ChannelName(row.channel)) for row in rows]

    async def record_advertising(self, person_id: int, channel: ChannelName, given: bool, source: str,
                                 now: datetime) -> None:
        await self.db.execute(_add_consent, {"person_id": person_id, "kind": ADVERTISING, "given": given,
                                             "text_version": ADVERTISING, "channel": channel, "accepted_at": now,
                                             "source": source[:32]})

    async def advertising_of(self, person_ids: list[int]) -> dict[int, dict[ChannelName, AdvertisingConsent]]:
        await self.db.flush()
        found: dict[int, dict[ChannelName, AdvertisingConsent]] = {person_id: {} for person_id in person_ids}
        if not person_ids:
            return found
        rows = await self.db.rows(select(consents).where(
            consents.c.kind == ADVERTISING, consents.c.person_id.in_(bindparam("ids", expanding=True)))
            .order_by(consents.c.id), {"ids": person_ids})
        for row in rows:  # by id: a later word replaces an earlier one
            channel = ChannelName(row.channel)
            found[row.person_id][channel] = AdvertisingConsent(row.person_id, channel, bool(row.given),
                                                               row.source or "", row.accepted_at)
        return found

    async def absorb(self, survivor_id: int, absorbed_id: int) -> None:
        survivor, absorbed = await self.get(survivor_id), await self.get(absorbed_id)
        if survivor.email is None and absorbed.email is not None:
            survivor.email_verified = absorbed.email_verified
        for name in FILLED_FROM_ABSORBED:
            if getattr(survivor, name) is None:
                setattr(survivor, name, getattr(absorbed, name))
        phone, phone_verified = absorbed.phone, absorbed.phone_verified
        absorbed.phone, absorbed.phone_verified, absorbed.merged_into_id = None, False, survivor_id
        await self.save(absorbed)  # frees the unique phone before the survivor may take it
        if survivor.phone is None and phone is not None:
            survivor.phone, survivor.phone_verified = phone, phone_verified
        await self.save(survivor)
        await self.db.execute(update(persons).where(persons.c.merged_into_id == absorbed_id)
                              .values(merged_into_id=survivor_id))

    async def record_merge(self, survivor_id: int, absorbed_id: int, reason: str, moved: Moved,
                           now: datetime, details: MergeDetails | None = None) -> Merge:
        counts = {table: len(ids) for table, ids in moved.items()}
        merge_id = await self.db.scalar(insert(person_merges).values(
            survivor_id=survivor_id, absorbed_id=absorbed_id, reason=reason[:128], moved=counts, moved_rows=moved,
            details=details.plain() if details else null(), merged_at=now).returning(person_merges.c.id))
        return Merge(merge_id, survivor_id, absorbed_id, reason[:128], moved, now, details)

    async def merges(self, person_id: int | None = None) -> list[Merge]:
        query = select(person_merges).order_by(person_merges.c.merged_at, person_merges.c.id)
        if person_id is not None:
            query = query.where(or_(person_merges.c.survivor_id == person_id,
                                    person_merges.c.absorbed_id == person_id))
        return [record(Merge, row, moved=row.moved_rows or {}, details=MergeDetails.from_plain(row.details))
                for row in await self.db.rows(query)]

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        return await move_rows(self.db, OWNED, absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        return await restore_rows(self.db, OWNED, moved, person_id)
