"""Campaigns managed: create, edit, activate, finish; which campaign a person's receipts go to.

The staff console and the command line call these with a unit of work and get plain records
back. The ``CAMPAIGN_*`` settings are only the seed: when the store holds no campaign at all,
the seed is stored as the first (active) one, so a platform that ran on settings keeps its
receipts' campaign code and limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from core.draws import NO_SEED_KEY, SeedSeal, schedule_draws
from core.errors import ConflictError, CoreError
from core.ports import Store, UnitOfWork
from core.ports.draws import Draw
from promo.campaigns import Campaign, CampaignStatus

log = logging.getLogger(__name__)

MAX_CHOICES = 6  # campaigns offered as buttons at once


class CampaignRefused(CoreError):
    """A campaign operation that cannot be done; ``reason`` is stable, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CampaignView:
    """A campaign with its scheduled draws, as the console and the command line show it."""

    campaign: Campaign
    draws: list[Draw]


async def ensure_seeded(tx: UnitOfWork, seed: Campaign | None, now: datetime) -> None:
    """Store the settings' campaign as the first one when there is none yet (its draws scheduled); one seeded
    before ``CAMPAIGN_TITLE`` existed gets its title, so people never see its code."""
    if seed is None:
        return
    stored = await tx.campaigns.all()
    seeded = next((c for c in stored if c.code == seed.code), None)
    if seeded is not None and not seeded.title and seed.title:
        await tx.campaigns.save(replace(seeded, title=seed.title), now)
    if stored:
        return
    active = replace(seed, status=CampaignStatus.ACTIVE)
    await tx.campaigns.add(active, now)
    await schedule_draws(tx, active, now)


async def seed_at_start(store: Store, seed: Campaign | None, now: datetime) -> None:
    """``ensure_seeded`` in a transaction of its own, as a process starts. Several processes starting at once
    may all see no campaign: the first stores it, the others' insert conflicts, and the seed is there."""
    try:
        async with store.transaction() as tx:
            await ensure_seeded(tx, seed, now)
    except ConflictError:
        log.info("the first campaign was seeded by another process")


async def get(tx: UnitOfWork, code: str) -> Campaign:
    campaign = await tx.campaigns.get(code)
    if campaign is None:
        raise CampaignRefused("unknown", f"no campaign {code!r}")
    return campaign


async def view(tx: UnitOfWork, code: str) -> CampaignView:
    campaign = await get(tx, code)
    return CampaignView(campaign, await tx.draws.of_campaign(code))


async def listing(tx: UnitOfWork) -> list[Campaign]:
    return await tx.campaigns.all()


async def create(tx: UnitOfWork, campaign: Campaign, now: datetime) -> Campaign:
    """A new campaign, always as a draft: nobody can enter it before it is activated."""
    draft = replace(campaign, status=CampaignStatus.DRAFT)
    try:
        await tx.campaigns.add(draft, now)
    except ConflictError as e:
        raise CampaignRefused("exists", f"campaign {campaign.code!r} exists already") from e
    return draft


async def edit(tx: UnitOfWork, campaign: Campaign, now: datetime) -> Campaign:
    """New rules for a campaign. A draft changes freely; a running one keeps its period and draws,
    whose commitments are already published; a finished one does not change."""
    current = await get(tx, campaign.code)
    if current.status is CampaignStatus.FINISHED:
        raise CampaignRefused("finished", f"campaign {campaign.code!r} is finished and cannot change")
    if current.status is CampaignStatus.ACTIVE and (
            (campaign.starts_on, campaign.zone, campaign.draws, campaign.draw_rules)
            != (current.starts_on, current.zone, current.draws, current.draw_rules)):
        raise CampaignRefused("running", "a running campaign keeps its start, time zone, draws and draw rules: "
                                         "their commitments and beacon rounds are published")
    changed = replace(campaign, status=current.status)
    await tx.campaigns.save(changed, now)
    return changed


async def activate(tx: UnitOfWork, code: str, now: datetime, seal: SeedSeal | None = None) -> CampaignView:
    """Open the campaign to people; each draw's seed is generated (sealed with ``seal``, from DRAW_SEED_KEY), its
    commitment and its beacon round published now."""
    campaign = await get(tx, code)
    if campaign.status is not CampaignStatus.DRAFT:
        raise CampaignRefused("not_draft", f"campaign {code!r} is {campaign.status.value}, not a draft")
    if now >= campaign.ends_at:
        raise CampaignRefused("over", f"campaign {code!r} ended on {campaign.ends_on:%d.%m.%Y}")
    if campaign.draws and seal is None:
        raise CampaignRefused("no_seed_key", NO_SEED_KEY)
    active = replace(campaign, status=CampaignStatus.ACTIVE)
    await tx.campaigns.save(active, now)
    await schedule_draws(tx, active, now, seal)
    return await view(tx, code)


async def finish(tx: UnitOfWork, code: str, now: datetime) -> Campaign:
    """Take no more receipts; scheduled draws stay and may still be run."""
    campaign = await get(tx, code)
    if campaign.status is CampaignStatus.FINISHED:
        return campaign
    finished = replace(campaign, status=CampaignStatus.FINISHED)
    await tx.campaigns.save(finished, now)
    return finished


async def running(tx: UnitOfWork, now: datetime) -> list[Campaign]:
    """Campaigns a person can enter now: active and not over."""
    return [c for c in await tx.campaigns.all() if c.takes_receipts(now)]


async def current_of(tx: UnitOfWork, person_id: int, now: datetime) -> Campaign | None:
    """The campaign the person's receipts go to: the one they entered last, if still running; else the
    only running campaign (entered for them); None when they must choose (or nothing runs)."""
    open_now = await running(tx, now)
    by_code = {c.code: c for c in open_now}
    for membership in await tx.campaigns.memberships(person_id):
        if membership.campaign in by_code:
            return by_code[membership.campaign]
    if len(open_now) == 1:
        await tx.campaigns.join(person_id, open_now[0].code, "only", now)
        return open_now[0]
    return None


async def enter(tx: UnitOfWork, person_id: int, code: str, source: str, now: datetime) -> Campaign:
    """The person enters a running campaign (a pack's link, or a choice in the bot): it becomes their current."""
    campaign = await tx.campaigns.get(code)
    if campaign is None or not campaign.takes_receipts(now):
        raise CampaignRefused("not_running", f"campaign {code!r} is not running")
    await tx.campaigns.join(person_id, code, source, now)
    return campaign


def choice_params(campaigns: list[Campaign]) -> dict[str, str]:
    """Button parameters for up to ``MAX_CHOICES`` campaigns: ``code_1``, ``title_1``, … (empty ones drop)."""
    params = {}
    for index in range(1, MAX_CHOICES + 1):
        campaign = campaigns[index - 1] if index <= len(campaigns) else None
        params[f"code_{index}"] = campaign.code if campaign else ""
        params[f"title_{index}"] = campaign.name if campaign else ""
    params["count"] = str(len(campaigns))
    return params
