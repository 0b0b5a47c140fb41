"""People, their channel accounts, consents and merges, in memory."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from core.channels import ChannelName
from core.identity import ChannelAccount, Consent, Merge, MergeDetails, Person
from core.ports.people import AdvertisingConsent
from core.ports.person_owned import Moved
from storage.memory.table import Table, json_copy, reassign_rows, restore_rows, utc

DISPLAY_NAME_LENGTH = 128
FILLED_FROM_ABSORBED = ("name", "email", "source", "registered_at")  # taken over when the survivor has none
UNSAVED_PERSON_FIELDS = ("id", "created_at", "withdrawn_at")  # withdrawn only by erasure, never by a step's save
ACCOUNTS, CONSENTS = "channel_accounts", "consents"


@dataclass(frozen=True)
class AccountRow:
    id: int
    person_id: int
    channel: ChannelName
    external_id: str
    display_name: str
    created_at: datetime
    last_seen_at: datetime | None = None
    unreachable_since: datetime | None = None
    verified_at: datetime | None = None
    unreachable_reason: str | None = None

    def record(self) -> ChannelAccount:
        return ChannelAccount(self.id, self.person_id, self.channel, self.external_id, self.display_name,
                              self.last_seen_at, self.unreachable_since, self.verified_at, self.unreachable_reason)


@dataclass(frozen=True)
class ConsentRow:
    id: int
    person_id: int
    text_version: str
    channel: ChannelName
    accepted_at: datetime
    kind: str = "personal_data"  # or "advertising", given or withdrawn per channel
    given: bool = True
    source: str = ""


class PeopleTables:
    def __init__(self) -> None:
        # Person records are never changed in place: a save puts a new one.
        self.persons: Table[int, Person] = Table("persons", unique={"phone": lambda p: p.phone})
        self.accounts: Table[int, AccountRow] = Table(
            ACCOUNTS, unique={"address": lambda a: (a.channel, a.external_id)})
        self.consents: Table[int, ConsentRow] = Table(CONSENTS)
        self.merges: Table[int, Merge] = Table("person_merges")

    def all(self) -> list[Table]:
        return [self.persons, self.accounts, self.consents, self.merges]


def _person_times(person: Person) -> Person:
    return replace(person, created_at=utc(person.created_at), registered_at=utc(person.registered_at))


class MemoryPeople:
    def __init__(self, tables: PeopleTables) -> None:
        self._t = tables

    async def create(self, locale: str, now: datetime) -> Person:
        person = Person(self._t.persons.next_id(), locale, utc(now))
        self._t.persons.put(person.id, person)
        return replace(person)

    async def get(self, person_id: int) -> Person:
        return replace(self._t.persons.one(person_id))

    async def save(self, person: Person) -> None:
        stored = self._t.persons.one(person.id)
        changes = {f.name: getattr(person, f.name) for f in fields(Person) if f.name not in UNSAVED_PERSON_FIELDS}
        self._t.persons.put(person.id, _person_times(replace(stored, **changes)))

    async def find_by_phone(self, phone: str) -> Person | None:
        person = self._t.persons.find("phone", phone)
        return None if person is None else replace(person)

    async def find_by_account(self, channel: ChannelName,
                              external_id: str) -> tuple[ChannelAccount, Person] | None:
        account = self._t.accounts.find("address", (channel, external_id))
        if account is None:
            return None
        return account.record(), replace(self._t.persons.one(account.person_id))

    async def add_account(self, person_id: int, channel: ChannelName, external_id: str,
                          display_name: str, now: datetime) -> ChannelAccount:
        self._t.persons.one(person_id)
        row = AccountRow(self._t.accounts.next_id(), person_id, channel, external_id,
                         display_name[:DISPLAY_NAME_LENGTH], utc(now))
        return self._t.accounts.put(row.id, row).record()

    async def touch_account(self, account: ChannelAccount) -> None:
        row = self._t.accounts.one(account.id)
        self._t.persons.one(account.person_id)
        self._t.accounts.put(row.id, replace(
            row, person_id=account.person_id, display_name=account.display_name[:DISPLAY_NAME_LENGTH],
            last_seen_at=utc(account.last_seen_at), unreachable_since=utc(account.unreachable_since),
            unreachable_reason=account.unreachable_reason if account.unreachable_since else None,
            verified_at=utc(account.verified_at)))

    async def accounts_of(self, person_id: int) -> list[ChannelAccount]:
        rows = self._t.accounts.where(lambda a: a.person_id == person_id)
        return [row.record() for row in sorted(rows, key=lambda a: a.id)]

    async def accounts_of_people(self, person_ids: list[int]) -> dict[int, list[ChannelAccount]]:
        return {person_id: await self.accounts_of(person_id) for person_id in person_ids}

    async def mark_unreachable(self, channel: ChannelName, external_id: str, now: datetime,
                               reason: str | None = None) -> None:
        row = self._t.accounts.find("address", (channel, external_id))
        if row is not None and row.unreachable_since is None:
            self._t.accounts.put(row.id, replace(row, unreachable_since=utc(now),
                                                 unreachable_reason=(reason or "")[:64] or None))

    async def add_consent(self, person_id: int, text_version: str, channel: ChannelName, now: datetime) -> None:
        self._t.persons.one(person_id)
        row = ConsentRow(self._t.consents.next_id(), person_id, text_version, channel, utc(now))
        self._t.consents.put(row.id, row)

    async def consents_of(self, person_id: int) -> list[Consent]:
        rows = sorted(self._t.consents.where(lambda c: c.person_id == person_id and c.kind == "personal_data"),
                      key=lambda c: c.id)
        return [Consent(c.person_id, c.text_version, c.channel, c.accepted_at) for c in rows]

    async def record_advertising(self, person_id: int, channel: ChannelName, given: bool, source: str,
                                 now: datetime) -> None:
        self._t.persons.one(person_id)
        row = ConsentRow(self._t.consents.next_id(), person_id, "advertising", channel, utc(now), "advertising",
                         given, source[:32])
        self._t.consents.put(row.id, row)

    async def advertising_of(self, person_ids: list[int]) -> dict[int, dict[ChannelName, AdvertisingConsent]]:
        found: dict[int, dict[ChannelName, AdvertisingConsent]] = {person_id: {} for person_id in person_ids}
        wanted = set(person_ids)
        rows = self._t.consents.where(lambda c: c.kind == "advertising" and c.person_id in wanted)
        for c in sorted(rows, key=lambda c: c.id):  # a later word replaces an earlier one
            found[c.person_id][c.channel] = AdvertisingConsent(c.person_id, c.channel, c.given, c.source,
                                                               c.accepted_at)
        return found

    async def absorb(self, survivor_id: int, absorbed_id: int) -> None:
        survivor, absorbed = self._t.persons.one(survivor_id), self._t.persons.one(absorbed_id)
        filled = {name: getattr(absorbed, name) for name in FILLED_FROM_ABSORBED if getattr(survivor, name) is None}
        if survivor.phone is None and absorbed.phone is not None:
            filled.update(phone=absorbed.phone, phone_verified=absorbed.phone_verified)
        if survivor.email is None and absorbed.email is not None:
            filled.update(email=absorbed.email, email_verified=absorbed.email_verified)
        for person in self._t.persons.where(lambda p: p.merged_into_id == absorbed_id):
            self._t.persons.put(person.id, replace(person, merged_into_id=survivor_id))
        # the absorbed one gives up its phone before the survivor takes it (the phone is unique)
        self._t.persons.put(absorbed_id, replace(self._t.persons.one(absorbed_id), phone=None,
                                                 merged_into_id=survivor_id))
        self._t.persons.put(survivor_id, replace(self._t.persons.one(survivor_id), **filled))

    async def record_merge(self, survivor_id: int, absorbed_id: int, reason: str, moved: Moved,
                           now: datetime, details: MergeDetails | None = None) -> Merge:
        self._t.persons.one(survivor_id)
        self._t.persons.one(absorbed_id)
        kept = MergeDetails.from_plain(json_copy(details.plain())) if details else None  # as a JSON column keeps it
        merge = Merge(self._t.merges.next_id(), survivor_id, absorbed_id, reason, json_copy(moved), utc(now), kept)
        self._t.merges.put(merge.id, merge)
        return _copy_merge(merge)

    async def merges(self, person_id: int | None = None) -> list[Merge]:
        rows = self._t.merges.where(lambda m: person_id is None or person_id in (m.survivor_id, m.absorbed_id))
        return [_copy_merge(m) for m in sorted(rows, key=lambda m: (m.merged_at, m.id))]

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved:
        self._t.persons.one(survivor_id)
        return reassign_rows([self._t.accounts, self._t.consents], absorbed_id, survivor_id)

    async def restore(self, moved: Moved, person_id: int) -> int:
        self._t.persons.one(person_id)
        return restore_rows([self._t.accounts, self._t.consents], moved, person_id)


def _copy_merge(merge: Merge) -> Merge:
    return replace(merge, moved=json_copy(merge.moved))
