"""A stored MAX update read into the core's event, for ``bots.max``.

Updates are read as the plain dicts MAX sent, not through maxapi's models: those are strict
unions (a new attachment type fails the whole message), and one unexpected field must not lose
a message. Every field is a stranger's: ids must be ids, texts are capped, a photo is fetched only
from MAX's own hosts (redirects included) and never past ``MAX_PHOTO_BYTES``, and a shape we do
not know is still answered when we know whom to answer.

``message_created`` -> text, command, photo or contact; ``message_callback`` -> the button's
payload, the press answered at once (``POST /answers``); ``bot_started`` (the Start button, or a
``max.ru/<bot>?start=<payload>`` link) -> ``/start <payload>``; ``bot_stopped`` and
``dialog_removed`` -> nothing: no other channel marks a person on such news either, and the next
send to them says ``403 chat.denied``, which does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from maxapi.utils.vcf import parse_vcf_info

from bots.max_updates import user_of
from bots.max_wire import NETWORK, PAYLOAD_LIMIT
from bots.webhooks import is_id
from core.channels import ChannelName
from core.events import EventKind, InboundEvent, SharedContact
from core.ports import InboxEntry

log = logging.getLogger("bots.max")

MAX = ChannelName("max")
MAX_PHOTO_BYTES = 20 * 1024 * 1024  # as the other channels take (MAX itself allows 50 MB pictures)
# i.oneme.ru serves MAX's pictures (maxapi's own download code names it); the rest are MAX's and VK's CDNs [I]
PHOTO_HOSTS = ("oneme.ru", "max.ru", "okcdn.ru", "mycdn.me")
REDIRECTS = 3
TEXT_LIMIT = 4096  # MAX sends at most 4000 characters; more is not MAX's
START_LIMIT = 128  # a deep link's payload, as maxapi's deep_linking allows
PHONE = re.compile(r"\+?\d{7,15}")

Answer = Callable[[str, int], Awaitable[None]]  # (callback_id, user) -> the press answered


def text_of(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def person_of(raw: dict[str, Any]) -> dict[str, Any]:
    """Whoever the update is from: the message's sender, the presser, or the user who started the bot."""
    return (_dict(_dict(raw.get("message")).get("sender")) if raw.get("update_type") == "message_created" else
            _dict(_dict(raw.get("callback")).get("user")) or _dict(raw.get("user")))


def name_of(raw: dict[str, Any]) -> str:
    person = person_of(raw)
    parts = [p for p in (person.get("first_name"), person.get("last_name")) if isinstance(p, str)]
    return " ".join(" ".join(parts).split())[:128]


def contact_of(payload: dict[str, Any], user: int) -> SharedContact | None:
    """The number on a shared contact card; the sender's own only when MAX says the card is theirs
    (``max_info``, as a ``request_contact`` button shares it) [I]: a card of someone else's never proves it."""
    vcf = payload.get("vcf_info")
    found = parse_vcf_info(vcf).phone if isinstance(vcf, str) and len(vcf) <= 4096 else None
    phone = re.sub(r"[\s()-]", "", found or "")
    if not PHONE.fullmatch(phone):
        return None
    owner = _dict(payload.get("max_info")).get("user_id")
    return SharedContact(phone, is_id(owner) and owner == user)


class UpdateReader:
    def __init__(self, answer: Answer, api_base: str) -> None:
        self.answer = answer
        self.api = urlsplit(api_base)  # pictures served where the API is are MAX's too (and the emulator's)
        self._files: aiohttp.ClientSession | None = None

    @property
    def files(self) -> aiohttp.ClientSession:
        """A session of its own for pictures: no ``Authorization`` header on it, so the token goes to no CDN."""
        if self._files is None or self._files.closed:
            self._files = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._files

    async def close(self) -> None:
        if self._files is not None:
            await self._files.close()

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        raw = entry.raw
        user = user_of(raw)
        if user is None:  # a group chat, a channel, a bot, or no user id at all: nobody to answer one to one
            return None
        locale = text_of(raw.get("user_locale"), 16)
        who: dict[str, Any] = {"update_id": entry.update_id, "display_name": name_of(raw), "locale_hint": locale}
        try:
            return await self._event(raw, user, who)
        except Exception:  # a field of an unexpected shape: still answered, since we know whom to answer
            log.warning("max: update %s could not be read: %.300r", entry.update_id, raw, exc_info=True)
            return InboundEvent(MAX, str(user), EventKind.UNSUPPORTED, **who)

    async def _event(self, raw: dict[str, Any], user: int, who: dict[str, Any]) -> InboundEvent | None:
        account, kind = str(user), raw.get("update_type")
        unsupported = InboundEvent(MAX, account, EventKind.UNSUPPORTED, **who)
        if kind == "message_callback":
            callback = _dict(raw.get("callback"))
            if callback_id := text_of(callback.get("callback_id"), 256):
                await self.answer(callback_id, user)
            payload = text_of(callback.get("payload"), PAYLOAD_LIMIT)
            return InboundEvent.button(MAX, account, payload, **who) if payload else unsupported
        if kind == "bot_started":
            payload = raw.get("payload")
            start = " ".join(payload.split())[:START_LIMIT] if isinstance(payload, str) else ""
            return InboundEvent.from_text(MAX, account, f"/start {start}".strip(), **who)
        if kind != "message_created":
            log.info("max: %s from user %s", kind, user)  # bot_stopped, dialog_removed: see the docstring
            return None
        body = _dict(_dict(raw.get("message")).get("body"))
        found = body.get("attachments")
        attachments = [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []
        kinds = [a.get("type") for a in attachments]
        if "image" in kinds:
            caption = text_of(body.get("text"), TEXT_LIMIT)  # kept with the photo (a ticket's words)
            return await self._photo(account, _dict(attachments[kinds.index("image")].get("payload")),
                                     {**who, "text": caption} if caption else who)
        if "contact" in kinds and (contact := contact_of(_dict(attachments[kinds.index("contact")].get("payload")),
                                                          user)):
            return InboundEvent(MAX, account, EventKind.CONTACT, contact=contact, **who)
        text = body.get("text")
        if isinstance(text, str) and text.strip():
            return InboundEvent.from_text(MAX, account, text[:TEXT_LIMIT], **who)
        return unsupported

    # pictures ------------------------------------------------------------------------------

    def _is_maxs(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and (parts.scheme, parts.netloc) == (self.api.scheme, self.api.netloc):
            return True
        host = parts.hostname or ""
        return parts.scheme == "https" and any(host == h or host.endswith(f".{h}") for h in PHOTO_HOSTS)

    async def _photo(self, account: str, payload: dict[str, Any], who: dict[str, Any]) -> InboundEvent:
        data, error = await self._fetch(text_of(payload.get("url"), 2048) or "")
        return InboundEvent(MAX, account, EventKind.PHOTO, photo=data, attachment_error=error, **who)

    async def _fetch(self, url: str) -> tuple[bytes | None, str | None]:
        """The picture, or why not: redirects are followed by hand, each hop only to MAX's hosts."""
        try:
            for _ in range(REDIRECTS + 1):
                if not self._is_maxs(url):
                    log.warning("max: a photo at %r is not MAX's; not fetched", urlsplit(url).hostname)
                    return None, "download_failed"
                async with self.files.get(url, allow_redirects=False) as answer:
                    if answer.status in (301, 302, 303, 307, 308) and "Location" in answer.headers:
                        url = urljoin(url, answer.headers["Location"])
                        continue
                    if answer.status != 200:
                        log.warning("max: photo download answered %s", answer.status)
                        return None, "download_failed"
                    if (answer.content_length or 0) > MAX_PHOTO_BYTES:
                        return None, "too_large"
                    data = bytearray()
                    async for chunk in answer.content.iter_chunked(64 * 1024):
                        data += chunk
                        if len(data) > MAX_PHOTO_BYTES:
                            return None, "too_large"
                    return bytes(data), None
        except NETWORK as e:
            log.warning("max: photo download failed: %r", e)
        return None, "download_failed"
