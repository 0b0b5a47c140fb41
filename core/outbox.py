"""Delivers queued messages: renders, routes, paces, sends, records what happened — one chat at a time, in order.

Every address (a chat, or a person for a message the router places) has a lane: its messages
go out one by one, and the next one leaves only once the previous outcome is committed. So a
crash can repeat at most the one send that was in flight per chat (Telegram has no
idempotency key; VK's ``random_id`` and e-mail's Message-ID absorb even that), and a 429 never
lets a later reply overtake an earlier one. Outcomes of different lanes share commits.

Replies are handed over right after their transaction commits (``submit``); the claim loop
(``run``) picks up the rest: retries that came due, notices queued elsewhere, messages of a
worker that stopped beating, and delivered messages whose answer did not come in time.

A message with no address goes where ``core.router`` ranks best, falling back to the next
account on "unreachable" (or on a retry that would miss the message's deadline); each routing
is stored with its reasons. Every send first takes its turn from the channel's rate limits
(``core.limits``, shared by all processes when they live in Redis); a bulk notice leaves part
of each burst to replies. A message that asks for an answer waits, once delivered, for its
window; unanswered, it is sent again on the next channel — notices never in the person's
quiet hours — until its deadline, when it is left ``unreached`` for staff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.channels import ChannelName, ChannelProfile
from core.delivery import (
    DELIVERY_LEASE,
    ChannelSender,
    DeliveryOutcome,
    DeliveryResult,
    MessageStatus,
    ReachabilityProbe,
)
from core.errors import CoreError
from core.group_commit import GroupCommit
from core.limits import Limit, Limiter, Turns, Unlimited
from core.ports import Outcome, QueuedMessage, Store, UnitOfWork
from core.ports.routes import Candidate, RouteDecision
from core.router import Facts, QuietHours, account_key, rank
from core.templates import Templates

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BATCH = 200
MAX_WAIT_IN_LANE = 60.0  # a longer retry_after postpones the lane's messages instead of holding the lane
WORKER_SILENCE = timedelta(seconds=10)  # a worker that has not beaten for this long is dead
PACING_HORIZON = timedelta(seconds=10)  # bulk notices queued for a channel beyond this much of its time go back


def backoff(attempt: int) -> float:
    return min(2.0 ** attempt, 300.0)


@dataclass(frozen=True)
class DeliveryPolicy:
    """When notices may go: the quiet hours (in each person's zone, else ``zone``)."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Moscow"))
    quiet_hours: QuietHours | None = None

    def zone_of(self, name: str | None) -> ZoneInfo:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
        return self.zone


@dataclass
class Attempt:
    """What became of one message on its way out."""

    outcome: Outcome
    unreachable: list[tuple[ChannelName, str, str]] = field(default_factory=list)  # channel, account, why
    wait: float | None = None  # RETRY: how long to wait before the same message again
    decision: RouteDecision | None = None


class Outbox:
    def __init__(self, store: Store, templates: Templates, senders: Mapping[ChannelName, ChannelSender], *,
                 clock: Callable[[], datetime], worker_id: str, committer: GroupCommit | None = None,
                 limiter: Limiter | None = None, policy: DeliveryPolicy | None = None,
                 max_in_flight: int = 2000) -> None:
        self.store = store
        self.templates = templates
        self.senders = dict(senders)
        self.profiles: dict[ChannelName, ChannelProfile] = {name: s.profile for name, s in self.senders.items()}
        self.clock = clock
        self.worker_id = worker_id
        self.committer = committer or GroupCommit(store)
        self.limiter: Limiter = limiter or Unlimited()
        self._limited = not isinstance(self.limiter, Unlimited)  # limits lifted: no turns, no pacing
        self.policy = policy or DeliveryPolicy()
        self.max_in_flight = max_in_flight
        self._lanes: dict[tuple[str, str], deque[QueuedMessage]] = {}
        self._running: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._leases: dict[int, datetime] = {}  # claimed messages: not sent once their lease is nearly over
        self._facts: dict[int, tuple[Facts, str | None]] = {}  # routed messages: what the router knew, the zone
        self._turns: dict[ChannelName, Turns] = {}
        self._can_probe: dict[ChannelName, bool] = {}
        self._paced_until: dict[ChannelName, datetime] = {}
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

    @property
    def in_flight(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    async def run(self, idle_poll: float = 1.0) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.claim_due() if self.in_flight < self.max_in_flight else 0
            except Exception:  # the loop must outlive a database hiccup
                log.exception("claiming due messages failed")
                claimed = 0
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_poll)

    async def claim_due(self) -> int:
        now = self.clock()
        busy = set(self._lanes)
        lease_until = now + DELIVERY_LEASE
        async with self.store.transaction() as tx:
            batch = await tx.messages.claim_due(now, self.worker_id, lease_until, now - WORKER_SILENCE,
                                                min(BATCH, max(self.max_in_flight - self.in_flight, 1)))
            await self._learn(tx, [m for m in batch if m.routed])
        for message in batch:
            self._leases[message.id] = lease_until
        self.submit(batch)
        return len([m for m in batch if m.address not in busy])

    async def _learn(self, tx: UnitOfWork, messages: list[QueuedMessage]) -> None:
        """What the router needs for these messages, read at once for all of them."""
        people = sorted({m.person_id for m in messages})
        if not people:
            return
        records = await tx.routes.records(people)
        preferences = await tx.routes.preferences(people)
        accounts = await tx.people.accounts_of_people(people)
        for message in messages:
            preference = preferences.get(message.person_id)
            facts = Facts(accounts[message.person_id], records.get(message.person_id, {}), preference)
            self._facts[message.id] = (facts, preference.time_zone if preference else None)

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
                self._leases.pop(message.id, None)
                self._facts.pop(message.id, None)
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
            except LeaseLost:
                log.warning("outbox message %s waited past its lease: left for whoever claims it next", message.id)
                return
            except Exception as e:  # one broken message must not stop the others
                log.exception("delivery of outbox message %s failed", message.id)
                attempt = Attempt(Outcome(message.id, MessageStatus.FAILED, error=repr(e)[:500]))
            if attempt.wait is not None and attempt.wait <= MAX_WAIT_IN_LANE and not self._stopping:
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
                                                                 error="after an earlier message of this chat"))
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

        while True:
            try:
                await self.committer.run(record)
                return
            except Exception:  # unrecorded, the message would be sent again: keep trying
                log.exception("recording %d delivery outcomes failed; retrying", len(attempts))
                await asyncio.sleep(1.0)

    # one message -------------------------------------------------------------------------

    async def _attempt(self, message: QueuedMessage) -> Attempt:
        if message.routed:
            return await self._routed(message)
        return await self._addressed(message)

    async def _addressed(self, message: QueuedMessage) -> Attempt:
        """A reply, or a message to one given account: that account or nothing."""
        channel, account_id = message.channel, message.account_id
        assert channel is not None and account_id is not None
        sender = self.senders.get(channel)
        if sender is None:
            return Attempt(Outcome(message.id, MessageStatus.UNREACHABLE, error=f"{channel}: channel not running"))
        result = await self._send(sender, account_id, message)
        if result.outcome is DeliveryOutcome.DELIVERED:
            return Attempt(Outcome(message.id, MessageStatus.SENT, channel, account_id))
        if result.outcome is DeliveryOutcome.RETRY:
            return self._retry(message, result)
        unreachable = [(channel, account_id, result.detail)] if result.outcome is DeliveryOutcome.UNREACHABLE else []
        status = MessageStatus.UNREACHABLE if unreachable else MessageStatus.FAILED
        return Attempt(Outcome(message.id, status, error=f"{channel}: {result.outcome.value} {result.detail}".strip()),
                       unreachable)

    def _retry(self, message: QueuedMessage, result: DeliveryResult) -> Attempt:
        if message.attempts + 1 >= MAX_ATTEMPTS:
            return Attempt(Outcome(message.id, MessageStatus.FAILED, error=f"gave up: {result.detail}"))
        delay = result.retry_after if result.retry_after is not None else backoff(message.attempts)
        return Attempt(Outcome(message.id, MessageStatus.PENDING, error=result.detail,
                               retry_at=self.clock() + timedelta(seconds=delay)), wait=delay)

    async def _facts_of(self, message: QueuedMessage) -> tuple[Facts, str | None]:
        known = self._facts.get(message.id)
        if known is None:
            async with self.store.transaction() as tx:
                await self._learn(tx, [message])
            known = self._facts[message.id]
        return known

    async def _routed(self, message: QueuedMessage) -> Attempt:
        """A message the router places: the best account, then the next on "unreachable"."""
        now = self.clock()
        facts, zone = await self._facts_of(message)
        self._facts.pop(message.id, None)  # a later attempt reads them afresh
        round_ = len(message.tried)
        escalating = bool(message.tried)
        if message.deadline is not None and now >= message.deadline:
            status = MessageStatus.UNREACHED if escalating else MessageStatus.UNREACHABLE
            why = "no answer by the deadline" if escalating else "not delivered by the deadline"
            return Attempt(Outcome(message.id, status, error=why))
        candidates = rank(facts, self.profiles, now, message.tried)
        decide = self._decider(message, round_, now)
        quiet_until = self._quiet_until(message, now, zone)
        if quiet_until is not None:
            return Attempt(Outcome(message.id, MessageStatus.PENDING, error="quiet hours", retry_at=quiet_until,
                                   round=round_, tried=tuple(message.tried)),
                           decision=decide(candidates, None, "quiet_hours", f"waits until {quiet_until:%H:%M} UTC"))
        tried: list[Candidate] = []
        unreachable: list[tuple[ChannelName, str, str]] = []
        usable = [c for c in candidates if c.dropped is None]
        for index, candidate in enumerate(usable):
            sender = self.senders[candidate.channel]
            slot = self._pace(sender.profile, message) if index == 0 else None
            if slot is not None:  # its channel has more than enough to send: back to the queue until its slot
                return Attempt(Outcome(message.id, MessageStatus.PENDING, retry_at=slot, paced=True,
                                       error=f"{candidate.channel} busy: waits its turn"))
            result = await self._probe_and_send(sender, candidate, facts, message)
            tried.append(replace(candidate, outcome=f"{result.outcome.value} {result.detail}".strip()))
            rest = tried + usable[index + 1:] + [c for c in candidates if c.dropped is not None]
            if result.outcome is DeliveryOutcome.DELIVERED:
                return self._delivered(message, candidate, round_, unreachable, decide(rest, candidate, "delivered"))
            if result.outcome is DeliveryOutcome.RETRY:
                retry = self._retry(message, result)
                late = message.deadline is not None and retry.outcome.retry_at is not None \
                    and retry.outcome.retry_at > message.deadline
                if late and index + 1 < len(usable):
                    continue  # waiting would miss the deadline: the next channel now
                retry.unreachable = unreachable
                retry.decision = decide(rest, candidate, "retry", result.detail)
                return retry
            if result.outcome is DeliveryOutcome.UNREACHABLE:
                unreachable.append((candidate.channel, candidate.account_id, result.detail))
        final = tried + [c for c in candidates if c.dropped is not None]
        if not facts.accounts or not usable:
            why = "; ".join(f"{c.channel}: {c.dropped}" for c in candidates) or "no account"
            status = MessageStatus.UNREACHED if escalating else MessageStatus.UNDELIVERABLE
            if candidates and not escalating:
                status = MessageStatus.UNREACHABLE
            return Attempt(Outcome(message.id, status, error=why), unreachable,
                           decision=decide(final, None, "undeliverable", why))
        why = "; ".join(f"{c.channel}: {c.outcome}" for c in tried)
        status = MessageStatus.UNREACHED if escalating else MessageStatus.UNREACHABLE
        return Attempt(Outcome(message.id, status, error=why), unreachable,
                       decision=decide(final, None, "unreachable", why))

    def _decider(self, message: QueuedMessage, round_: int,
                 now: datetime) -> Callable[..., RouteDecision]:
        def decide(candidates: list[Candidate], chosen: Candidate | None, outcome: str,
                   detail: str = "") -> RouteDecision:
            return RouteDecision(message.id, message.person_id, round_, now, tuple(candidates),
                                 chosen.channel if chosen else None, chosen.account_id if chosen else None,
                                 outcome, detail)
        return decide

    def _delivered(self, message: QueuedMessage, candidate: Candidate, round_: int,
                   unreachable: list[tuple[ChannelName, str, str]], decision: RouteDecision) -> Attempt:
        if not message.needs_ack:
            return Attempt(Outcome(message.id, MessageStatus.SENT, candidate.channel, candidate.account_id),
                           unreachable, decision=decision)
        answer_by = self.clock() + timedelta(seconds=message.ack_window_seconds or 0)
        if message.deadline is not None:
            answer_by = min(answer_by, message.deadline)
        tried = (*message.tried, account_key(candidate.channel, candidate.account_id))
        return Attempt(Outcome(message.id, MessageStatus.AWAITING_ACK, candidate.channel, candidate.account_id,
                               retry_at=answer_by, round=round_ + 1, tried=tried), unreachable, decision=decision)

    def _quiet_until(self, message: QueuedMessage, now: datetime, zone: str | None) -> datetime | None:
        """Notices (bulk, or asking for an answer) wait out the person's quiet hours; replies never do."""
        if self.policy.quiet_hours is None or not (message.bulk or message.needs_ack):
            return None
        return self.policy.quiet_hours.ends_after(now, self.policy.zone_of(zone))

    async def _probe_and_send(self, sender: ChannelSender, candidate: Candidate, facts: Facts,
                              message: QueuedMessage) -> DeliveryResult:
        """Before a first unsolicited message on a channel that can tell (VK), ask whether it may be written."""
        record = facts.records.get(candidate.channel)
        if self._probes(sender) and (record is None or record.delivered == 0):
            await self._take_turn(sender.profile, candidate.account_id, message)
            allowed = await sender.allows(candidate.account_id)
            if allowed is False:
                return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail="messages from the community not allowed")
        return await self._send(sender, candidate.account_id, message)

    def _pace(self, profile: ChannelProfile, message: QueuedMessage) -> datetime | None:
        """For a bulk notice whose channel already has ``PACING_HORIZON`` of sends waiting here: the time its turn
        will come (slots handed out in order), so it leaves this worker's memory (and its lease) until then, and
        notices for other channels are not held up behind it."""
        turns = self._turns.get(profile.name)
        if not message.bulk or profile.rate is None or turns is None or not self._limited:
            return None
        ahead = turns.waiting * profile.rate.interval
        if ahead < PACING_HORIZON.total_seconds():
            return None
        now = self.clock()
        slot = max(self._paced_until.get(profile.name, now), now + timedelta(seconds=ahead))
        self._paced_until[profile.name] = slot + timedelta(seconds=profile.rate.interval)
        return slot - PACING_HORIZON / 2

    def _probes(self, sender: ChannelSender) -> bool:
        """Whether the channel can be asked before a first message (checked once per channel: isinstance on a
        protocol is slow)."""
        name = sender.profile.name
        if name not in self._can_probe:
            self._can_probe[name] = isinstance(sender, ReachabilityProbe)
        return self._can_probe[name]

    async def _take_turn(self, profile: ChannelProfile, account_id: str, message: QueuedMessage) -> None:
        """Wait for the bot's turn (replies first), then for the chat's own limit; then the lease must still hold.

        The bot's turn comes first: thousands of waiting notices then ask the shared limiter nothing until
        their turn, and a reply is never queued behind their questions."""
        if self._limited and profile.rate is not None:
            turns = self._turns.get(profile.name)
            if turns is None:
                turns = self._turns[profile.name] = Turns(self.limiter, profile.name, profile.rate)
            await turns.wait(bulk=message.bulk)
        if self._limited and profile.per_chat is not None:
            chat: list[Limit] = [(f"{profile.name}:{account_id}", profile.per_chat)]
            while True:
                try:
                    wait = await self.limiter.acquire(chat, bulk=message.bulk)
                except CoreError as e:  # the shared limiter is away: wait rather than break the channel's limits
                    log.warning("rate limiter unavailable (%s); waiting", e)
                    wait = 1.0
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
        lease = self._leases.get(message.id)
        if lease is not None and self.clock() > lease - LEASE_MARGIN:
            raise LeaseLost(message.id)

    async def _send(self, sender: ChannelSender, account_id: str, message: QueuedMessage) -> DeliveryResult:
        try:
            rendered = self.templates.render(message.template, sender.profile, message.locale,
                                             {**message.params, "message_id": message.id})
        except CoreError as e:
            return DeliveryResult(DeliveryOutcome.FAILED, detail=str(e))
        await self._take_turn(sender.profile, account_id, message)
        result = await sender.send(account_id, rendered, message.id)
        if result.throttled and result.retry_after and sender.profile.rate is not None:
            # the channel itself said to wait: every lane of every process waits with this one
            with contextlib.suppress(CoreError):
                await self.limiter.pause(sender.profile.name, sender.profile.rate, result.retry_after)
        return result


LEASE_MARGIN = timedelta(seconds=15)


class LeaseLost(CoreError):
    """A claimed message waited for its turn until its lease was nearly over: another worker may take it."""
