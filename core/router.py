"""The optimal channel for one message to one person: every account judged, the reachable ones ranked.

Candidates are the person's accounts. An account is dropped, with the reason kept, when it
cannot be used: the person blocked the bot or the channel refused it (``unreachable_since``),
an e-mail bounced or was unsubscribed, an address or number was never verified, the platform
does not run that channel, or — while a message that asked for an answer escalates — it was
already tried without an answer. The rest are ranked by the points below, highest first:

* recency: the person's own activity there (their last message, or when they proved the
  address), halving every ``RECENCY_HALF_LIFE``;
* success and answers: how deliveries there went, and how often the person answered there;
* preference: the channel the person chose with ``/channel``;
* cost: a paid channel (SMS) loses points for what one message costs.

The outbox sends on the best and falls back to the next; every routing is kept as a
``RouteDecision`` with all candidates, their points and the reasons for the dropped ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.channels import EMAIL, SMS, ChannelName, ChannelProfile
from core.identity import ChannelAccount
from core.ports.routes import Candidate, ChannelRecord, Preference

RECENCY_POINTS = 40.0
RECENCY_HALF_LIFE = timedelta(days=7)
SUCCESS_POINTS = 20.0
ANSWER_POINTS = 20.0
PREFERENCE_POINTS = 100.0
COST_POINTS_PER_ROUBLE = 10.0
MAX_COST_POINTS = 50.0
VERIFIED_ONLY = (EMAIL, SMS)  # typed addresses and numbers may be someone else's: never written to unproven


@dataclass(frozen=True)
class Facts:
    """What the router knows of one person: their accounts, how each channel did, what they chose."""

    accounts: list[ChannelAccount]
    records: Mapping[ChannelName, ChannelRecord] = field(default_factory=dict)
    preference: Preference | None = None


def account_key(channel: str, account_id: str) -> str:
    return f"{channel}:{account_id}"


def dropped_because(account: ChannelAccount, profiles: Mapping[ChannelName, ChannelProfile]) -> str | None:
    if account.channel not in profiles:
        return "channel not running"
    if account.unreachable_since is not None:
        why = account.unreachable_reason or "unreachable"
        return f"{why} (since {account.unreachable_since:%Y-%m-%d %H:%M} UTC)"
    if account.channel in VERIFIED_ONLY and not account.verified:
        return "not verified"
    return None


def score(account: ChannelAccount, facts: Facts, profile: ChannelProfile, now: datetime) -> dict[str, float]:
    """The points of one usable account, by factor."""
    factors: dict[str, float] = {}
    active = account.last_seen_at or account.verified_at
    if active is not None:
        age = max((now - active).total_seconds(), 0.0)
        factors["recency"] = round(RECENCY_POINTS * 0.5 ** (age / RECENCY_HALF_LIFE.total_seconds()), 2)
    else:
        factors["recency"] = 0.0
    record = facts.records.get(account.channel, ChannelRecord())
    factors["success"] = round(SUCCESS_POINTS * (record.delivered + 1) / (record.delivered + record.failed + 2), 2)
    factors["answers"] = round(ANSWER_POINTS * (record.acknowledged + 1) / (record.asked + 2), 2)
    if facts.preference is not None and facts.preference.channel == account.channel:
        factors["preference"] = PREFERENCE_POINTS
    if profile.cost_kopecks:
        factors["cost"] = -min(profile.cost_kopecks / 100 * COST_POINTS_PER_ROUBLE, MAX_COST_POINTS)
    return factors


def rank(facts: Facts, profiles: Mapping[ChannelName, ChannelProfile], now: datetime,
         tried: list[str] | tuple[str, ...] = ()) -> list[Candidate]:
    """Every account as a candidate: the usable ones best first, then the dropped ones with their reasons.

    ``tried``: accounts a message that asked for an answer was already delivered on, unanswered;
    they go last (dropped) while an untried one remains, and all are usable again once none does.
    """
    usable: list[Candidate] = []
    dropped: list[Candidate] = []
    for account in facts.accounts:
        reason = dropped_because(account, profiles)
        if reason is not None:
            dropped.append(Candidate(account.channel, account.external_id, dropped=reason))
            continue
        factors = score(account, facts, profiles[account.channel], now)
        usable.append(Candidate(account.channel, account.external_id, round(sum(factors.values()), 2), factors))
    usable.sort(key=lambda c: c.score or 0.0, reverse=True)
    untried = [c for c in usable if account_key(c.channel, c.account_id) not in tried]
    if tried and untried:
        again = [replace(c, score=None, dropped="already tried, no answer") for c in usable if c not in untried]
        return untried + again + dropped
    return usable + dropped


@dataclass(frozen=True)
class QuietHours:
    """Hours when notices wait (in the person's time zone): ``start`` to ``end``, across midnight if needed."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``22:00-09:00``; empty or ``off``: none."""
        text = text.strip().lower()
        if text in ("", "off", "none"):
            return None
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as e:
            raise ValueError(f"expected HH:MM-HH:MM, got {text!r}") from e
        return cls(start, end)

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours around ``now`` end (UTC-aware), or None when ``now`` is not in them."""
        local = now.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(now.tzinfo)
