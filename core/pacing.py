"""Sending at the channels' own pace: the bot's turn (replies first), the chat's limit, and a bulk backlog that
leaves this worker's memory until its slot.

Every send first waits for its channel's turn (``core.limits.Turns``: thousands of waiting
notices ask the shared limiter nothing until theirs comes, and a reply never queues behind
them), then for the chat's own limit. A bulk notice whose channel already has more than
``PACING_HORIZON`` of sends waiting here goes back to the queue until its slot instead, so its
lease does not run out while it waits and notices for other channels are not held up behind it.
When the channel says "too many requests", ``core.throttle`` decides for whom: the one chat waits
(``ChatHeld`` when longer than a lane may wait), or, when it was the bot's own limit, the channel's
rate is lowered for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from core.channels import ChannelName, ChannelProfile
from core.delivery import DeliveryResult, ThrottleScope
from core.errors import CoreError
from core.limits import Limit, Limiter, Turns, Unlimited
from core.ports import QueuedMessage
from core.throttle import AdaptiveRate, ChatHolds

log = logging.getLogger(__name__)

PACING_HORIZON = timedelta(seconds=10)  # bulk notices queued for a channel beyond this much of its time go back
LEASE_MARGIN = timedelta(seconds=15)
LONG_HOLD = 60.0  # seconds: a chat held longer than this has its messages postponed (a notice: the next channel)


class LeaseLost(CoreError):
    """A claimed message waited for its turn until its lease was nearly over: another worker may take it."""


class ChatHeld(CoreError):
    """The channel told this chat to wait for longer than a lane waits: the message is postponed (or re-routed)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"chat throttled by the channel for another {seconds:.0f} s")
        self.seconds = seconds


class Pacer:
    def __init__(self, limiter: Limiter | None, clock: Callable[[], datetime]) -> None:
        self.limiter: Limiter = limiter or Unlimited()
        self.limited = not isinstance(self.limiter, Unlimited)  # limits lifted: no turns, no pacing
        self.clock = clock
        self._turns: dict[ChannelName, Turns] = {}
        self._paced_until: dict[ChannelName, datetime] = {}
        self.rates: dict[ChannelName, AdaptiveRate] = {}
        self.holds = ChatHolds()

    def slot(self, profile: ChannelProfile, message: QueuedMessage) -> datetime | None:
        """For a bulk notice whose channel already has ``PACING_HORIZON`` of sends waiting here: when its turn will
        come (slots handed out in order); None: it may wait for its turn here."""
        turns = self._turns.get(profile.name)
        if not message.bulk or profile.rate is None or turns is None or not self.limited:
            return None
        ahead = turns.waiting * profile.rate.interval
        if ahead < PACING_HORIZON.total_seconds():
            return None
        now = self.clock()
        slot = max(self._paced_until.get(profile.name, now), now + timedelta(seconds=ahead))
        self._paced_until[profile.name] = slot + timedelta(seconds=profile.rate.interval)
        return slot - PACING_HORIZON / 2

    async def bot_turn(self, profile: ChannelProfile, *, bulk: bool = False) -> None:
        """Wait for one request of the bot's bucket: a send's, or another request the channel's limit counts."""
        if not self.limited or profile.rate is None:
            return
        turns = self._turns.get(profile.name)
        if turns is None:
            turns = self._turns[profile.name] = Turns(self.limiter, profile.name, profile.rate)
        adaptive = self.rates.get(profile.name)
        if adaptive is not None:
            turns.rate = adaptive.rate()
        await turns.wait(bulk=bulk)

    async def take_turn(self, profile: ChannelProfile, account_id: str, message: QueuedMessage,
                        lease: datetime | None) -> None:
        """Wait out the chat's hold (``ChatHeld`` when long), then for the bot's turn (replies first), then for the
        chat's own limit; then the lease must still hold."""
        held = self.holds.left(profile.name, account_id)
        if held > LONG_HOLD:
            raise ChatHeld(held)
        if held > 0:
            await asyncio.sleep(held)
        await self.bot_turn(profile, bulk=message.bulk)
        if self.limited and profile.per_chat is not None:
            chat: list[Limit] = [(_chat_key(profile, account_id), profile.per_chat)]
            while True:
                try:
                    wait = await self.limiter.acquire(chat, bulk=message.bulk)
                except CoreError as e:  # the shared limiter is away: wait rather than break the channel's limits
                    log.warning("rate limiter unavailable (%s); waiting", e)
                    wait = 1.0
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
        if lease is not None and self.clock() > lease - LEASE_MARGIN:
            raise LeaseLost(message.id)

    async def heed(self, profile: ChannelProfile, account_id: str, result: DeliveryResult) -> None:
        """The channel said "too many": the bot's limit (said so, or read from several chats at once) lowers the
        channel's rate, and a pause it names holds every sender of every process; else only this chat waits."""
        if not result.throttled:
            return
        adaptive = None
        if profile.rate is not None and self.limited:
            adaptive = self.rates.get(profile.name)
            if adaptive is None:
                adaptive = self.rates[profile.name] = AdaptiveRate(profile.rate)
        if result.scope is ThrottleScope.BOT:
            if adaptive is not None:
                adaptive.bot_throttled()
            if result.retry_after and profile.rate is not None:
                with contextlib.suppress(CoreError):
                    await self.limiter.pause(profile.name, profile.rate, result.retry_after)
            return
        if result.scope is None and adaptive is not None and adaptive.chat_throttled(account_id):
            log.warning("%s: too many requests from several chats at once: the bot's limit; rate lowered to %.1f/s",
                        profile.name, adaptive.rate().per_second)
        if result.retry_after:
            self.holds.hold(profile.name, account_id, result.retry_after)
            if self.limited and profile.per_chat is not None:  # other processes wait in the chat's bucket too
                with contextlib.suppress(CoreError):
                    await self.limiter.pause(_chat_key(profile, account_id), profile.per_chat, result.retry_after)

    async def close(self) -> None:
        await self.limiter.close()


def _chat_key(profile: ChannelProfile, account_id: str) -> str:
    return f"{profile.name}:{account_id}"
