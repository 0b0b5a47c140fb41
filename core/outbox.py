"""Delivers queued messages: renders, sends, records what happened — one chat at a time, in order.

Every address (a chat, or a person for a message the router places) has a lane: its messages
go out one by one, and the next one leaves only once the previous outcome is committed. So a
crash can repeat at most the one send that was in flight per chat (Telegram has no
idempotency key; VK's ``random_id`` and e-mail's Message-ID absorb even that), and a 429 never
lets a later reply overtake an earlier one. Outcomes of different lanes share commits.

Replies are handed over right after their transaction commits (``submit``); the claim loop
(``run``) picks up the rest: retries that came due, notices queued elsewhere, and messages of
a worker that stopped beating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.channels import ChannelName
from core.delivery import DELIVERY_LEASE, ChannelSender, DeliveryOutcome, DeliveryResult, MessageStatus
from core.errors import CoreError
from core.group_commit import GroupCommit
from core.identity import ChannelAccount
from core.ports import Outcome, QueuedMessage, Store, UnitOfWork
from core.templates import Templates

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 200
MAX_WAIT_IN_LANE = 60.0  # a longer retry_after postpones the lane's messages instead of holding the lane
WORKER_SILENCE = timedelta(seconds=10)  # a worker that has not beaten for this long is dead


def backoff(attempt: int) -> float:
    return min(2.0 ** attempt, 300.0)


def rank_accounts(accounts: list[ChannelAccount], senders: Mapping[ChannelName, ChannelSender]) -> list[ChannelAccount]:
    """Reachable accounts on channels we can send through, most recently active first."""
    usable = [a for a in accounts if a.unreachable_since is None and a.channel in senders]
    return sorted(usable, key=lambda a: (a.last_seen_at is not None, a.last_seen_at), reverse=True)


@dataclass
class Attempt:
    """What became of one message on its way out."""

    outcome: Outcome
    unreachable: list[tuple[ChannelName, str]] = field(default_factory=list)
    wait: float | None = None  # RETRY: how long to wait before the same message again


class Outbox:
    def __init__(self, store: Store, templates: Templates, senders: Mapping[ChannelName, ChannelSender], *,
                 clock: Callable[[], datetime], worker_id: str, committer: GroupCommit | None = None) -> None:
        self.store = store
        self.templates = templates
        self.senders = dict(senders)
        self.clock = clock
        self.worker_id = worker_id
        self.committer = committer or GroupCommit(store)
        self._lanes: dict[tuple[str, str], deque[QueuedMessage]] = {}
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    # intake ------------------------------------------------------------------------------

    def submit(self, messages: list[QueuedMessage]) -> None:
        """Messages leased to this worker (just committed replies, or claimed ones): send them now."""
        for message in messages:
            lane = self._lanes.setdefault(message.address, deque())
            if any(queued.id == message.id for queued in lane):
                continue
            lane.append(message)
            if message.address not in self._running:
                task = asyncio.get_running_loop().create_task(self._drain(message.address))
                self._running[message.address] = task

    def wake(self) -> None:
        """Messages were queued outside the engine: look for them now rather than at the next poll."""
        self._wake.set()

    async def run(self, idle_poll: float = 1.0) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.claim_due()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("claiming due messages failed")
                claimed = 0
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_poll)

    async def claim_due(self) -> int:
        now = self.clock()
        busy = set(self._lanes)
        async with self.store.transaction() as tx:
            batch = await tx.messages.claim_due(now, self.worker_id, now + DELIVERY_LEASE, now - WORKER_SILENCE,
                                                BATCH)
        self.submit(batch)
        return len([m for m in batch if m.address not in busy])

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the message each lane is sending (and record it); what is left stays queued for later."""
        self._stopping = True
        self._wake.set()
        for lane in self._lanes.values():
            lane.clear()
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def drained(self, timeout: float) -> bool:
        """Wait until every lane is empty (tests, benchmarks)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._running:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.wait(list(self._running.values()), timeout=0.05)
        return True

    # lanes -------------------------------------------------------------------------------

    async def _drain(self, address: tuple[str, str]) -> None:
        lane = self._lanes[address]
        try:
            while lane:
                message = lane[0]
                await self._deliver_in_lane(message, lane)
                if lane and lane[0] is message:
                    lane.popleft()
        except Exception:
            log.exception("lane %s stopped", address)
        finally:
            self._running.pop(address, None)
            if not lane:
                self._lanes.pop(address, None)

    async def _deliver_in_lane(self, message: QueuedMessage, lane: deque[QueuedMessage]) -> None:
        while True:
            try:
                attempt = await self._attempt(message)
            except Exception as e:  # one broken message must not stop the others
                log.exception("delivery of outbox message %s failed", message.id)
                attempt = Attempt(Outcome(message.id, MessageStatus.FAILED, error=repr(e)[:500]))
            if attempt.wait is not None and attempt.wait <= MAX_WAIT_IN_LANE and not self._stopping:
                message.attempts += 1
                await asyncio.sleep(attempt.wait)  # the chat's later messages wait too: order is kept
                continue
            if attempt.outcome.status is MessageStatus.PENDING:
                # postponed for long: the lane's later messages follow it, so they cannot overtake it
                later = [m for m in lane if m is not message]
                lane.clear()
                lane.append(message)
                retry_at = attempt.outcome.retry_at
                await self._record([attempt] + [Attempt(Outcome(m.id, MessageStatus.PENDING, retry_at=retry_at,
                                                                 error="after an earlier message of this chat"))
                                                for m in later])
                return
            await self._record([attempt])
            return

    async def _record(self, attempts: list[Attempt]) -> None:
        now = self.clock()

        async def record(tx: UnitOfWork) -> None:
            for attempt in attempts:
                for channel, account_id in attempt.unreachable:
                    await tx.people.mark_unreachable(channel, account_id, now)
            await tx.messages.record([a.outcome for a in attempts], now)

        while True:
            try:
                await self.committer.run(record)
                return
            except Exception:  # unrecorded, the message would be sent again: keep trying
                log.exception("recording %d delivery outcomes failed; retrying", len(attempts))
                await asyncio.sleep(1.0)

    # one message -------------------------------------------------------------------------

    async def _candidates(self, message: QueuedMessage) -> list[tuple[ChannelName, str]]:
        if message.channel is not None and message.account_id is not None:
            return [(message.channel, message.account_id)]
        async with self.store.transaction() as tx:
            accounts = rank_accounts(await tx.people.accounts_of(message.person_id), self.senders)
        return [(a.channel, a.external_id) for a in accounts]

    async def _attempt(self, message: QueuedMessage) -> Attempt:
        candidates = await self._candidates(message)
        reasons: list[str] = []
        unreachable: list[tuple[ChannelName, str]] = []
        for channel, account_id in candidates:
            sender = self.senders.get(channel)
            if sender is None:
                reasons.append(f"{channel}: no sender configured")
                continue
            result = await self._send(sender, account_id, message)
            if result.outcome is DeliveryOutcome.DELIVERED:
                return Attempt(Outcome(message.id, MessageStatus.SENT, channel, account_id,
                                       "; ".join(reasons) or None), unreachable)
            if result.outcome is DeliveryOutcome.RETRY:
                if message.attempts + 1 >= MAX_ATTEMPTS:
                    return Attempt(Outcome(message.id, MessageStatus.FAILED, error=f"gave up: {result.detail}"),
                                   unreachable)
                delay = result.retry_after if result.retry_after is not None else backoff(message.attempts)
                return Attempt(Outcome(message.id, MessageStatus.PENDING, error=result.detail,
                                       retry_at=self.clock() + timedelta(seconds=delay)), unreachable, wait=delay)
            if result.outcome is DeliveryOutcome.UNREACHABLE:
                unreachable.append((channel, account_id))
            reasons.append(f"{channel}: {result.outcome.value} {result.detail}".strip())
        status = MessageStatus.UNREACHABLE if candidates else MessageStatus.UNDELIVERABLE
        return Attempt(Outcome(message.id, status, error="; ".join(reasons) or "no account"), unreachable)

    async def _send(self, sender: ChannelSender, account_id: str, message: QueuedMessage) -> DeliveryResult:
        try:
            rendered = self.templates.render(message.template, sender.profile, message.locale, message.params)
        except CoreError as e:
            return DeliveryResult(DeliveryOutcome.FAILED, detail=str(e))
        return await sender.send(account_id, rendered, message.id)
