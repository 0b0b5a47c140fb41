"""MAX updates before they are parsed: long polling that acknowledges only what is stored, and an update's key.

``GET /updates?marker=M`` tells MAX that every update up to ``M`` arrived. The marker a batch
ends at is committed with the batch (the intake's cursor), and only the next poll carries it:
after a crash polling resumes where the stored updates end, and a batch that could not be
stored is handed out again. maxapi's ``get_updates`` returns the answer as a plain dict, so
each update is checked on its own here and one MAX sends in a shape we do not know cannot
stop polling (maxapi's own loop drops such updates; we keep them for ``read`` to answer).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from maxapi import Bot

from bots.webhooks import is_id
from core.intake import Intake
from core.ports import NewUpdate

log = logging.getLogger(__name__)

# what the channel reads; MAX sends no other type when asked for these
UPDATE_TYPES = ["message_created", "message_callback", "bot_started", "bot_stopped", "dialog_removed"]
WAIT = 25  # seconds a long poll waits for updates (MAX allows up to 90; 30 s is its request timeout)
# every poll counts against the token's 30 requests/s [I: MAX says "30 rps", all requests]: polls start 0.55 s apart
# at least, so no second holds more than two of them (28 are left for sends), and an update waits 0.55 s at most
POLL_GAP = 0.55
MAX_DELAY = 60.0
KEY_LIMIT = 64  # what the intake keeps of a key: a longer one is kept as its digest, never cut (two would meet)


def is_update(raw: object) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("update_type"), str) and is_id(raw.get("timestamp"))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def user_of(raw: dict[str, Any]) -> int | None:
    """The person an update comes from, in a dialog with the bot, found without parsing it (it may not parse);
    None for group chats and channels: the bot talks to people one to one."""
    message = _dict(raw.get("message"))
    recipient = _dict(message.get("recipient"))
    if recipient and recipient.get("chat_type", "dialog") != "dialog":
        return None
    kind = raw.get("update_type")
    if kind == "message_created":
        sender = _dict(message.get("sender"))
        user = None if sender.get("is_bot") else sender.get("user_id")
    elif kind == "message_callback":
        user = _dict(_dict(raw.get("callback")).get("user")).get("user_id")
    else:
        user = _dict(raw.get("user")).get("user_id")
    return int(user) if is_id(user) and user > 0 else None  # type: ignore[operator]


def key_of(raw: dict[str, Any]) -> str:
    """The redelivery key: the message's ``mid``, the press's ``callback_id``, else a digest of the update (MAX
    sends a redelivery as it sent the update the first time [I])."""
    body = _dict(_dict(raw.get("message")).get("body"))
    kind = str(raw["update_type"])
    callback = _dict(raw.get("callback")).get("callback_id")
    if kind == "message_created" and isinstance(body.get("mid"), str) and body["mid"]:
        key = body["mid"]
    elif kind == "message_callback" and isinstance(callback, str) and callback:
        key = f"callback:{callback}"
    else:
        text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
        return f"{kind[:20]}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"
    return key if len(key) <= KEY_LIMIT else f"sha256:{hashlib.sha256(key.encode()).hexdigest()[:56]}"


def stored(raw: dict[str, Any]) -> NewUpdate:
    user = user_of(raw)
    return NewUpdate(key_of(raw), str(user) if user is not None else None, raw)


class UpdatePoller:
    """``pace`` waits for the token's turn (``bots.max_wire.Pace``): a poll is a request like any other."""

    def __init__(self, api: Bot, intake: Intake, bot: str, pace: Callable[[], Awaitable[None]]) -> None:
        self.api, self.intake, self.bot, self.pace = api, intake, bot, pace

    async def run(self) -> None:
        cursor = await self.intake.cursor(self.bot)
        marker = int(cursor) if cursor and cursor.isdigit() else None
        delay = 1.0
        while True:
            began = time.monotonic()
            try:
                await self.pace()
                async with asyncio.timeout(WAIT + 10):  # a poll MAX never answers is asked again
                    answer = await self.api.get_updates(limit=100, timeout=WAIT, marker=marker,
                                                        types=UPDATE_TYPES)  # type: ignore[arg-type]
                found = answer.get("updates")
                batch = found if isinstance(found, list) else []
                updates = [raw for raw in batch if is_update(raw)]
                if len(updates) < len(batch):
                    log.warning("max: %d updates without a type or time were dropped", len(batch) - len(updates))
                following = answer.get("marker")
                following = following if is_id(following) else None
                if updates or (following is not None and following != marker):
                    await self.intake.receive(self.bot, [stored(raw) for raw in updates],
                                              cursor=None if following is None else str(following))
                marker = following if following is not None else marker
            except asyncio.CancelledError:
                raise
            except Exception as e:  # MAX or the database is away: nothing is acknowledged, ask again
                log.warning("max: polling failed (%s); again in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            delay = 1.0
            await asyncio.sleep(max(0.0, POLL_GAP - (time.monotonic() - began)))
