"""What the core knows about a channel: its name and its profile (how to write for it, what it can show).

Channels themselves live in ``bots/``; each declares a ``ChannelProfile`` so the core renders
templates, offers choices and picks routes without naming any channel: how the channel knows
a person (an account they write from, a phone number, an e-mail address), whether people may
choose it, whether it may write only within a while of the person's last message, what it can
prove, and its limits. The core asks the directory ("the channel that reaches a phone number")
instead of naming one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import NewType

from core.limits import Rate

ChannelName = NewType("ChannelName", str)


class TextFormat(StrEnum):
    HTML = "html"  # the HTML subset of our templates: <b> <i> <code> <a href>
    PLAIN = "plain"  # plain text, links spelled out
    LETTER = "letter"  # subject, HTML body and a plain-text alternative
    BRIEF = "brief"  # one short line, no buttons (a template's ``brief_<lang>`` text where it has one)


class Identity(StrEnum):
    """How a channel knows a person, and so how their account there comes to be."""

    ACCOUNT = "account"  # an account the person writes to us from (a messenger, the site's chat)
    PHONE = "phone"  # a phone number, reached by the number alone
    MAILBOX = "mailbox"  # an e-mail address


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
    identity: Identity = Identity.ACCOUNT
    selectable: bool = True  # offered when a person chooses where important messages go
    session_window: timedelta | None = None  # free-form messages only this long after the person's last one
    window_templates: frozenset[str] = frozenset()  # template keys it may still send after that (approved, paid)
    site_chat: bool = False  # the platform's own web chat: entered by a signed link given in another channel
    # opens a page of our web app inside the messenger (its Mini App: the QR scanner with the messenger's own
    # camera), the person proved by the messenger's signature; a template's ``app`` button shows only here
    mini_app: bool = False

    @property
    def proves_phone(self) -> bool:
        """Whether the channel can vouch for a person's own number (a contact share, or a code sent to it)."""
        return self.contact_button or self.identity is Identity.PHONE

    @property
    def verified_only(self) -> bool:
        """A typed number or address may be someone else's: it is written to only once proved."""
        return self.identity is not Identity.ACCOUNT


class ChannelDirectory(Mapping[ChannelName, ChannelProfile]):
    """The profiles of the channels this platform runs, by name; and of every channel it knows (``known``), so
    that a phone number becomes an account of the phone channel even while that channel is not running."""

    def __init__(self, profiles: Iterable[ChannelProfile], known: Iterable[ChannelProfile] = ()) -> None:
        self._profiles = {p.name: p for p in profiles}
        self.known = {**{p.name: p for p in known}, **self._profiles}

    def __getitem__(self, name: ChannelName) -> ChannelProfile:
        return self._profiles[name]

    def __iter__(self) -> Iterator[ChannelName]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def title(self, name: str) -> str:
        profile = self._profiles.get(ChannelName(name))
        return profile.title if profile else name

    def profile(self, name: str) -> ChannelProfile | None:
        """A known channel's profile, running or not."""
        return self.known.get(ChannelName(name))

    def identity_of(self, name: str) -> Identity:
        profile = self.known.get(ChannelName(name))
        return profile.identity if profile else Identity.ACCOUNT

    def known_with(self, identity: Identity) -> list[ChannelName]:
        """Every known channel that knows people by ``identity``, in the registry's order."""
        return [name for name, p in self.known.items() if p.identity is identity]

    def running_with(self, identity: Identity) -> ChannelName | None:
        """The first running channel that knows people by ``identity`` (where a code to a number or address goes)."""
        return next((name for name, p in self._profiles.items() if p.identity is identity), None)

    def site_chat(self) -> ChannelName | None:
        return next((name for name, p in self._profiles.items() if p.site_chat), None)

    def sharing_contacts(self) -> list[ChannelName]:
        """The running messengers where a person proves their own number by sharing their contact (the way left
        when no code can be texted), in the registry's order."""
        return [name for name, p in self._profiles.items() if p.contact_button and p.identity is Identity.ACCOUNT]

    def choosable(self) -> list[ChannelName]:
        """The running channels a person may choose for important messages, in the registry's order."""
        return [name for name, p in self._profiles.items() if p.selectable]
