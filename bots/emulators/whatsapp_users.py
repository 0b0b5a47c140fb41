"""The people's side of the local WhatsApp Cloud API: scripted users, the webhook that tells the business what they
did (signed with the app secret, as Meta signs it), and the 24-hour window each person's last message opens.

A user is a number (79001234567: their ``wa_id``) with a business-scoped user id (``bsuid_of``) that every update
carries; one who took a username (``hide_number``) is named by the BSUID alone. What they can do: write, press a
reply button or a list row of a message they were sent, answer a template's quick reply, send a photo or a
document, share their own number from a "request contact info" message (or someone else's card), react, send a
sticker. ``age`` moves their last message back in time, closing their window without waiting a day.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bots.emulators.server import Outbox, WebhookPusher

PHONE_ID, WABA_ID, APP_ID = "106540352242922", "102290129340398", "7350001234567"
DISPLAY_NUMBER = "15550100000"
WINDOW = 24 * 3600.0
BATCH = 20  # updates per webhook body at most [I: Meta batches, to no documented limit]


@dataclass
class WaMessage:
    """What the business sent one person, as they see it."""

    id: str
    user: int
    kind: str  # text, interactive, image, template
    text: str
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)  # {"label", "payload" | "url" | "contact"}
    list_reply: bool = False  # its choices are a list's rows (answered as list_reply), not reply buttons
    image: bytes | None = None
    template: str = ""
    params: list[str] = field(default_factory=list)
    tracker: str = ""

    def label_of(self, payload: str) -> str | None:
        return next((b["label"] for row in self.buttons for b in row if b.get("payload") == payload), None)


class SignedPusher(WebhookPusher):
    """Meta's webhook: each body signed ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body, the app secret>``."""

    def __init__(self, url: str, secret: str, **retry: float) -> None:
        super().__init__(url, lambda status, _: status == 200, **retry)
        self.secret = secret.encode()

    async def _post_until_accepted(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        body = json.dumps(update, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json",
                   "X-Hub-Signature-256": "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()}
        pause = self.first_retry
        while True:
            self.posts += 1
            try:
                async with session.post(self.url, data=body, headers=headers) as response:
                    if self.accepted(response.status, await response.text()):
                        return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            self.refusals += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_retry)


class WhatsAppPeople:
    def __init__(self, phone_id: str, app_secret: str) -> None:
        self.phone_id, self.app_secret = phone_id, app_secret
        self.salt = secrets.token_hex(5).upper()  # message ids of this run never meet another run's
        self.message_numbers = itertools.count(1)
        self.outbox: Outbox[WaMessage] = Outbox()
        self.names: dict[int, str] = {}
        self.hidden: set[int] = set()
        self.blocked: set[int] = set()
        self.last_inbound: dict[int, float] = {}  # time.time() of each person's last message: their window
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, mime type)
        self.media_numbers = itertools.count(int(time.time() * 1000) % 10**12)
        self.events: list[dict[str, Any]] = []  # change values, oldest first
        self.delivered = 0  # how many of them the webhook took
        self.arrived = asyncio.Condition()
        self.pusher: SignedPusher | None = None
        self.callback_url: str | None = None
        self._in_flight = 0

    # who people are ------------------------------------------------------------------------

    @staticmethod
    def bsuid_of(user: int) -> str:
        """A BSUID: country, dot, digits; stable for the number, so a restarted sandbox keeps its people."""
        digest = int.from_bytes(hashlib.sha256(f"portfolio:{user}".encode()).digest()[:8], "big")
        return f"{'RU' if str(user).startswith('7') else 'US'}.{10**18 + digest % 10**18}"

    def user_of(self, recipient: str) -> int | None:
        """The person a ``to`` (their number) or a ``recipient`` (their BSUID) names, if they ever wrote."""
        if recipient.isdigit():
            return int(recipient) if int(recipient) in self.last_inbound and int(recipient) not in self.hidden \
                else None
        return next((user for user in self.last_inbound if self.bsuid_of(user) == recipient), None)

    def _contact(self, user: int) -> dict[str, Any]:
        contact = {"profile": {"name": self.names.get(user, f"User{user}")}, "user_id": self.bsuid_of(user)}
        return contact if user in self.hidden else {**contact, "wa_id": str(user)}

    def new_message_id(self) -> str:
        return f"wamid.HBgL{self.salt}{next(self.message_numbers):012d}FQIAERgS"

    # the webhook -----------------------------------------------------------------------------

    async def push(self, value: dict[str, Any]) -> None:
        async with self.arrived:
            self.events.append(value)
            self.arrived.notify_all()

    def subscribe(self, url: str) -> None:
        """Every update from the first undelivered one goes to ``url`` from now on (one callback per app)."""
        if self.pusher is not None and self.callback_url == url:
            return
        if self.pusher is not None:
            asyncio.get_running_loop().create_task(self.pusher.stop())
        self.callback_url, self.pusher = url, SignedPusher(url, self.app_secret)
        self.pusher.start(self._next_body, self._taken)

    async def _next_body(self) -> dict[str, Any]:
        async with self.arrived:
            await self.arrived.wait_for(lambda: len(self.events) > self.delivered)
        batch = self.events[self.delivered:self.delivered + BATCH]
        self._in_flight = len(batch)
        metadata = {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": self.phone_id}
        return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [
            {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}
            for value in batch]}]}

    def _taken(self, _: dict[str, Any]) -> None:
        self.delivered += self._in_flight

    async def stop_webhook(self) -> None:
        if self.pusher is not None:
            await self.pusher.stop()

    async def report(self, sent: WaMessage, status: str, error: tuple[int, str] | None = None) -> None:
        """A status webhook about a message the business sent: delivered, or failed with WhatsApp's error."""
        report: dict[str, Any] = {"id": sent.id, "status": status, "timestamp": str(int(time.time())),
                                  "recipient_user_id": self.bsuid_of(sent.user)}
        if sent.user not in self.hidden:
            report["recipient_id"] = str(sent.user)
        if sent.tracker:
            report["biz_opaque_callback_data"] = sent.tracker
        if error is not None:
            report["errors"] = [{"code": error[0], "title": error[1], "message": error[1],
                                 "error_data": {"details": error[1]}}]
        await self.push({"statuses": [report]})

    # what people do --------------------------------------------------------------------------

    async def _incoming(self, user: int, kind: str, content: Any, **extra: Any) -> str:
        self.last_inbound[user] = time.time()
        message = {"from_user_id": self.bsuid_of(user), "id": self.new_message_id(),
                   "timestamp": str(int(time.time())), "type": kind, kind: content, **extra}
        if user not in self.hidden:
            message["from"] = str(user)
        await self.push({"contacts": [self._contact(user)], "messages": [message]})
        return str(message["id"])

    async def user_text(self, user: int, text: str) -> str:
        return await self._incoming(user, "text", {"body": text})

    async def user_press(self, user: int, payload: str, message_id: str | None = None) -> str:
        """Press the reply button or list row ``payload`` of message ``message_id`` (default: the latest with it)."""
        source = next((m for m in reversed(self.outbox.to(user))
                       if message_id in (None, m.id) and m.label_of(payload) is not None), None)
        if source is None:
            raise LookupError(f"no message to user {user} has a choice {payload!r}")
        kind = "list_reply" if source.list_reply else "button_reply"
        return await self._incoming(user, "interactive", {"type": kind, kind: {"id": payload,
                                                                               "title": source.label_of(payload)}},
                                    context={"from": DISPLAY_NUMBER, "id": source.id})

    async def user_quick_reply(self, user: int, text: str) -> str:
        """Tap a quick-reply button of a template message: its text comes back (no payload was set)."""
        return await self._incoming(user, "button", {"text": text, "payload": text})

    def _store(self, data: bytes, mime: str) -> str:
        media_id = str(next(self.media_numbers))
        self.media[media_id] = (data, mime)
        return media_id

    async def user_photo(self, user: int, data: bytes, mime: str = "image/jpeg") -> str:
        image = {"id": self._store(data, mime), "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest()}
        return await self._incoming(user, "image", image)

    async def user_document(self, user: int, data: bytes, mime: str, filename: str) -> str:
        document = {"id": self._store(data, mime), "mime_type": mime, "filename": filename,
                    "sha256": hashlib.sha256(data).hexdigest()}
        return await self._incoming(user, "document", document)

    async def user_share_contact(self, user: int, phone: str | None = None) -> str:
        """Their own number from a "request contact info" message (``phone`` None or theirs), else someone's card."""
        digits = "".join(c for c in phone or str(user) if c.isdigit())
        own = digits == str(user)
        card: dict[str, Any] = {"name": {"formatted_name": self.names.get(user, f"User{user}") if own else "Иван"},
                                "phones": [{"phone": f"+{digits}", "wa_id": digits, "type": "CELL"}],
                                "origin": "contact_request" if own else "other"}  # [I] as Meta's BSUID docs show it
        return await self._incoming(user, "contacts", [card])

    async def user_sticker(self, user: int) -> str:
        return await self._incoming(user, "sticker", {"id": self._store(b"RIFF", "image/webp"),
                                                      "mime_type": "image/webp", "animated": False})

    async def user_reaction(self, user: int, message_id: str, emoji: str = "👍") -> str:
        return await self._incoming(user, "reaction", {"message_id": message_id, "emoji": emoji})

    def hide_number(self, user: int) -> None:
        """The person took a username: their number is left out of updates and cannot be written to."""
        self.hidden.add(user)

    def block(self, user: int) -> None:
        """The person blocked the business (or left WhatsApp): messages to them are undeliverable (131026)."""
        self.blocked.add(user)

    def age(self, user: int, hours: float) -> None:
        """Move the person's last message ``hours`` back: past 24, only templates reach them."""
        self.last_inbound[user] -= hours * 3600

    def in_window(self, user: int) -> bool:
        return time.time() - self.last_inbound.get(user, float("-inf")) < WINDOW

    def messages_to(self, user: int) -> list[WaMessage]:
        return self.outbox.to(user)

    async def wait_for_messages(self, user: int, count: int, timeout: float = 10.0) -> list[WaMessage]:
        return await self.outbox.wait(user, count, timeout)
