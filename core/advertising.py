"""The advertising consent (issue 19 §3; issue 22 §5.2): a person's own word, per channel, on news and offers,
apart from the personal-data consent and recorded with its time and source.

``/news`` gives it in the channel it is said in; ``/stop`` (or the button under every broadcast) withdraws it in
every channel the person has, as they asked us to stop. A broadcast marked advertising goes only to a channel
where it was given; any broadcast skips a channel where it was withdrawn. Transactional messages (receipt
answers, payouts, winner notices) are not broadcasts and never ask. The delivery gate
(``core.gates.advertising``) rules per message and channel; ``wanted`` keeps the segments' counts true.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core.channels import ChannelName, ChannelProfile
from core.identity import ChannelAccount
from core.ports import UnitOfWork
from core.ports.broadcasts import Recipient
from core.ports.messages import BroadcastSend, QueuedMessage
from core.ports.people import AdvertisingConsent
from core.templates import Rendered, Templates

SENDS_LOOKBACK = timedelta(days=8)  # a calendar week in the person's zone, wherever they are
OPT_OUT = "news.opt_out"  # the button under every broadcast message


@dataclass(frozen=True)
class Marketing:
    """What the gate needs of a broadcast message: whether it advertises, and its person's word per channel."""

    advertising: bool = False
    consents: Mapping[ChannelName, AdvertisingConsent] = field(default_factory=dict)
    sends: Sequence[BroadcastSend] = ()  # the person's recent and in-flight broadcasts, for the frequency caps


def may_receive(advertising: bool, consent: AdvertisingConsent | None) -> bool:
    """One channel: advertising needs a consent given there; any broadcast stops where it was withdrawn."""
    if consent is not None and not consent.given:
        return False
    return not advertising or consent is not None


async def wanted(tx: UnitOfWork, page: list[Recipient], advertising: bool) -> list[Recipient]:
    """The recipients some channel of theirs may carry the broadcast to (what the gate will let through)."""
    if not page:
        return page
    ids = [r.person_id for r in page]
    consents = await tx.people.advertising_of(ids)
    accounts = await tx.people.accounts_of_people(ids)
    return [r for r in page if _reachable(accounts.get(r.person_id, []), consents.get(r.person_id, {}), advertising)]


def _reachable(accounts: list[ChannelAccount], consents: Mapping[ChannelName, AdvertisingConsent],
               advertising: bool) -> bool:
    channels = {a.channel for a in accounts} or {None}  # a person with no account yet is still counted
    return any(may_receive(advertising, consents.get(c) if c else None) for c in channels)


def with_opt_out(rendered: Rendered, templates: Templates, profile: ChannelProfile, locale: str) -> Rendered:
    """A broadcast message with the way out of broadcasts under it (where the channel shows buttons)."""
    if OPT_OUT not in templates.entries:
        return rendered
    button = templates.render(OPT_OUT, profile, locale, {}).buttons
    return replace(rendered, buttons=rendered.buttons + button) if button else rendered


async def marketing_of(tx: UnitOfWork, messages: Sequence[QueuedMessage],
                       now: datetime) -> dict[int, Marketing]:
    """For each broadcast message of a batch, what the gates need: read at once for the whole batch."""
    broadcast = [m for m in messages if m.broadcast_id is not None]
    if not broadcast:
        return {}
    advertising: dict[int, bool] = {}
    for broadcast_id in {m.broadcast_id for m in broadcast if m.broadcast_id is not None}:
        found = await tx.broadcasts.get(broadcast_id)
        advertising[broadcast_id] = found is not None and found.advertising
    people = sorted({m.person_id for m in broadcast})
    consents = await tx.people.advertising_of(people)
    sends = await tx.messages.broadcast_sends(people, now - SENDS_LOOKBACK)
    return {m.id: Marketing(advertising[m.broadcast_id], consents.get(m.person_id, {}), sends.get(m.person_id, []))
            for m in broadcast if m.broadcast_id is not None}
