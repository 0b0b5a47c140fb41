"""Codes that prove an e-mail address or a phone number: sent there, typed back (or the link followed).

Only a code's hash is stored. Issuing is limited per person and per address, since every SMS
costs money and every code is a message to someone who may not have asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.channels import ChannelName


@dataclass(frozen=True)
class ContactCode:
    id: int
    person_id: int
    channel: ChannelName  # email or sms
    address: str  # the normalised e-mail address or E.164 number
    code_hash: str
    created_at: datetime
    expires_at: datetime
    failures: int = 0
    used_at: datetime | None = None
    origin_channel: ChannelName | None = None  # where the person asked for it (the answer goes there)
    origin_account: str | None = None
    link_hash: str | None = None  # an e-mail's link proves the address as the typed code does


class ContactCodeRepository(Protocol):
    async def issue(self, person_id: int, channel: ChannelName, address: str, code_hash: str, now: datetime,
                    expires_at: datetime, origin: tuple[ChannelName, str] | None = None,
                    link_hash: str | None = None) -> ContactCode:
        """A new code; the person's earlier live codes for this channel end."""
        ...
    async def live(self, person_id: int, channel: ChannelName, now: datetime) -> ContactCode | None:
        """The person's unexpired, unused code for this channel."""
        ...
    async def find(self, link_hash: str, now: datetime) -> ContactCode | None:
        """The live code whose link has this hash (a link followed)."""
        ...
    async def fail(self, code_id: int) -> int:
        """One more wrong guess; how many so far."""
        ...
    async def use(self, code_id: int, now: datetime) -> None: ...
    async def issued_since(self, *, since: datetime, person_id: int | None = None,
                           address: str | None = None) -> int:
        """How many codes were issued since then, to the person or to the address."""
        ...
