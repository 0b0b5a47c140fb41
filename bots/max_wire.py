"""MAX on the wire, for ``bots.max``: our buttons as maxapi's inline keyboard, MAX's refusals as delivery
outcomes, and MAX's own limits kept in this process.

MAX refuses with an HTTP status and ``{"code", "message"}``; maxapi raises ``MaxApiError(code=<status>,
raw=<that body>)`` for it, ``InvalidToken`` for a 401 and ``MaxConnection`` when the connection fails
(``maxapi.connection.base``). The limits are 30 requests a second per token and 2 messages a second per chat,
answers to button presses included: the outbox paces the sends below them, but the answers (sent while an
update is read), the long polls and the upload calls do not go through it, so every request we make also
takes a turn here first and none of them meets MAX's 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator

import aiohttp
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection, MaxUploadFileFailed
from maxapi.types.attachments.buttons import CallbackButton, LinkButton, RequestContactButton
from maxapi.types.attachments.buttons.attachment_button import AttachmentButton
from maxapi.types.attachments.buttons.button import Button as MaxButton
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder

from core.delivery import DeliveryOutcome, DeliveryResult
from core.templates import Rendered

# the keyboard's limits, as MAX documents them: 210 buttons, 30 rows of 7, and 3 in a row holding a link,
# open_app, request_contact or request_geo_location button; a callback's payload is 1-256 characters
MAX_BUTTONS, MAX_ROWS, PER_ROW, PER_ROW_LIMITED = 210, 30, 7, 3
PAYLOAD_LIMIT = 256
THROTTLED_FOR = 1.0  # MAX's 429 names no pause [I]: its window is one second
ANSWERED = 1.01  # a place is free again this long after its request was answered
DEPARTED = 1.05  # or after it left, for a long poll: 50 ms to spare against the network's jitter
NETWORK = (MaxConnection, aiohttp.ClientError, OSError, TimeoutError)


def keyboard(message: Rendered) -> AttachmentButton | None:
    """Every button inline (MAX has no reply keyboard): callbacks, links, and "share my contact" as
    ``request_contact``; a row too long for MAX is split, and what MAX could not show at all is left off."""
    builder, rows, count = InlineKeyboardBuilder(), 0, 0
    for row in message.buttons:
        built: list[MaxButton] = [
            LinkButton(text=b.label, url=b.url) if b.kind == "url" else
            RequestContactButton(text=b.label) if b.kind == "contact" else
            CallbackButton(text=b.label, payload=b.payload[:PAYLOAD_LIMIT]) for b in row]
        limit = PER_ROW_LIMITED if any(b.kind in ("url", "contact") for b in row) else PER_ROW
        for start in range(0, len(built), limit):
            part = built[start:start + limit][:MAX_BUTTONS - count]
            if not part or rows == MAX_ROWS:
                return builder.as_markup()
            builder.row(*part)  # type: ignore[arg-type]
            rows, count = rows + 1, count + len(part)
    return builder.as_markup() if rows else None


def outcome(error: Exception) -> DeliveryResult:
    """What a refusal means to the outbox: try later, try the person's next channel, or give up on this message."""
    if isinstance(error, MaxApiError):
        code = error.raw.get("code") if isinstance(error.raw, dict) else None
        detail = f"{error.code} {code or ''} {_message(error.raw)}".strip()[:300]
        if error.code == 429:
            return DeliveryResult(DeliveryOutcome.RETRY, retry_after=THROTTLED_FOR, detail=detail, throttled=True)
        if error.code in (403, 404):  # chat.denied: blocked or stopped the bot; not.found: no such dialog
            return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail=detail)
        if error.code >= 500 or code == "attachment.not.ready":
            return DeliveryResult(DeliveryOutcome.RETRY, detail=detail)
        return DeliveryResult(DeliveryOutcome.FAILED, detail=detail)
    if isinstance(error, InvalidToken):  # a revoked token: no retry helps until someone changes it
        return DeliveryResult(DeliveryOutcome.FAILED, detail="401 verify.token")
    if isinstance(error, (*NETWORK, MaxUploadFileFailed, RuntimeError)):
        # RuntimeError: maxapi gave up waiting for an uploaded picture to be ready
        return DeliveryResult(DeliveryOutcome.RETRY, detail=repr(error)[:300])
    return DeliveryResult(DeliveryOutcome.FAILED, detail=repr(error)[:300])


def _message(raw: object) -> str:
    message = raw.get("message") if isinstance(raw, dict) else raw
    return str(message or "")[:200]


class Pace:
    """At most ``per_token`` requests in any second, and ``per_chat`` of them to one chat, as MAX counts them
    when they arrive. A request waits until both have room, then takes its place in both at once. A place held
    (``held``) is given up a second after the answer came: MAX got the request before we got its answer, so
    however late it arrived (a cold connection, a busy machine), no second at MAX holds more. A long poll only
    ``turn``s (its answer may take 25 s): its place is given up ``DEPARTED`` after it left."""

    def __init__(self, per_token: int, per_chat: int) -> None:
        self.per_token, self.per_chat = per_token, per_chat
        self._token: list[list[float]] = []  # each place: [the moment it is given up]
        self._chats: dict[int, list[list[float]]] = {}

    async def turn(self, chat: int | None = None) -> None:
        await self._take(chat, DEPARTED)

    @contextlib.asynccontextmanager
    async def held(self, chat: int | None = None) -> AsyncIterator[None]:
        place = await self._take(chat, math.inf)
        try:
            yield
        finally:
            place[0] = time.monotonic() + ANSWERED

    async def _take(self, chat: int | None, lasting: float) -> list[float]:
        while True:
            now = time.monotonic()
            queues = [(self._token, self.per_token)]
            if chat is not None:
                queues.append((self._chats.setdefault(chat, []), self.per_chat))
            wait = 0.0
            for places, count in queues:
                places[:] = [p for p in places if p[0] > now]
                if len(places) >= count:
                    wait = max(wait, sorted(p[0] for p in places)[len(places) - count] - now)
            if wait <= 0:
                place = [now + lasting]
                for places, _ in queues:
                    places.append(place)
                if len(self._chats) > 50_000:  # chats written to once: forget those at rest
                    self._chats = {k: v for k, v in self._chats.items() if any(p[0] > now for p in v)}
                return place
            await asyncio.sleep(min(wait, 0.02))  # infinite: the places are in flight; look again soon
