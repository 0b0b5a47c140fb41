"""Delivers queued messages: renders, sends, and records what happened.

Replies are handed over by the engine right after their transaction commits
(``submit``) and sent at once, one address at a time so a chat keeps its order;
outcomes are recorded in batches. The claim loop (``run``) picks up the rest:
retries that came due, notices queued elsewhere, and messages a dead process
had leased. A reply goes to the account it answers. A message without an address (a winner's
notice) goes through the router: the person's reachable accounts, most recently
active first; an unreachable one is marked so and the next is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.delivery import DELIVERY_LEASE, ChannelSender, DeliveryResult, Outcome
from core.errors import CoreError
from core.identity import Account
from core.ports import QueuedMessage, Store, Transaction
from core.templates import Templates

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 100


Address = tuple[str | None, str | None, int]


def _address(message: QueuedMessage) -> Address:
    return (message.channel, message.account_id, message.person_id)


def _by_address(messages: list[QueuedMessage]) -> dict[Address, list[QueuedMessage]]:
    groups: dict[Address, list[QueuedMessage]] = defaultdict(list)
    for message in messages:
        groups[_address(message)].append(message)
    return groups


def backoff(attempt: int) -> float:
    return min(2.0 ** attempt, 300.0)


def rank_accounts(accounts: list[Account], senders: Mapping[str, ChannelSender]) -> list[Account]:
    """Reachable accounts on channels we can send through, most recently active first."""
    usable = [a for a in accounts if a.unreachable_since is None and a.channel in senders]
    return sorted(usable, key=lambda a: (a.last_seen_at is not None, a.last_seen_at), reverse=True)


@dataclass
class Decision:
    """What became of one message; recorded with the rest of its batch."""

    message: QueuedMessage
    status: str  # sent | pending (retry later) | failed | unreachable | undeliverable
    channel: str | None = None
    account_id: str | None = None
    error: str | None = None
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    retry_at: datetime | None = None

    async def record(self, tx: Transaction, now: datetime) -> None:
        for channel, account_id in self.unreachable:
            await tx.mark_unreachable(channel, account_id, now)
        if self.retry_at is not None:
            await tx.postpone_message(self.message.id, self.retry_at, self.error or "")
        else:
            await tx.finish_message(self.message.id, self.status, now, channel=self.channel,
                                    account_id=self.account_id, error=self.error)


class Outbox:
    def __init__(self, store: Store, templates: Templates, senders: Mapping[str, ChannelSender],
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.templates = templates
        self.senders = dict(senders)
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._sending: set[asyncio.Task[None]] = set()
        self._addresses: weakref.WeakValueDictionary[Address, asyncio.Lock] = weakref.WeakValueDictionary()
        self._decided: list[Decision] = []
        self._has_decisions = asyncio.Event()

    def wake(self) -> None:
        """Messages were queued outside the engine: look for them now rather than at the next poll."""
        self._wake.set()

    def submit(self, messages: list[QueuedMessage]) -> None:
        """Replies just committed (leased to us): send them now."""
        task = asyncio.get_running_loop().create_task(self._send_submitted(messages))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def run(self, idle_poll: float = 1.0) -> None:
        recorder = asyncio.create_task(self._record_forever())
        try:
            while not self._stopping:
                self._wake.clear()
                delivered = await self.deliver_due()
                if not delivered:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), idle_poll)
        finally:
            await asyncio.gather(*self._sending, return_exceptions=True)
            self._has_decisions.set()
            await recorder

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _send_submitted(self, messages: list[QueuedMessage]) -> None:
        await asyncio.gather(*(self._send_group(group) for group in _by_address(messages).values()))

    async def _send_group(self, group: list[QueuedMessage]) -> None:
        """One address's messages, in order, never interleaved with another batch for the same address."""
        address = _address(group[0])
        lock = self._addresses.get(address)
        if lock is None:
            lock = self._addresses[address] = asyncio.Lock()
        async with lock:
            self._decided.extend(await self._deliver_in_order(group))
        self._has_decisions.set()

    async def _record_forever(self) -> None:
        """Writes outcomes in batches: while one batch waits for the database, the next one gathers."""
        while True:
            await self._has_decisions.wait()
            self._has_decisions.clear()
            batch, self._decided = self._decided, []
            if batch:
                try:
                    async with self.store.transaction() as tx:
                        for decision in batch:
                            await decision.record(tx, self.clock())
                except Exception:  # unrecorded, the messages would be sent again: keep them and retry
                    log.exception("recording %d delivery outcomes failed; retrying", len(batch))
                    self._decided[:0] = batch
                    await asyncio.sleep(1.0)
                    self._has_decisions.set()
                    continue
            if self._stopping and all(task.done() for task in self._sending) and not self._decided:
                return

    async def deliver_due(self) -> int:
        """One pass: claim what is due (leased, so nobody else takes it) and deliver it."""
        now = self.clock()
        async with self.store.transaction() as tx:
            batch = await tx.claim_due_messages(now, now + DELIVERY_LEASE, BATCH)
        # one address at a time keeps a person's messages in order; different people go in parallel
        await asyncio.gather(*(self._send_group(group) for group in _by_address(batch).values()))
        return len(batch)

    async def _deliver_in_order(self, messages: list[QueuedMessage]) -> list[Decision]:
        decisions = []
        for message in messages:
            try:
                decisions.append(await self._deliver(message))
            except Exception as e:  # one broken message must not stop the others
                log.exception("delivery of outbox message %s failed", message.id)
                decisions.append(Decision(message, "failed", error=repr(e)[:500]))
        return decisions

    async def _deliver(self, message: QueuedMessage) -> Decision:
        if message.channel is not None and message.account_id is not None:
            candidates = [(message.channel, message.account_id)]
        else:
            async with self.store.transaction() as tx:
                accounts = rank_accounts(await tx.accounts_of(message.person_id), self.senders)
            candidates = [(a.channel.value, a.external_id) for a in accounts]
        reasons: list[str] = []
        unreachable: list[tuple[str, str]] = []
        for channel, account_id in candidates:
            sender = self.senders.get(channel)
            if sender is None:
                reasons.append(f"{channel}: no sender configured")
                continue
            result = await self._send(sender, account_id, message)
            if result.outcome is Outcome.DELIVERED:
                return Decision(message, "sent", channel, account_id, "; ".join(reasons) or None, unreachable)
            if result.outcome is Outcome.RETRY:
                if message.attempts + 1 >= MAX_ATTEMPTS:
                    return Decision(message, "failed", error=f"gave up: {result.detail}", unreachable=unreachable)
                delay = result.retry_after if result.retry_after is not None else backoff(message.attempts)
                return Decision(message, "pending", error=result.detail, unreachable=unreachable,
                                retry_at=self.clock() + timedelta(seconds=delay))
            if result.outcome is Outcome.UNREACHABLE:
                unreachable.append((channel, account_id))
            reasons.append(f"{channel}: {result.outcome.value} {result.detail}".strip())
        status = "unreachable" if candidates else "undeliverable"
        return Decision(message, status, error="; ".join(reasons) or "no account", unreachable=unreachable)

    async def _send(self, sender: ChannelSender, account_id: str, message: QueuedMessage) -> DeliveryResult:
        try:
            rendered = self.templates.render(message.template, sender.channel, message.locale, message.params)
        except CoreError as e:
            return DeliveryResult(Outcome.FAILED, detail=str(e))
        return await sender.send(account_id, rendered, message.id)

