"""Delivers queued messages: claims due rows, renders, sends, and records what happened.

A reply goes to the account it answers. A message without an address (a winner's
notice) goes through the router: the person's reachable accounts, most recently
active first; an unreachable one is marked so and the next is tried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from core.delivery import ChannelSender, DeliveryResult, Outcome
from core.errors import CoreError
from core.identity import Account
from core.ports import QueuedMessage, Store
from core.templates import Templates

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CLAIM_LEASE = timedelta(minutes=2)  # a claimed row whose sender died is claimed again after this
BATCH = 100


def backoff(attempt: int) -> float:
    return min(2.0 ** attempt, 300.0)


def rank_accounts(accounts: list[Account], senders: Mapping[str, ChannelSender]) -> list[Account]:
    """Reachable accounts on channels we can send through, most recently active first."""
    usable = [a for a in accounts if a.unreachable_since is None and a.channel in senders]
    return sorted(usable, key=lambda a: (a.last_seen_at is not None, a.last_seen_at), reverse=True)


class Outbox:
    def __init__(self, store: Store, templates: Templates, senders: Mapping[str, ChannelSender],
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.templates = templates
        self.senders = dict(senders)
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """New messages were queued: deliver now rather than at the next poll."""
        self._wake.set()

    async def run(self, idle_poll: float = 1.0) -> None:
        while not self._stopping:
            self._wake.clear()
            delivered = await self.deliver_due()
            if not delivered:
                try:
                    await asyncio.wait_for(self._wake.wait(), idle_poll)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def deliver_due(self) -> int:
        """One pass: claim what is due and deliver it; returns how many rows were handled."""
        now = self.clock()
        async with self.store.transaction() as tx:
            batch = await tx.claim_due_messages(now, now + CLAIM_LEASE, BATCH)
        by_address: dict[tuple[str | None, str | None, int], list[QueuedMessage]] = defaultdict(list)
        for message in batch:
            by_address[(message.channel, message.account_id, message.person_id)].append(message)
        # one address at a time keeps a person's messages in order; different people go in parallel
        await asyncio.gather(*(self._deliver_in_order(group) for group in by_address.values()))
        return len(batch)

    async def _deliver_in_order(self, messages: list[QueuedMessage]) -> None:
        for message in messages:
            try:
                await self._deliver(message)
            except Exception as e:  # one broken message must not stop the others
                log.exception("delivery of outbox message %s failed", message.id)
                async with self.store.transaction() as tx:
                    await tx.finish_message(message.id, "failed", self.clock(), error=repr(e)[:500])

    async def _deliver(self, message: QueuedMessage) -> None:
        if message.channel is not None and message.account_id is not None:
            candidates = [(message.channel, message.account_id)]
        else:
            async with self.store.transaction() as tx:
                accounts = rank_accounts(await tx.accounts_of(message.person_id), self.senders)
            candidates = [(a.channel.value, a.external_id) for a in accounts]
        reasons: list[str] = []
        for channel, account_id in candidates:
            sender = self.senders.get(channel)
            if sender is None:
                reasons.append(f"{channel}: no sender configured")
                continue
            result = await self._send(sender, account_id, message)
            now = self.clock()
            async with self.store.transaction() as tx:
                if result.outcome is Outcome.DELIVERED:
                    await tx.finish_message(message.id, "sent", now, channel=channel, account_id=account_id,
                                            error="; ".join(reasons) or None)
                    return
                if result.outcome is Outcome.RETRY:
                    await self._retry_later(tx, message, result, now)
                    return
                if result.outcome is Outcome.UNREACHABLE:
                    await tx.mark_unreachable(channel, account_id, now)
                reasons.append(f"{channel}: {result.outcome.value} {result.detail}".strip())
        async with self.store.transaction() as tx:
            status = "unreachable" if candidates else "undeliverable"
            await tx.finish_message(message.id, status, self.clock(), error="; ".join(reasons) or "no account")

    async def _send(self, sender: ChannelSender, account_id: str, message: QueuedMessage) -> DeliveryResult:
        try:
            rendered = self.templates.render(message.template, sender.channel, message.locale, message.params)
        except CoreError as e:
            return DeliveryResult(Outcome.FAILED, detail=str(e))
        return await sender.send(account_id, rendered, message.id)

    async def _retry_later(self, tx, message: QueuedMessage, result: DeliveryResult, now: datetime) -> None:
        if message.attempts + 1 >= MAX_ATTEMPTS:
            await tx.finish_message(message.id, "failed", now, error=f"gave up: {result.detail}")
            return
        delay = result.retry_after if result.retry_after is not None else backoff(message.attempts)
        await tx.postpone_message(message.id, now + timedelta(seconds=delay), result.detail)
