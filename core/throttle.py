"""What a channel's "too many requests" means for the other chats: one chat's is held by that chat alone; several
chats' at once are the bot's own limit, and slow the channel down — never a freeze of every chat for one.

Telegram answers 429 per chat too (its 1 message/s per chat, a group's 20/min), and a chat's
window can grow to hours after repeated floods while every other chat is served as usual
(tdlib/telegram-bot-api#535). So an answer that does not say whose limit it was holds that chat
(``ChatHolds``), and only throttles from ``GLOBAL_SIGN`` different chats within ``SIGN_WINDOW``,
none of them throttled in the ``REPEAT_MEMORY`` before (a flooded chat is answered 429 again and
again, the bot's limit hits whichever chats come next), are taken for the bot's own limit. Then
``AdaptiveRate`` lowers the channel's rate by a factor and, once the channel has been quiet for
``CALM``, raises it back step by step (as TCP does), so a misjudged limit costs a few seconds at a
lower rate, not a stop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace

from core.limits import Rate

GLOBAL_SIGN = 3  # throttled chats within SIGN_WINDOW that mean the bot's limit, not theirs
SIGN_WINDOW = 5.0  # seconds
LOWER_BY = 0.7  # the rate after the bot's limit was hit, as a share of the rate before
REPEAT_MEMORY = 60.0  # seconds: a chat throttled again within this is its own window, not a sign of the bot's
LOWER_AT_MOST_EVERY = 2.0  # seconds: a burst of 429s from one overshoot lowers the rate once, not to the floor
FLOOR = 0.2  # never below this share of the channel's own limit: slowed, never stopped
CALM = 1.0  # seconds without a sign of the bot's limit before each step back up
RAISE_STEP = 0.1  # of the channel's own limit, per CALM: from the floor back to the full rate in 8 s


class AdaptiveRate:
    """One channel's rate: its own limit, lowered while the channel keeps saying the bot sends too fast."""

    def __init__(self, nominal: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.nominal = nominal
        self.clock = clock
        self.share = 1.0
        self.lowered = 0  # times the bot's limit was taken to be hit (the benchmark and tests read it)
        self.lowest = 1.0  # the lowest share it came down to
        self._changed_at = 0.0
        self._recent: deque[tuple[float, str]] = deque()
        self._throttled_at: dict[str, float] = {}  # chats throttled lately: their next 429 is their own window
        self._rate = nominal

    def chat_throttled(self, account_id: str) -> bool:
        """A throttle that did not say whose limit it was: True when, with the others just seen, it is the bot's."""
        now = self.clock()
        before = self._throttled_at.get(account_id)
        self._throttled_at[account_id] = now
        if len(self._throttled_at) > 10_000:
            self._throttled_at = {k: t for k, t in self._throttled_at.items() if t > now - REPEAT_MEMORY}
        if before is not None and before > now - REPEAT_MEMORY:
            return False
        recent = self._recent
        recent.append((now, account_id))
        while recent and recent[0][0] < now - SIGN_WINDOW:
            recent.popleft()
        if len({chat for _, chat in recent}) < GLOBAL_SIGN:
            return False
        recent.clear()
        self.bot_throttled()
        return True

    def bot_throttled(self) -> None:
        """The channel said the bot itself sends too fast."""
        now = self.clock()
        if self.share < 1.0 and now - self._changed_at < LOWER_AT_MOST_EVERY:
            return
        self._set(max(FLOOR, self.share * LOWER_BY), now)
        self.lowered += 1
        self.lowest = min(self.lowest, self.share)

    def rate(self) -> Rate:
        """The rate to send at now: a step back up for every CALM since the last change."""
        if self.share < 1.0:
            now = self.clock()
            steps = int((now - self._changed_at) / CALM)
            if steps > 0:
                self._set(min(1.0, self.share + steps * RAISE_STEP), self._changed_at + steps * CALM)
        return self._rate

    def _set(self, share: float, at: float) -> None:
        self.share, self._changed_at = share, at
        self._rate = self.nominal if share >= 1.0 else replace(self.nominal, count=self.nominal.count * share)


class ChatHolds:
    """Chats the channel told to wait, and until when (this process; the shared limiter tells the others)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[tuple[str, str], float] = {}

    def hold(self, channel: str, account_id: str, seconds: float) -> None:
        key = (channel, account_id)
        self._until[key] = max(self._until.get(key, 0.0), self.clock() + seconds)
        if len(self._until) > 10_000:  # forget holds that are over
            now = self.clock()
            self._until = {k: v for k, v in self._until.items() if v > now}

    def left(self, channel: str, account_id: str) -> float:
        """Seconds this chat must still wait (0: none)."""
        if not self._until:
            return 0.0
        until = self._until.get((channel, account_id))
        return 0.0 if until is None else max(until - self.clock(), 0.0)
