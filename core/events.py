"""The core's own message types: what comes in from a channel and what goes out to one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.channels import ChannelName
from core.clean_text import storable

# what a channel read from outside: made storable as the event is built (core.clean_text)
_OUTSIDE_TEXTS = ("account_id", "update_id", "text", "command", "args", "payload", "display_name", "locale_hint")


class EventKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CONTACT = "contact"
    PHOTO = "photo"
    BUTTON = "button"
    UNSUPPORTED = "unsupported"  # a sticker, voice note, location…: something we cannot use
    TIMER = "timer"  # a timer the machine set came due (``payload``: its name); no channel, no account
    HAPPENED = "happened"  # a domain event about the person (``payload``: its kind, "receipt.approved")


@dataclass(frozen=True)
class SharedContact:
    phone: str
    # True only when the channel vouches that the number belongs to the sender
    # (Telegram's own-contact share); typed numbers are never verified.
    is_own: bool


@dataclass(frozen=True)
class InboundEvent:
    """One thing a person sent, in the core's words.

    ``inbox_id`` names the stored update it came from (the durable intake); an event
    without one is deduplicated by ``update_id`` within its channel instead.
    """

    channel: ChannelName
    account_id: str
    kind: EventKind
    update_id: str | None = None
    inbox_id: int | None = None
    text: str = ""
    command: str = ""
    args: str = ""
    payload: str = ""
    contact: SharedContact | None = None
    photo: bytes | None = None
    attachment_error: str | None = None  # too_large, download_failed, not_an_image, corrupt, no_qr, blurry…
    qr_texts: tuple[str, ...] | None = None  # filled from ``photo`` before the event is applied
    display_name: str = ""
    locale_hint: str | None = None
    replayed: bool = False  # kept while the person registered, applied now
    photo_ref: str | None = None  # the photo as kept in ``tx.photos`` (its SHA-256), once stored
    details: Mapping[str, Any] | None = None  # TIMER: the timer's data; HAPPENED: the domain event's data

    def __post_init__(self) -> None:
        for name in _OUTSIDE_TEXTS:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, storable(value))
        if self.contact is not None and isinstance(self.contact.phone, str):
            object.__setattr__(self, "contact", replace(self.contact, phone=storable(self.contact.phone)))
        if self.qr_texts is not None:
            object.__setattr__(self, "qr_texts", tuple(storable(text) for text in self.qr_texts))

    @classmethod
    def from_text(cls, channel: ChannelName, account_id: str, text: str, **extra: Any) -> InboundEvent:
        """A typed message; ``/word args`` (also ``/word@bot``) becomes a command."""
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            head, _, args = stripped.partition(" ")
            command = head.split("@", 1)[0].lower()
            return cls(channel, account_id, EventKind.COMMAND, text=stripped, command=command,
                       args=args.strip(), **extra)
        return cls(channel, account_id, EventKind.TEXT, text=stripped, **extra)

    @classmethod
    def button(cls, channel: ChannelName, account_id: str, payload: str, **extra: Any) -> InboundEvent:
        """A pressed button; a payload that looks like a command acts as that command."""
        if payload.startswith("/"):
            return replace(cls.from_text(channel, account_id, payload, **extra), payload=payload)
        return cls(channel, account_id, EventKind.BUTTON, payload=payload, **extra)

    def describe(self) -> str:
        """A short, log-safe summary (photo bytes are never logged)."""
        match self.kind:
            case EventKind.PHOTO:
                return f"[photo {len(self.photo or b'')} bytes]"
            case EventKind.CONTACT:
                return f"[contact {self.contact.phone if self.contact else ''}]"
            case EventKind.BUTTON:
                return f"[button {self.payload}]"
            case _:
                return self.text


@dataclass(frozen=True)
class OutgoingMessage:
    """One message for one person, still as a template key: each channel renders it itself.

    ``channel``/``account_id`` name the address for a reply; when they are None
    the channel router picks the best reachable account of the person.
    """

    person_id: int
    template: str
    params: dict[str, Any] = field(default_factory=dict)
    locale: str = "ru"
    channel: ChannelName | None = None
    account_id: str | None = None
    bulk: bool = False  # a notice to many people: goes after replies to people who are waiting
    # A message that needs an answer (a winner notice): unanswered for ``ack_window_seconds`` after it
    # was delivered, it is sent again on the person's next channel, until ``deadline``; then staff
    # see it as unreached. A button press or any reply of the person acknowledges it.
    ack_window_seconds: int | None = None
    deadline: datetime | None = None
    broadcast_id: int | None = None  # sent as part of a broadcast (its report counts it)

    @property
    def needs_ack(self) -> bool:
        return self.ack_window_seconds is not None
