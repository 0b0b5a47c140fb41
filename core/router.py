"""The optimal channel for one message to one person: the accounts the delivery policy let through, ranked.

The gates of ``core.gates`` first drop the accounts that cannot be used, with the reason kept
(the person blocked the bot, a letter bounced, an address was never proved, the platform does
not run that channel). While a message that asked for an answer escalates, an account it was
already delivered on without an answer goes last. The rest are ranked by the points below,
highest first:

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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.channels import ChannelName, ChannelProfile
from core.identity import ChannelAccount
from core.ports.routes import Candidate, ChannelRecord, Preference

if TYPE_CHECKING:
    from core.advertising import Marketing

RECENCY_POINTS = 40.0
RECENCY_HALF_LIFE = timedelta(days=7)
SUCCESS_POINTS = 20.0
ANSWER_POINTS = 20.0
PREFERENCE_POINTS = 100.0
COST_POINTS_PER_ROUBLE = 10.0
MAX_COST_POINTS = 50.0


@dataclass(frozen=True)
class Facts:
    """What the router knows of one person: their accounts, how each channel did, what they chose."""

    accounts: list[ChannelAccount]
    records: Mapping[ChannelName, ChannelRecord] = field(default_factory=dict)
    preference: Preference | None = None
    marketing: Marketing | None = None  # a broadcast message's advertising facts (None for any other message)


def account_key(channel: str, account_id: str) -> str:
    return f"{channel}:{account_id}"


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


def rank(facts: Facts, usable: list[ChannelAccount], profiles: Mapping[ChannelName, ChannelProfile], now: datetime,
         tried: list[str] | tuple[str, ...] = ()) -> list[Candidate]:
    """The usable accounts as candidates, best first.

    ``tried``: accounts a message that asked for an answer was already delivered on, unanswered;
    they go last (dropped) while an untried one remains, and all are usable again once none does.
    """
    ranked: list[Candidate] = []
    for account in usable:
        factors = score(account, facts, profiles[account.channel], now)
        ranked.append(Candidate(account.channel, account.external_id, round(sum(factors.values()), 2), factors))
    ranked.sort(key=lambda c: c.score or 0.0, reverse=True)
    untried = [c for c in ranked if account_key(c.channel, c.account_id) not in tried]
    if tried and untried:
        again = [replace(c, score=None, dropped="already tried, no answer") for c in ranked if c not in untried]
        return untried + again
    return ranked
