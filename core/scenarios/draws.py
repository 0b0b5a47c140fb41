"""``/draws``: the person's chances in each campaign they entered, the next draw's date and its commitment.

The commitment (SHA-256 of the draw's secret seed) is shown before the draw, so anyone can
later check that the seed revealed in the protocol is the one fixed in advance.
"""

from __future__ import annotations

from core import campaigns
from core.context import Context
from core.machine import Scenario, State
from core.ports import ReceiptStatus
from core.ports.draws import DrawStatus
from promo.beacon import chain

# plain text: it is a parameter of the template, and parameters are escaped for HTML channels
LINES = {
    "ru": {"campaign": "«{title}»\nВаши шансы: {entries}{pending}",
           "pending": " (ещё {count} — после проверки чеков)",
           "next": "Следующий розыгрыш: {when}\nОбязательство (SHA-256 зерна): {commitment}",
           "beacon": "В зерно войдёт публичный раунд drand №{round} ({when} UTC)",
           "no_next": "Розыгрышей больше не запланировано."},
    "en": {"campaign": "“{title}”\nYour chances: {entries}{pending}",
           "pending": " ({count} more once receipts are checked)",
           "next": "Next draw: {when}\nCommitment (SHA-256 of the seed): {commitment}",
           "beacon": "The seed will be mixed with public drand round #{round} ({when} UTC)",
           "no_next": "No more draws are scheduled."},
}


async def summarise(ctx: Context) -> None:
    await campaigns.ensure_seeded(ctx.tx, ctx.services.campaign, ctx.now)
    current = await campaigns.current_of(ctx.tx, ctx.person.id, ctx.now)
    codes = list(dict.fromkeys([*([current.code] if current else []),
                                *(m.campaign for m in await ctx.tx.campaigns.memberships(ctx.person.id))]))
    words = LINES.get(ctx.person.locale, LINES["ru"])
    receipts = await ctx.tx.receipts.of_person(ctx.person.id)
    blocks = []
    for code in codes:
        campaign = await ctx.tx.campaigns.get(code)
        if campaign is None:
            continue
        mine = [r for r in receipts if r.campaign == code]
        counted = sum(r.entries for r in mine if r.status is ReceiptStatus.ACCEPTED)
        waiting = sum(r.entries for r in mine if r.status in (ReceiptStatus.VERIFYING, ReceiptStatus.MODERATION))
        pending = words["pending"].format(count=waiting) if waiting else ""
        lines = [words["campaign"].format(title=campaign.name, entries=counted, pending=pending)]
        upcoming = [d for d in await ctx.tx.draws.of_campaign(code) if d.status is DrawStatus.SCHEDULED]
        if upcoming:
            draw = upcoming[0]
            lines.append(words["next"].format(when=f"{draw.draw_at.astimezone(campaign.zone):%d.%m.%Y %H:%M}",
                                              commitment=draw.commitment))
            if draw.beacon_round is not None and draw.beacon_chain:
                moment = chain(draw.beacon_chain).time_of(draw.beacon_round)
                lines.append(words["beacon"].format(round=draw.beacon_round, when=f"{moment:%d.%m.%Y %H:%M}"))
        else:
            lines.append(words["no_next"])
        blocks.append("\n".join(lines))
    ctx.data["summary"] = "\n\n".join(blocks)
    ctx.data["has_any"] = "1" if blocks else ""


async def answer(ctx: Context) -> None:
    await summarise(ctx)
    ctx.say("draws.summary" if ctx.data["has_any"] else "draws.none", summary=ctx.data["summary"])


DRAWS = Scenario(
    name="draws", commands=("/draws",), words=("розыгрыш", "розыгрыши", "мои шансы", "draws", "my chances"),
    aside=True, initial=("shown",), states=(State("shown", on_enter=answer, final=True),),
)
