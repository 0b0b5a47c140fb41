"""Telegram long polling that one malformed update cannot stop.

aiogram's own loop parses a whole ``getUpdates`` batch at once: an update it
cannot parse fails the batch, and the same batch comes back forever. Here each
update is parsed on its own and handed to the aiogram ``Dispatcher``; a broken
one goes to ``on_malformed`` and is confirmed like any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods.base import TelegramMethod
from aiogram.types import Update
from pydantic import ValidationError

log = logging.getLogger(__name__)

MAX_DELAY = 60.0


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """``getUpdates``, answered as plain dicts so each update can be checked separately."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


class UpdatePoller:
    def __init__(self, bot: Bot, dispatcher: Dispatcher,
                 on_malformed: Callable[[dict[str, Any]], Awaitable[None]], timeout: int = 25) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.on_malformed = on_malformed
        self.timeout = timeout
        self._working: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        request = GetRawUpdates(timeout=self.timeout, allowed_updates=self.dispatcher.resolve_used_update_types())
        request_timeout = int(self.bot.session.timeout + self.timeout)
        delay = 1.0
        while True:
            try:
                batch = await self.bot(request, request_timeout=request_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the server is down, restarting, or answered nonsense: ask again later
                log.warning("telegram: getUpdates failed (%s); again in %.0fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                continue
            delay = 1.0
            for raw in batch:
                update_id = raw.get("update_id") if isinstance(raw, dict) else None
                if not isinstance(update_id, int):
                    log.warning("telegram: an update without an update_id was dropped: %.200r", raw)
                    continue
                request.offset = update_id + 1
                try:
                    update = Update.model_validate(raw, context={"bot": self.bot})
                except ValidationError as e:
                    log.warning("telegram: update %s could not be read: %s", update_id, e.errors()[:1])
                    self._spawn(self.on_malformed(raw))
                    continue
                self._spawn(self.dispatcher.feed_update(self.bot, update))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._working.add(task)
        task.add_done_callback(self._working.discard)

    async def drained(self, timeout: float) -> bool:
        """Wait for updates already taken; False when some are still running after ``timeout``."""
        if not self._working:
            return True
        _, pending = await asyncio.wait(set(self._working), timeout=timeout)
        return not pending


def chat_of(raw: dict[str, Any]) -> int | None:
    """The private chat an unreadable update came from, when it can still be found."""
    for value in raw.values():
        if not isinstance(value, dict):
            continue
        for holder in (value, value.get("message")):
            chat = holder.get("chat") if isinstance(holder, dict) else None
            if isinstance(chat, dict) and isinstance(chat.get("id"), int) and chat.get("type", "private") == "private":
                return int(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None
