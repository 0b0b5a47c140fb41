"""The WhatsApp Cloud API's shapes, for ``bots.whatsapp``: webhook bodies split into updates to store, every id
checked before it is used, and our rendered messages planned as the message kinds WhatsApp has.

A webhook body (the ``messages`` field): ``{"object": "whatsapp_business_account", "entry": [{"id": <WABA>,
"changes": [{"field": "messages", "value": {"metadata": {"phone_number_id"}, "contacts": [{"profile": {"name"},
"wa_id", "user_id"}], "messages": [...], "statuses": [...]}}]}]}``. Since April 2026 every message names its sender
by a business-scoped user id (BSUID: ``from_user_id``, the contact's ``user_id``, "RU.1234…"); the phone number
(``from``, ``wa_id``) is left out for people who took a username. pywa 4.5 reads people the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pywa_async.types import Button, ContactInfoRequestButton, Section, SectionList, SectionRow, URLButton
from pywa_async.types.templates import TemplateLanguage

from core.channels import ChannelName
from core.ports import NewUpdate
from core.templates import Rendered

WHATSAPP = ChannelName("whatsapp")

# ids that reach a URL path or the database are checked first; a BSUID is kept within the accounts column (128)
BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[0-9A-Za-z]{1,120}")
WA_ID = re.compile(r"[1-9][0-9]{5,14}")  # E.164 digits, no "+"
MESSAGE_ID = re.compile(r"wamid\.[A-Za-z0-9_=+/-]{4,250}")  # "wamid.HBgL…=" (base64) [I: no documented alphabet]
MEDIA_ID = re.compile(r"[0-9]{1,32}")
MAX_TEXT, MAX_BODY = 4096, 1024  # a text message; an interactive one's body [I: 1024 as Meta's reference says]
MAX_REPLIES, MAX_ROWS = 3, 10  # reply buttons in one message; rows of one list (all sections together)
MAX_TRACKER = 512  # biz_opaque_callback_data, echoed back in the message's status webhooks
SHARE_CONTACT = "wa:share-contact"  # our own payload: a contact button among others becomes a reply button first
LIST_LABEL = {"ru": "Выбрать", "en": "Choose"}


class ApprovedTemplate(BaseModel):
    """One entry of ``WHATSAPP_TEMPLATES``: the Meta-approved template our template key falls back to."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = "ru"
    params: list[str] = []  # our parameters' names, in the order of the template's {{1}}, {{2}}…

    @field_validator("language")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in {language.value for language in TemplateLanguage}:
            raise ValueError(f"WhatsApp has no templates in {value!r} (ru, en, en_US, kk…)")
        return value


def text_of(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def matching(pattern: re.Pattern[str], value: object) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def key_of(prefix: str, message_id: str) -> str:
    """The intake's key (64 characters at most): a long wamid is kept as its digest."""
    key = f"{prefix}{message_id}"
    return key if len(key) <= 64 else f"{prefix}#{hashlib.sha256(message_id.encode()).hexdigest()[:60 - len(prefix)]}"


# webhook bodies --------------------------------------------------------------------------------


@dataclass
class Batch:
    updates: list[NewUpdate]
    stale: int = 0  # messages older than the replay horizon, not taken


def is_envelope(body: object) -> bool:
    return isinstance(body, dict) and body.get("object") == "whatsapp_business_account" \
        and isinstance(body.get("entry"), list)


def values(body: dict[str, Any], phone_id: str) -> Iterator[dict[str, Any]]:
    """Each change's value meant for our number (an app may serve several); the rest are not ours to read."""
    for entry in body["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict) and metadata.get("phone_number_id") == phone_id:
                yield value


def sender_of(message: dict[str, Any], contacts: list[Any]) -> tuple[str | None, dict[str, Any]]:
    """The account (the BSUID; the phone number only where no BSUID came [I]) and the sender's contact entry."""
    bsuid, wa_id = message.get("from_user_id"), message.get("from")
    found = [c for c in contacts if isinstance(c, dict) and ((bsuid and c.get("user_id") == bsuid)
                                                             or (wa_id and c.get("wa_id") == wa_id))]
    contact = found[0] if found else contacts[0] if len(contacts) == 1 and isinstance(contacts[0], dict) else {}
    account = matching(BSUID, bsuid or contact.get("user_id")) or matching(WA_ID, wa_id or contact.get("wa_id"))
    return account, contact


def stored_message(message: object, contacts: list[Any]) -> NewUpdate | None:
    if not isinstance(message, dict) or (message_id := matching(MESSAGE_ID, message.get("id"))) is None:
        return None
    account, contact = sender_of(message, contacts)
    if account is None:
        return None
    return NewUpdate(key_of("", message_id), account, {"message": message, "contact": contact})


def stored_failure(status: object) -> NewUpdate | None:
    """A "failed" report of a message we sent (outside the window, undeliverable): read back like a message."""
    if not isinstance(status, dict) or status.get("status") != "failed":
        return None
    message_id = matching(MESSAGE_ID, status.get("id"))
    account = matching(BSUID, status.get("recipient_user_id")) or matching(WA_ID, status.get("recipient_id"))
    if message_id is None or account is None:
        return None
    return NewUpdate(key_of("failed:", message_id), account, {"failed": status})


def timestamp_of(item: dict[str, Any]) -> float | None:
    try:
        return float(item["timestamp"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def split(body: dict[str, Any], phone_id: str, oldest: float) -> Batch:
    """Every message of ours, and every failed status; one malformed item costs only itself."""
    batch = Batch([])
    for value in values(body, phone_id):
        contacts = value.get("contacts") if isinstance(value.get("contacts"), list) else []
        messages = value.get("messages") if isinstance(value.get("messages"), list) else []
        statuses = value.get("statuses") if isinstance(value.get("statuses"), list) else []
        for message in messages:
            if isinstance(message, dict) and (timestamp_of(message) or oldest) < oldest:
                batch.stale += 1  # a replay of a body older than WhatsApp's own retries: never taken again
            elif (new := stored_message(message, contacts)) is not None:
                batch.updates.append(new)
        # sent/delivered/read reports are not stored (three per message sent); a failed one is, to be acted on
        batch.updates += [failure for status in statuses if (failure := stored_failure(status)) is not None]
    return batch


# our messages as WhatsApp's -------------------------------------------------------------------


MARKS = {"b": "*", "strong": "*", "i": "_", "em": "_", "s": "~", "code": "```"}


class _Markup(HTMLParser):
    """Our templates' HTML -> WhatsApp's own markup: ``*bold*``, ```` ```code``` ````, links spelled out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open: list[tuple[str, int]] = []
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in MARKS:
            self.open.append((tag, len(self.parts)))
        elif tag == "a":
            self.href = dict(attrs).get("href")
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href:
            self.parts.append(f" ({self.href})")
            self.href = None
        if not self.open or self.open[-1][0] != tag:
            return
        start = self.open.pop()[1]
        inner, mark = "".join(self.parts[start:]), MARKS[tag]
        core = inner.strip()  # WhatsApp takes a mark only right beside the text it marks
        head, tail = inner[:len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()):]
        self.parts[start:] = [f"{head}{mark}{core}{mark}{tail}" if core else inner]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def whatsapp_text(message: Rendered) -> str:
    if not message.is_html:
        return message.text
    parser = _Markup()
    parser.feed(message.text)
    parser.close()
    return "".join(parser.parts)


Action = list[Button] | SectionList | URLButton | ContactInfoRequestButton


@dataclass(frozen=True)
class Part:
    """One message of the Cloud API; most sends are one."""

    text: str
    action: Action | None = None


def chunks(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit``, cut at a paragraph, a line or a space where one is near."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind(sep, limit // 2, limit) for sep in ("\n\n", "\n", " "))
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text]


def _with(text: str, action: Action) -> list[Part]:
    """An interactive message's body is short: a longer text goes first as text messages, its end with the action."""
    pieces = chunks(text, MAX_BODY)
    head = "\n\n".join(pieces[:-1])
    return [*(Part(p) for p in (chunks(head, MAX_TEXT) if head else [])), Part(pieces[-1], action)]


def _list(choices: list[tuple[str, str]], locale: str) -> SectionList:
    label = LIST_LABEL.get(locale, LIST_LABEL["ru"])
    return SectionList(button_title=label, sections=[Section(title=label, rows=[
        SectionRow(title=title, callback_data=payload) for title, payload in choices])])


def plan(message: Rendered) -> list[Part]:
    """Our button rows as WhatsApp's kinds, every button kept: up to three replies as reply buttons, more as
    lists of ten rows, a lone link as its link button (links beside replies are spelled out in the text, as
    plain channels show them), a lone contact button as WhatsApp's "share my number" request."""
    text = whatsapp_text(message)
    flat = [button for row in message.buttons for button in row]
    choices = [(b.label, b.payload) for b in flat if b.kind == "callback"]
    links = [b for b in flat if b.kind == "url"]
    asks = [b for b in flat if b.kind == "contact"]
    if asks and not choices and not links:
        return _with(text, ContactInfoRequestButton())
    choices += [(b.label, SHARE_CONTACT) for b in asks]  # the press is answered with the request (bots.whatsapp)
    if len(links) == 1 and not choices:
        return _with(text, URLButton(title=links[0].label, url=links[0].url))
    if links:
        text = "\n\n".join([text, "\n".join(f"{b.label}: {b.url}" for b in links)])
    if not choices:
        return [Part(piece) for piece in chunks(text, MAX_TEXT)]
    if len(choices) <= MAX_REPLIES:
        return _with(text, [Button(title=title, callback_data=payload) for title, payload in choices])
    lists = [choices[i:i + MAX_ROWS] for i in range(0, len(choices), MAX_ROWS)]
    return [*_with(text, _list(lists[0], message.locale)), *(Part("…", _list(more, message.locale))
                                                            for more in lists[1:])]


def param_text(value: str) -> str:
    """A template parameter as WhatsApp takes one: no line breaks, tabs or runs of spaces [I], never empty."""
    return " ".join(value.split())[:1024] or "—"


def tracker(message_id: int, template: str, values: list[str] | None) -> str:
    """What the message's status reports bring back: whose it is, and what its approved template needs."""
    data: dict[str, Any] = {"m": message_id, "t": template, **({"v": values} if values is not None else {})}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= MAX_TRACKER else json.dumps({"m": message_id, "t": template[:128]})


def tracked(text: object) -> dict[str, Any]:
    try:
        data = json.loads(text) if isinstance(text, str) and len(text) <= MAX_TRACKER else None
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}
