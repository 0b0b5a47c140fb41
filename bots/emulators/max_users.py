"""The people of the MAX emulator, scripted from Python: what they send the bot becomes updates in its feed.

They write, start the bot from a deep link (``max.ru/<bot>?start=<payload>``, a ``bot_started``
with the payload), press ``callback`` buttons (``message_callback``), send photos (an ``image``
attachment whose ``url`` the bot downloads), share their contact from a ``request_contact``
button (a ``contact`` whose ``max_info`` is the sender: MAX vouches for the number), and stop
the bot (``bot_stopped``; every send to them is ``403 chat.denied`` from then on).
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

from bots.emulators.max_updates import UpdateFeed, now_ms
from bots.emulators.server import Outbox

BOT_ID = 8_000_000_001
BOT_NAME = "promo_max_bot"
DIALOG_BASE = 900_000_000_000  # a dialog's chat_id is not its user's id in MAX: a bot that mixes them is caught
START_PAYLOAD_LIMIT = 128


@dataclass
class MaxMessage:
    """What the bot sent one person."""

    mid: str
    seq: int
    user_id: int
    text: str
    format: str | None
    buttons: list[list[dict[str, Any]]]
    image: bytes | None = None
    timestamp: int = field(default_factory=now_ms)


class ScriptedUsers:
    """The user side of ``MaxEmulator``; ``base_url`` is where the emulator serves the photos users send."""

    base_url: str

    def __init__(self) -> None:
        self.feed = UpdateFeed()
        self.outbox: Outbox[MaxMessage] = Outbox()
        self.users: dict[int, dict[str, Any]] = {}
        self.locales: dict[int, str] = {}
        self.files: dict[str, bytes] = {}
        self.callbacks: dict[str, int] = {}  # callback_id -> the user who pressed
        self.blocked: set[int] = set()
        self.stopped: set[int] = set()
        self.throttled: dict[int, int] = {}  # user -> how many more sends get a scripted 429
        self.ids = itertools.count(now_ms() * 1000)  # seq and ids never restart, as MAX's

    def bot_message(self, sent: MaxMessage) -> dict[str, Any]:
        attachments = [{"type": "inline_keyboard", "payload": {"buttons": sent.buttons}}] if sent.buttons else []
        return {"sender": self._bot_user(), "timestamp": sent.timestamp,
                "recipient": {"chat_id": DIALOG_BASE + sent.user_id, "chat_type": "dialog", "user_id": sent.user_id},
                "body": {"mid": sent.mid, "seq": sent.seq, "text": sent.text, "attachments": attachments}}

    def _bot_user(self) -> dict[str, Any]:
        return {"user_id": BOT_ID, "first_name": "Promo", "username": BOT_NAME, "is_bot": True,
                "last_activity_time": now_ms()}

    def _user(self, user_id: int) -> dict[str, Any]:
        return self.users.setdefault(user_id, {"user_id": user_id, "first_name": f"User{user_id}",
                                               "last_name": None, "is_bot": False, "last_activity_time": now_ms()})

    def set_user(self, user_id: int, first_name: str, last_name: str | None = None, locale: str = "ru") -> None:
        self._user(user_id).update(first_name=first_name, last_name=last_name)
        self.locales[user_id] = locale

    def deep_link(self, payload: str) -> str:
        return f"https://max.ru/{BOT_NAME}?start={payload}"

    async def _push(self, user_id: int, kind: str, **content: Any) -> dict[str, Any]:
        update = {"update_type": kind, "timestamp": now_ms(), **content}
        if kind not in ("bot_stopped", "dialog_removed"):
            update["user_locale"] = self.locales.get(user_id, "ru")
        await self.feed.push(update)
        return update

    async def _user_message(self, user_id: int, text: str | None = None,
                            attachments: list[dict[str, Any]] | None = None) -> str:
        self.stopped.discard(user_id)  # writing to the bot again opens the dialog again
        mid = f"mid.{secrets.token_hex(12)}"
        message = {"sender": self._user(user_id), "timestamp": now_ms(),
                   "recipient": {"chat_id": DIALOG_BASE + user_id, "chat_type": "dialog", "user_id": BOT_ID},
                   "body": {"mid": mid, "seq": next(self.ids), "text": text, "attachments": attachments}}
        await self._push(user_id, "message_created", message=message)
        return mid

    async def user_text(self, user_id: int, text: str) -> str:
        return await self._user_message(user_id, text)

    async def user_start(self, user_id: int, payload: str | None = None) -> dict[str, Any]:
        """The user opens ``max.ru/<bot>?start=<payload>`` (or just presses Start) and the bot is started."""
        if payload is not None and len(payload) > START_PAYLOAD_LIMIT:
            raise ValueError(f"MAX makes no deep link with a payload over {START_PAYLOAD_LIMIT} characters")
        self.stopped.discard(user_id)
        return await self._push(user_id, "bot_started", chat_id=DIALOG_BASE + user_id, user=self._user(user_id),
                                payload=payload)

    async def user_press(self, user_id: int, payload: str, message_id: str | None = None) -> str:
        """A ``callback`` button pressed on ``message_id`` (default: the newest message that shows ``payload``)."""
        source = next((m for m in reversed(self.outbox.to(user_id)) if message_id in (None, m.mid)
                       and any(b.get("payload") == payload for row in m.buttons for b in row)), None)
        if source is None:  # a MAX client presses only buttons it shows; a forged press is pushed to the feed
            raise LookupError(f"no message to user {user_id} has a button with payload {payload!r}")
        callback = secrets.token_urlsafe(12)
        self.callbacks[callback] = user_id
        press = {"timestamp": now_ms(), "callback_id": callback, "payload": payload, "user": self._user(user_id)}
        await self._push(user_id, "message_callback", callback=press, message=self.bot_message(source))
        return callback

    async def user_photo(self, user_id: int, data: bytes) -> str:
        name = secrets.token_hex(8)
        self.files[name] = data
        photo = {"photo_id": next(self.ids), "token": secrets.token_urlsafe(16), "url": f"{self.base_url}/files/{name}"}
        return await self._user_message(user_id, None, [{"type": "image", "payload": photo}])

    async def user_contact(self, user_id: int, phone: str, own: bool = True) -> str:
        """A contact: from a ``request_contact`` button (``own``, MAX vouches for it) or a card of someone else's."""
        user = self._user(user_id)
        digits = "".join(ch for ch in phone if ch.isdigit())  # MAX writes the number without "+" [I]
        vcf = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{user['first_name']}\r\nTEL;TYPE=cell:{digits}\r\nEND:VCARD"
        payload = {"vcf_info": vcf, "max_info": user if own else None}
        return await self._user_message(user_id, None, [{"type": "contact", "payload": payload}])

    async def user_sticker(self, user_id: int) -> str:
        sticker = {"type": "sticker", "payload": {"url": f"{self.base_url}/files/sticker", "code": "smile"}}
        return await self._user_message(user_id, None, [sticker])

    async def user_stops_bot(self, user_id: int) -> None:
        """The user stops the bot: ``bot_stopped``, and every send to them is ``403 chat.denied`` from now on."""
        self.stopped.add(user_id)
        await self._push(user_id, "bot_stopped", chat_id=DIALOG_BASE + user_id, user=self._user(user_id))

    def block(self, user_id: int) -> None:
        self._user(user_id)
        self.blocked.add(user_id)

    def throttle(self, user_id: int, sends: int = 1) -> None:
        """The next ``sends`` messages (or answers) to the user get 429 ``too.many.requests``."""
        self.throttled[user_id] = sends

    async def redeliver_last(self) -> None:
        await self.feed.redeliver(self.feed.history[-1])

    def messages_to(self, user_id: int) -> list[MaxMessage]:
        return self.outbox.to(user_id)

    async def wait_for_messages(self, user_id: int, count: int, timeout: float = 10.0) -> list[MaxMessage]:
        return await self.outbox.wait(user_id, count, timeout)
