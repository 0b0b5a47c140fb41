"""What the core knows about a channel: its name and its profile (how to write for it, what it can show).

Channels themselves live in ``bots/``; each declares a ``ChannelProfile`` so the core renders
templates and picks routes without naming any channel. E-mail and SMS are also identities
(an address, a phone number), so their names are known here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

from core.limits import Rate

ChannelName = NewType("ChannelName", str)

EMAIL = ChannelName("email")
SMS = ChannelName("sms")


class TextFormat(StrEnum):
    HTML = "html"  # the Telegram HTML subset: <b> <i> <code> <a href>
    PLAIN = "plain"  # plain text, links spelled out
    EMAIL = "email"  # subject, HTML body and a plain-text alternative
    SMS = "sms"  # one short line, no buttons


@dataclass(frozen=True)
class ChannelProfile:
    """How to write for a channel and what it can show; limits are the channel's own."""

    name: ChannelName
    title: str  # as people call it: "Telegram", "VK", "E-mail"
    text_format: TextFormat
    max_text: int  # characters of one message
    max_label: int = 64  # characters of one button label
    buttons: bool = True
    contact_button: bool = False  # a button that shares the person's own verified phone
    images: bool = False
    cost_kopecks: int = 0  # what one message costs us: the router prefers free channels
    rate: Rate | None = None  # the channel's own sending limit for this bot, every chat together
    per_chat: Rate | None = None  # and for one chat


class ChannelDirectory(Mapping[ChannelName, ChannelProfile]):
    """The profiles of the channels this platform runs, by name."""

    def __init__(self, profiles: Iterable[ChannelProfile]) -> None:
        self._profiles = {p.name: p for p in profiles}

    def __getitem__(self, name: ChannelName) -> ChannelProfile:
        return self._profiles[name]

    def __iter__(self) -> Iterator[ChannelName]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def title(self, name: str) -> str:
        profile = self._profiles.get(ChannelName(name))
        return profile.title if profile else name
