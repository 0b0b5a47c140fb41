"""Delivers queued messages: renders, routes, paces, sends, records what happened — one chat at a time, in order.

Every address (a chat, or a person for a message the router places) has a lane: its messages
go out one by one, and the next one leaves only once the previous outcome is committed. So a
crash can repeat at most the one send that was in flight per chat (Telegram has no
idempotency key; VK's ``random_id`` and e-mail's Message-ID absorb even that), and a 429 never
lets a later reply overtake an earlier one. Outcomes of different lanes share commits.

Replies are handed over right after their transaction commits (``submit``); the claim loop
(``run``) picks up the rest: retries that came due, notices queued elsewhere, messages of a
worker that stopped beating, and delivered messages whose answer did not come in time.

What one attempt does — the delivery policy's gates, the router's ranking, the pace, the send —
is ``core.delivering``; this module keeps the queue: lanes, leases, and recording what came of
each attempt. A message that asks for an answer waits, once delivered, for its window;
unanswered, it is claimed again and sent on the next channel — notices never in the person's
quiet hours — until its deadline, when it is left ``unreached`` for staff.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from core.advertising import marketing_of
from core.bus import Bus
from core.channels import ChannelName
from core.delivering import Attempt, Deliverer
from core.delivery import DELIVERY_LEASE, ChannelSender, MessageStatus, SharesItsRequests
from core.domain_events import DomainEvent, Happened, event, without_contacts
from core.gates import DeliveryPolicy
from core.gates.standard import standard_policy
from core.group_commit import GroupCommit
from core.health import ChannelHealth
from core.lanes import Lanes, Poller
from core.limits import Limiter
from core.pacing import LeaseLost, Pacer
from core.ports import Outcome, QueuedMessage, Store, UnitOfWork
from core.router import Facts
from core.templates import Templates

log = logging.getLogger(__name__)

BATCH = 200
MAX_WAIT_IN_LANE = 60.0  # a longer retry_after postpones the lane's messages instead of holding the lane
WORKER_SILENCE = timedelta(seconds=10)  # a worker that has not beaten for this long is dead
# A chat the channel throttled for longer than a dead worker's messages take to be claimed again is postponed in
# the database, so a restarted or another process honours the wait too.
MAX_THROTTLE_IN_LANE = WORKER_SILENCE.total_seconds()


class Outbox:
    name = "outbox"

    def __init__(self, store: Store, templates: Templates, senders: Mapping[ChannelName, ChannelSender], *,
                 clock: Callable[[], datetime], worker_id: str, committer: GroupCommit | None = None,
                 limiter: Limiter | None = None, policy: DeliveryPolicy | None = None,
                 max_in_flight: int = 2000, bus: Bus | None = None, health: ChannelHealth | None = None) -> None:
        self.store = store
        self.clock = clock
        self.worker_id = worker_id
        self.committer = committer or GroupCommit(store)
        self.pacer = Pacer(limiter, clock)
        policy = policy or standard_policy(ZoneInfo("Europe/Moscow"))
        self.deliverer = Deliverer(templates, senders, policy, self.pacer, clock, health)
        self.health = self.deliverer.health
        for sender in senders.values():
            if isinstance(sender, SharesItsRequests):
                sender.draw_turns_from(partial(self.pacer.bot_turn, sender.profile))
        self.max_in_flight = max_in_flight
        self.lanes: Lanes[tuple[str, str], QueuedMessage] = Lanes(lambda m: m.address, self._deliver_in_lane,
                                                                  done=self._forget, name="outbox lane")
        # again at once only after a full batch: a process that looped on every message coming due would take each
        # one as it came, and the others sharing the queue (and the limits) would stand idle
        self.poller = Poller(self._claim_more, full=1, what="due messages", jitter=0.5)
        self._leases: dict[int, datetime] = {}  # claimed messages: not sent once their lease is nearly over
        self._facts: dict[int, tuple[Facts, str | None]] = {}  # routed messages: what the router knew, the zone
        if bus is not None:
            bus.subscribe(self._on_events, Happened.MESSAGE_QUEUED)

    @property
    def limiter(self) -> Limiter:
        return self.pacer.limiter

    @property
    def senders(self) -> dict[ChannelName, ChannelSender]:
        return self.deliverer.senders

    # intake ------------------------------------------------------------------------------

    def submit(self, messages: list[QueuedMessage]) -> None:
        """Messages leased to this worker (just committed replies, or claimed ones): send them now."""
        self.lanes.submit(messages)

    def wake(self) -> None:
        """Messages were queued outside the engine: look for them now rather than at the next poll."""
        self.poller.wake()

    def _on_events(self, events: list) -> None:  # type: ignore[type-arg]
        """A notice was queued (not a reply: replies are handed over as they are committed): look for it now."""
        if any(not event.data.get("reply") for event in events):
            self.poller.wake()

    @property
    def in_flight(self) -> int:
        return self.lanes.in_flight

    async def start(self) -> None:
        return None

    async def run(self, idle_poll: float = 1.0) -> None:
        await self.poller.run(idle_poll)

    async def _claim_more(self) -> int:
        """1 when the batch came full (more is due at once), else 0."""
        if self.in_flight >= self.max_in_flight:
            return 0
        limit = self._batch()
        return 1 if len(await self._claim(limit)) >= limit else 0

    async def claim_due(self) -> int:
        """Claim one batch of due messages and start them; how many went to lanes that were idle."""
        busy = self.lanes.busy
        batch = await self._claim(self._batch())
        return len([m for m in batch if m.address not in busy])

    def _batch(self) -> int:
        return min(BATCH, max(self.max_in_flight - self.in_flight, 1))

    async def _claim(self, limit: int) -> list[QueuedMessage]:
        now = self.clock()
        lease_until = now + DELIVERY_LEASE
        async with self.store.transaction() as tx:
            batch = await tx.messages.claim_due(now, self.worker_id, lease_until, now - WORKER_SILENCE, limit)
            await self._learn(tx, [m for m in batch if m.routed])
        for message in batch:
            self._leases[message.id] = lease_until
        self.submit(batch)
        return batch

    async def _learn(self, tx: UnitOfWork, messages: list[QueuedMessage]) -> None:
        """What the router needs for these messages, read at once for all of them."""
        people = sorted({m.person_id for m in messages})
        if not people:
            return
        records = await tx.routes.records(people)
        preferences = await tx.routes.preferences(people)
        accounts = await tx.people.accounts_of_people(people)
        marketing = await marketing_of(tx, messages, self.clock())
        for message in messages:
            preference = preferences.get(message.person_id)
            facts = Facts(accounts[message.person_id], records.get(message.person_id, {}), preference,
                          marketing.get(message.id))
            self._facts[message.id] = (facts, preference.time_zone if preference else None)

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the message each lane is sending (and record it); what is left stays queued for later."""
        self.poller.stop()
        await self.lanes.stop(grace)

    async def drained(self, timeout: float) -> bool:
        """Wait until every lane is empty (tests, benchmarks)."""
        return await self.lanes.drained(timeout)

    # lanes -------------------------------------------------------------------------------

    def _forget(self, message: QueuedMessage) -> None:
        self._leases.pop(message.id, None)
        self._facts.pop(message.id, None)

    async def _deliver_in_lane(self, message: QueuedMessage, lane: deque[QueuedMessage]) -> None:
        while True:
            try:
                attempt = await self._attempt(message)
            except LeaseLost:
                log.warning("outbox message %s waited past its lease: left for whoever claims it next", message.id)
                return
            except Exception as e:  # one broken message must not stop the others
                log.exception("delivery of outbox message %s failed", message.id)
                attempt = Attempt(Outcome(message.id, MessageStatus.FAILED, error=repr(e)[:500]))
            attempt.message = message
            in_lane = MAX_THROTTLE_IN_LANE if attempt.throttled else MAX_WAIT_IN_LANE
            if attempt.wait is not None and attempt.wait <= in_lane and not self.lanes.stopping:
                message.attempts += 1
                if attempt.decision is not None or attempt.unreachable:
                    await self._record([attempt], keep=True)
                await asyncio.sleep(attempt.wait)  # the chat's later messages wait too: order is kept
                continue
            if attempt.outcome.status is MessageStatus.PENDING:
                # postponed for long: the lane's later messages follow it, so they cannot overtake it
                later = [m for m in lane if m is not message]
                lane.clear()
                lane.append(message)
                retry_at = attempt.outcome.retry_at
                await self._record([attempt] + [Attempt(Outcome(m.id, MessageStatus.PENDING, retry_at=retry_at,
                                                                 error="after an earlier message of this chat"),
                                                         message=m)
                                                for m in later])
                return
            await self._record([attempt])
            return

    async def _record(self, attempts: list[Attempt], *, keep: bool = False) -> None:
        """Commit what happened; ``keep``: only the side effects (decisions, unreachable accounts), the message
        stays leased to this worker because it is about to be tried again."""
        now = self.clock()

        async def record(tx: UnitOfWork) -> None:
            for attempt in attempts:
                for channel, account_id, why in attempt.unreachable:
                    await tx.people.mark_unreachable(channel, account_id, now, why)
            tx.routes.record([a.decision for a in attempts if a.decision is not None])
            if not keep:
                await tx.messages.record([a.outcome for a in attempts], now)
                for attempt in attempts:
                    happened = _happened(attempt, now)
                    if happened is not None:
                        tx.events.add(happened)

        while True:
            try:
                await self.committer.run(record)
                return
            except Exception:  # unrecorded, the message would be sent again: keep trying
                log.exception("recording %d delivery outcomes failed; retrying", len(attempts))
                await asyncio.sleep(1.0)

    # one message -------------------------------------------------------------------------

    async def _attempt(self, message: QueuedMessage) -> Attempt:
        lease = self._leases.get(message.id)
        if not message.routed:
            return await self.deliverer.addressed(message, lease)
        facts, zone = await self._facts_of(message)
        self._facts.pop(message.id, None)  # a later attempt reads them afresh
        return await self.deliverer.routed(message, facts, zone, lease)

    async def _facts_of(self, message: QueuedMessage) -> tuple[Facts, str | None]:
        known = self._facts.get(message.id)
        if known is None:
            async with self.store.transaction() as tx:
                await self._learn(tx, [message])
            known = self._facts[message.id]
        return known


_DELIVERED = (MessageStatus.SENT, MessageStatus.AWAITING_ACK)
_ENDED = (MessageStatus.FAILED, MessageStatus.UNREACHABLE, MessageStatus.UNDELIVERABLE, MessageStatus.UNREACHED)


def _happened(attempt: Attempt, now: datetime) -> DomainEvent | None:
    """``message.sent`` for a delivery, ``message.failed`` for a message that ended undelivered, ``message.capped``
    for a broadcast the frequency caps held back."""
    message, outcome = attempt.message, attempt.outcome
    if message is None:
        return None
    if outcome.status in _DELIVERED:
        return event(Happened.MESSAGE_SENT, message.person_id, now, message_id=message.id,
                     template=message.template, channel=outcome.channel)
    if outcome.status in _ENDED:
        return event(Happened.MESSAGE_FAILED, message.person_id, now, message_id=message.id,
                     template=message.template, status=outcome.status.value,
                     reason=without_contacts(outcome.error or ""))
    if outcome.status is MessageStatus.CAPPED:
        return event(Happened.MESSAGE_CAPPED, message.person_id, now, message_id=message.id,
                     template=message.template, broadcast_id=message.broadcast_id,
                     cap=(outcome.error or "").removesuffix(" reached"))
    return None
