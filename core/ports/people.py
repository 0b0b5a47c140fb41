"""People, their channel accounts, consents and joined profiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.channels import ChannelName
from core.identity import ChannelAccount, Consent, Merge, MergeDetails, Person
from core.ports.person_owned import Moved


@dataclass(frozen=True)
class AdvertisingConsent:
    """The person's latest word on advertising in one channel (issue 19 §3: its own consent, per channel, apart
    from the personal-data one): given (``/news``) or withdrawn (``/stop``, the button under a broadcast)."""

    person_id: int
    channel: ChannelName
    given: bool
    source: str  # "/news", "/stop", "button", …
    at: datetime


class PeopleRepository(Protocol):
    async def create(self, locale: str, now: datetime) -> Person: ...
    async def get(self, person_id: int) -> Person: ...
    async def save(self, person: Person) -> None:
        """Store every field; ``ConflictError`` when the phone is taken meanwhile."""
        ...
    async def find_by_phone(self, phone: str) -> Person | None: ...

    async def find_by_account(self, channel: ChannelName,
                              external_id: str) -> tuple[ChannelAccount, Person] | None: ...
    async def add_account(self, person_id: int, channel: ChannelName, external_id: str,
                          display_name: str, now: datetime) -> ChannelAccount:
        """``ConflictError`` when the (channel, external id) is taken meanwhile."""
        ...
    async def touch_account(self, account: ChannelAccount) -> None:
        """Store the account's last activity, name, reachability and verification (may be written at commit)."""
        ...
    async def accounts_of(self, person_id: int) -> list[ChannelAccount]: ...
    async def accounts_of_people(self, person_ids: list[int]) -> dict[int, list[ChannelAccount]]:
        """Everyone's accounts at once (the router reads a whole batch of messages' people)."""
        ...
    async def mark_unreachable(self, channel: ChannelName, external_id: str, now: datetime,
                               reason: str | None = None) -> None:
        """From now on the account cannot be reached (``reason``: blocked, bounced, unsubscribed…),
        until the person is heard from there again."""
        ...

    async def add_consent(self, person_id: int, text_version: str, channel: ChannelName, now: datetime) -> None: ...
    async def consents_of(self, person_id: int) -> list[Consent]:
        """The personal-data consents, oldest first (the advertising one is apart: ``advertising_of``)."""
        ...
    async def record_advertising(self, person_id: int, channel: ChannelName, given: bool, source: str,
                                 now: datetime) -> None:
        """Keep the person's word on advertising in that channel; every word is kept, the latest holds."""
        ...
    async def advertising_of(self, person_ids: list[int]) -> dict[int, dict[ChannelName, AdvertisingConsent]]:
        """Each person's latest word per channel (a channel they never said anything about is absent); a person
        with none maps to ``{}``."""
        ...

    async def absorb(self, survivor_id: int, absorbed_id: int) -> None:
        """Fill the survivor's empty fields from the absorbed person and mark the absorbed one merged."""
        ...
    async def record_merge(self, survivor_id: int, absorbed_id: int, reason: str, moved: Moved,
                           now: datetime, details: MergeDetails | None = None) -> Merge:
        """Keep the merge: the rows that moved and both people's details around ``absorb``, for its undo."""
        ...
    async def merges(self, person_id: int | None = None) -> list[Merge]:
        """Merges the person took part in (either side), oldest first; all of them without a person."""
        ...

    # a person's accounts and consents move with them
    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
