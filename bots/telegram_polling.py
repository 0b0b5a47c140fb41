"""Telegram long polling that acknowledges an update only once it is stored, and that one bad update cannot stop.

aiogram's own loop parses a whole ``getUpdates`` batch at once (one update it cannot parse
fails the batch forever) and moves the offset on as soon as updates are started. Here the
batch comes back as plain dicts, goes to ``store`` (the durable intake), and only then does
the next ``getUpdates`` carry the offset that tells Telegram they arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.methods.base import TelegramMethod

from bots.webhooks import is_id

log = logging.getLogger(__name__)

MAX_DELAY = 60.0
Store = Callable[[list[dict[str, Any]]], Awaitable[object]]


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """``getUpdates``, answered as plain dicts so each update can be checked separately."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class UpdatePoller:
    def __init__(self, bot: Bot, store: Store, allowed_updates: list[str], timeout: int = 25) -> None:
        self.bot = bot
        self.store = store
        self.allowed_updates = allowed_updates
        self.timeout = timeout

    async def run(self) -> None:
        request = GetRawUpdates(timeout=self.timeout, allowed_updates=self.allowed_updates)
        request_timeout = int(self.bot.session.timeout + self.timeout)
        delay = 1.0
        while True:
            try:
                batch = await self.bot(request, request_timeout=request_timeout)
                updates = [raw for raw in batch if isinstance(raw, dict) and is_id(raw.get("update_id"))]
                if len(updates) < len(batch):
                    log.warning("telegram: %d updates without an update_id were dropped", len(batch) - len(updates))
                if updates:
                    await self.store(updates)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the server or the database is away: nothing is acknowledged, ask again
                log.warning("telegram: polling failed (%s); again in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            delay = 1.0
            if updates:
                request.offset = max(raw["update_id"] for raw in updates) + 1


def chat_of(raw: dict[str, Any]) -> int | None:
    """The private chat an update came from, found without parsing it (it may not parse)."""
    for value in raw.values():
        if not isinstance(value, dict):
            continue
        for holder in (value, value.get("message")):
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and is_id(chat.get("id")) and chat.get("type", "private") == "private":
                return int(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and is_id(sender.get("id")):
            return int(sender["id"])
    return None
