"""Choosing a campaign in the bot (``/campaigns``), and entering one by a pack's link (``/start <code>``).

A person's receipts go to the campaign they entered last; with one campaign running they are
in it without asking. The pack's link (``t.me/<bot>?start=<code>``, VK's ``ref``) enters its
campaign directly; an unknown or finished code is said plainly and nothing else changes.
"""

from __future__ import annotations

from core import campaigns
from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.machine import Scenario, State, on
from promo import ledger
from promo.campaigns import CODE, Campaign

BUTTON = EventKind.BUTTON


def describe(campaign: Campaign) -> dict[str, str]:
    """What the bot says about a campaign's rules."""
    return {"campaign_title": campaign.name, "starts": f"{campaign.starts_on:%d.%m.%Y}",
            "ends": f"{campaign.ends_on:%d.%m.%Y}", "min_sum": ledger.format_roubles(campaign.min_sum_kopecks),
            "percent": f"{campaign.cashback_percent.normalize():f}",
            "products": "1" if campaign.products is not None else ""}


async def enter_by_link(ctx: Context, payload: str) -> bool:
    """``/start <code>``: enter that campaign when it runs; False when the payload names no campaign."""
    code = payload.strip()
    if not CODE.match(code):
        return False
    campaign = await ctx.tx.campaigns.get(code)
    if campaign is None:
        return False
    try:
        await campaigns.enter(ctx.tx, ctx.person.id, code, "link", ctx.now)
    except campaigns.CampaignRefused:
        ctx.say("campaign.link_not_running", campaign_title=campaign.name)
        return True
    ctx.say("campaign.entered_by_link", **describe(campaign))
    return True


async def offer(ctx: Context) -> str:
    await campaigns.ensure_seeded(ctx.tx, ctx.services.campaign, ctx.now)
    open_now = await campaigns.running(ctx.tx, ctx.now)
    if not open_now:
        return "none"
    current = await campaigns.current_of(ctx.tx, ctx.person.id, ctx.now)
    ctx.data.update(campaigns.choice_params(open_now))
    ctx.data["current_title"] = current.name if current else ""
    return "choose"


def is_campaign_button(ctx: Context) -> bool:
    return ctx.event.payload.startswith("campaign:")


async def enter_chosen(ctx: Context) -> Campaign:
    """The campaign the person pressed (``campaign:<code>``) is entered; one no longer running is refused."""
    try:
        return await campaigns.enter(ctx.tx, ctx.person.id, ctx.event.payload.removeprefix("campaign:"),
                                     "chosen", ctx.now)
    except campaigns.CampaignRefused as e:
        raise Reject("campaign.not_running") from e


async def choose(ctx: Context) -> None:
    ctx.data.update(describe(await enter_chosen(ctx)))


CAMPAIGN_CHOICE = Scenario(
    name="campaigns",
    commands=("/campaigns",),
    words=("акции", "акция", "выбрать акцию", "campaigns", "promotions"),
    initial=("choose", "none"),
    entry=offer,
    states=(
        State("choose", prompt="campaign.choose", transitions=(
            on(BUTTON, guard=is_campaign_button, action=choose, to="chosen", label="campaign"),)),
        State("none", prompt="campaign.none_running", final=True),
        State("chosen", prompt="campaign.chosen", final=True),
    ),
)
