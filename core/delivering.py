"""One attempt at one message: the policy's gates, the router's ranking, the pace, the send, and what came of it.

A reply (or a message to one given account) goes to that account or nowhere. A message with
no address passes the delivery policy (``core.gates``): a message gate may hold it (quiet
hours) or drop it (its deadline passed); account gates drop the accounts that cannot be used.
The router (``core.router``) ranks the rest; the best is tried first, and the next on
"unreachable" or on a retry that would miss the message's deadline. Every routing becomes a
``RouteDecision`` with every candidate and the reasons. Nothing here writes to storage: the
outbox records the ``Attempt``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.advertising import with_opt_out
from core.channels import ChannelName, ChannelProfile
from core.delivery import ChannelSender, DeliveryOutcome, DeliveryResult, MessageStatus, ReachabilityProbe
from core.errors import CoreError
from core.gates import DeliveryPolicy, Reason, Ruling, Situation, Verdict
from core.health import ChannelHealth, is_fault
from core.pacing import LONG_HOLD, ChatHeld, Pacer
from core.ports import Outcome, QueuedMessage
from core.ports.routes import Candidate, RouteDecision, RouteOutcome
from core.router import Facts, account_key, rank
from core.templates import Templates

MAX_ATTEMPTS = 8


def backoff(attempt: int) -> float:
    return min(2.0 ** attempt, 300.0)


@dataclass
class Attempt:
    """What became of one message on its way out."""

    outcome: Outcome
    unreachable: list[tuple[ChannelName, str, str]] = field(default_factory=list)  # channel, account, why
    wait: float | None = None  # RETRY: how long to wait before the same message again
    throttled: bool = False  # the wait is the channel's "too many requests"
    decision: RouteDecision | None = None
    message: QueuedMessage | None = None  # set by the outbox: what the attempt was at


class Deliverer:
    def __init__(self, templates: Templates, senders: Mapping[ChannelName, ChannelSender], policy: DeliveryPolicy,
                 pacer: Pacer, clock: Callable[[], datetime], health: ChannelHealth | None = None) -> None:
        self.templates = templates
        self.senders = dict(senders)
        self.profiles: dict[ChannelName, ChannelProfile] = {name: s.profile for name, s in self.senders.items()}
        self.policy = policy
        self.pacer = pacer
        self.clock = clock
        self.health = health or ChannelHealth(clock)
        self._can_probe: dict[ChannelName, bool] = {}

    async def addressed(self, message: QueuedMessage, lease: datetime | None) -> Attempt:
        """A reply, or a message to one given account: that account or nothing."""
        channel, account_id = message.channel, message.account_id
        assert channel is not None and account_id is not None
        sender = self.senders.get(channel)
        if sender is None:
            return Attempt(Outcome(message.id, MessageStatus.UNREACHABLE, error=f"{channel}: channel not running"))
        try:
            result = await self._send(sender, account_id, message, lease)
        except ChatHeld as e:
            return self.held(message, e)
        if result.outcome is DeliveryOutcome.DELIVERED:
            return Attempt(Outcome(message.id, MessageStatus.SENT, channel, account_id))
        if result.outcome is DeliveryOutcome.RETRY:
            return self.retry(message, result)
        unreachable = [(channel, account_id, result.detail)] if result.outcome is DeliveryOutcome.UNREACHABLE else []
        status = MessageStatus.UNREACHABLE if unreachable else MessageStatus.FAILED
        return Attempt(Outcome(message.id, status, error=f"{channel}: {result.outcome.value} {result.detail}".strip()),
                       unreachable)

    def retry(self, message: QueuedMessage, result: DeliveryResult) -> Attempt:
        if message.attempts + 1 >= MAX_ATTEMPTS:
            return Attempt(Outcome(message.id, MessageStatus.FAILED, error=f"gave up: {result.detail}"))
        delay = result.retry_after if result.retry_after is not None else backoff(message.attempts)
        return Attempt(Outcome(message.id, MessageStatus.PENDING, error=result.detail,
                               retry_at=self.clock() + timedelta(seconds=delay)), wait=delay,
                       throttled=result.throttled)

    def held(self, message: QueuedMessage, held: ChatHeld) -> Attempt:
        """The chat is in a long window the channel set: back to the queue until it ends, no attempt counted."""
        return Attempt(Outcome(message.id, MessageStatus.PENDING, retry_at=self.clock() + timedelta(
            seconds=held.seconds), paced=True, error=str(held)))

    async def routed(self, message: QueuedMessage, facts: Facts, zone: str | None, lease: datetime | None) -> Attempt:
        """A message the router places: through the gates, then the best account, then the next on "unreachable"."""
        now = self.clock()
        situation = Situation(message, facts, self.profiles, self.policy.zone_of(zone), now, self.health.down())
        round_ = len(message.tried)
        usable_accounts, dropped = self.policy.screen(situation)
        candidates = rank(facts, usable_accounts, self.profiles, now, message.tried) + dropped

        def decide(listed: list[Candidate], chosen: Candidate | None, outcome: str,
                   detail: str = "") -> RouteDecision:
            return RouteDecision(message.id, message.person_id, round_, now, tuple(listed),
                                 chosen.channel if chosen else None, chosen.account_id if chosen else None,
                                 outcome, detail)

        ruling = self.policy.ruling(situation)
        if ruling.verdict is Verdict.DROP and ruling.reason is Reason.CAPPED:
            return Attempt(Outcome(message.id, MessageStatus.CAPPED, error=ruling.detail),
                           decision=decide(candidates, None, ruling.reason.value, ruling.detail))
        if ruling.verdict is Verdict.DROP:
            return self._dropped(message, situation, ruling)
        if ruling.verdict is Verdict.HOLD:
            assert ruling.reason is not None and ruling.until is not None
            return Attempt(Outcome(message.id, MessageStatus.PENDING, error=ruling.reason.value.replace("_", " "),
                                   retry_at=ruling.until, round=round_, tried=tuple(message.tried)),
                           decision=decide(candidates, None, ruling.reason.value, ruling.detail))
        tried: list[Candidate] = []
        unreachable: list[tuple[ChannelName, str, str]] = []
        usable = [c for c in candidates if c.dropped is None]
        for index, candidate in enumerate(usable):
            sender = self.senders[candidate.channel]
            slot = self.pacer.slot(sender.profile, message) if index == 0 else None
            if slot is not None:  # its channel has more than enough to send: back to the queue until its slot
                return Attempt(Outcome(message.id, MessageStatus.PENDING, retry_at=slot, paced=True,
                                       error=f"{candidate.channel} busy: waits its turn"))
            try:
                result = await self._probe_and_send(sender, candidate, facts, message, lease)
            except ChatHeld as e:  # a window of hours in this chat: the person's next channel, else later
                result = DeliveryResult(DeliveryOutcome.RETRY, retry_after=e.seconds, detail=str(e), throttled=True)
            tried.append(replace(candidate, outcome=f"{result.outcome.value} {result.detail}".strip()))
            rest = tried + usable[index + 1:] + [c for c in candidates if c.dropped is not None]
            if result.outcome is DeliveryOutcome.DELIVERED:
                return self._delivered(message, candidate, round_, unreachable,
                                       decide(rest, candidate, RouteOutcome.DELIVERED))
            if result.outcome is DeliveryOutcome.RETRY:
                retry = self.retry(message, result)
                late = message.deadline is not None and retry.outcome.retry_at is not None \
                    and retry.outcome.retry_at > message.deadline
                held_long = result.throttled and (result.retry_after or 0) > LONG_HOLD
                if (late or held_long or is_fault(result)) and index + 1 < len(usable):
                    continue  # waiting would miss the deadline or hold it long, or the channel failed: the next now
                if held_long:
                    retry.outcome = replace(retry.outcome, paced=True)  # not the message's fault: no attempt counted
                retry.outcome = replace(retry.outcome, error=f"{candidate.channel}: {retry.outcome.error}")
                retry.unreachable = unreachable
                retry.decision = decide(rest, candidate, RouteOutcome.RETRY, result.detail)
                return retry
            if result.outcome is DeliveryOutcome.UNREACHABLE:
                unreachable.append((candidate.channel, candidate.account_id, result.detail))
        final = tried + [c for c in candidates if c.dropped is not None]
        escalating = situation.escalating
        if not facts.accounts or not usable:
            why = "; ".join(f"{c.channel}: {c.dropped}" for c in candidates) or "no account"
            status = MessageStatus.UNREACHED if escalating else MessageStatus.UNDELIVERABLE
            if candidates and not escalating:
                status = MessageStatus.UNREACHABLE
            return Attempt(Outcome(message.id, status, error=why), unreachable,
                           decision=decide(final, None, RouteOutcome.UNDELIVERABLE, why))
        why = "; ".join(f"{c.channel}: {c.outcome}" for c in tried)
        status = MessageStatus.UNREACHED if escalating else MessageStatus.UNREACHABLE
        return Attempt(Outcome(message.id, status, error=why), unreachable,
                       decision=decide(final, None, RouteOutcome.UNREACHABLE, why))

    @staticmethod
    def _dropped(message: QueuedMessage, situation: Situation, ruling: Ruling) -> Attempt:
        """A gate ended the message: delivered before and unanswered, staff follow it up; else nobody got it."""
        status = MessageStatus.UNREACHED if situation.escalating else MessageStatus.UNREACHABLE
        return Attempt(Outcome(message.id, status, error=ruling.text))

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

    async def _probe_and_send(self, sender: ChannelSender, candidate: Candidate, facts: Facts,
                              message: QueuedMessage, lease: datetime | None) -> DeliveryResult:
        """Before a first unsolicited message on a channel that can tell (VK), ask whether it may be written."""
        record = facts.records.get(candidate.channel)
        if self._probes(sender) and (record is None or record.delivered == 0):
            await self.pacer.take_turn(sender.profile, candidate.account_id, message, lease)
            allowed = await sender.allows(candidate.account_id)  # type: ignore[attr-defined]
            if allowed is False:
                return DeliveryResult(DeliveryOutcome.UNREACHABLE, detail="messages from the community not allowed")
        return await self._send(sender, candidate.account_id, message, lease)

    def _probes(self, sender: ChannelSender) -> bool:
        """Whether the channel can be asked before a first message (checked once per channel: isinstance on a
        protocol is slow)."""
        name = sender.profile.name
        if name not in self._can_probe:
            self._can_probe[name] = isinstance(sender, ReachabilityProbe)
        return self._can_probe[name]

    async def _send(self, sender: ChannelSender, account_id: str, message: QueuedMessage,
                    lease: datetime | None) -> DeliveryResult:
        try:
            rendered = self.templates.render(message.template, sender.profile, message.locale,
                                             {**message.params, "message_id": message.id})
            if message.broadcast_id is not None:  # every broadcast carries the way out of broadcasts
                rendered = with_opt_out(rendered, self.templates, sender.profile, message.locale)
        except CoreError as e:
            return DeliveryResult(DeliveryOutcome.FAILED, detail=str(e))
        await self.pacer.take_turn(sender.profile, account_id, message, lease)
        self.health.before_send(sender.profile.name)
        result = await sender.send(account_id, rendered, message.id)
        self.health.observe(sender.profile.name, result)
        await self.pacer.heed(sender.profile, account_id, result)
        return result
