"""Judging a receipt before and after the person confirms it: duplicates, the campaign's rules and limits,
and, once confirmed, storing it with its cashback accrued and ``receipt.accepted`` said."""

from __future__ import annotations

from datetime import timedelta

from core.context import Context
from core.domain_events import Happened, event
from core.errors import Reject
from core.moments import shown_time
from core.ports.receipts import ReceiptStatus, StoredReceipt
from promo import ledger
from promo.campaigns import Award, Campaign, Refused, Usage, judge, limit_reached
from promo.receipts import FiscalReceipt

FIRST_CHECK_AFTER = timedelta(minutes=15)


def remember(ctx: Context, campaign: Campaign, receipt: FiscalReceipt, source: str) -> None:
    ctx.data.update(receipt=receipt.canonical(), source=source, campaign=campaign.code, campaign_title=campaign.name,
                    draw="1" if campaign.has_draw else "",  # no draw planned: its texts name no chances
                    when=f"{receipt.issued_at.astimezone(campaign.zone):%d.%m.%Y %H:%M}",
                    sum=ledger.format_roubles(receipt.sum_kopecks), fn=f"{receipt.fn:016d}",
                    fd=str(receipt.document_number), fp=str(receipt.fiscal_sign))


async def free_at_text(ctx: Context, campaign: Campaign, reason: str) -> str:
    """When the limit that refused a receipt lets the next one in, in the campaign's time, its zone said."""
    if reason == "hourly_limit":
        times = await ctx.tx.receipts.times_since(ctx.person.id, campaign.code, ctx.now - timedelta(hours=1))
        moment = (times[0] if times else ctx.now) + timedelta(hours=1, minutes=1)
    else:
        moment = campaign.day_bounds(ctx.now)[1]
    return shown_time(moment, campaign.zone, ctx.person.locale, today=ctx.now.astimezone(campaign.zone).date(),
                      year=False)


def _refused(ctx: Context, campaign: Campaign, reason: str) -> None:
    ctx.tx.events.add(event(Happened.RECEIPT_REFUSED, ctx.person.id, ctx.now, campaign=campaign.code, reason=reason))


async def judge_receipt(ctx: Context, campaign: Campaign, receipt: FiscalReceipt) -> Award:
    """The award, or ``Reject`` with the refusal: duplicates, campaign rules and limits."""
    existing = await ctx.tx.receipts.find(receipt.key)
    if existing is not None:
        if existing.person_id == ctx.person.id:
            _refused(ctx, campaign, "duplicate_own")
            raise Reject("receipt.refused_duplicate_own")
        await ctx.tx.receipts.flag(existing.id, ctx.person.id, "sent_by_another_person", ctx.now)
        _refused(ctx, campaign, "duplicate_other")
        raise Reject("receipt.refused_duplicate_other")
    try:
        return judge(campaign, receipt, await _usage(ctx, campaign), ctx.now)
    except Refused as refusal:
        _refused(ctx, campaign, refusal.reason)
        raise await _refusal(ctx, campaign, refusal.reason) from refusal


async def refuse_at_limit(ctx: Context, campaign: Campaign) -> None:
    """``Reject`` when the person may send no receipt now, whatever it is: said before they type one in."""
    reason = limit_reached(campaign, await _usage(ctx, campaign))
    if reason is not None:
        raise await _refusal(ctx, campaign, reason)


async def _usage(ctx: Context, campaign: Campaign) -> Usage:
    return await ctx.tx.receipts.usage(ctx.person.id, campaign.code, campaign.day_bounds(ctx.now),
                                       ctx.now - timedelta(hours=1))


async def _refusal(ctx: Context, campaign: Campaign, reason: str) -> Reject:
    free_at = await free_at_text(ctx, campaign, reason) if reason.endswith("_limit") else ""
    return Reject(f"receipt.refused_{reason}", min_sum=ledger.format_roubles(campaign.min_sum_kopecks),
                  per_day=campaign.receipts_per_day, per_hour=campaign.receipts_per_hour,
                  starts=f"{campaign.starts_on:%d.%m.%Y}", ends=f"{campaign.ends_on:%d.%m.%Y}", free_at=free_at)


async def consider(ctx: Context, campaign: Campaign, receipt: FiscalReceipt, source: str,
                    photo_ref: str | None = None) -> None:
    """Judge now what can be judged; on to confirmation only when the receipt would count."""
    award = await judge_receipt(ctx, campaign, receipt)
    remember(ctx, campaign, receipt, source)
    ctx.data["photo_ref"] = photo_ref
    ctx.data["cashback"] = ledger.format_roubles(award.cashback_kopecks)
    ctx.data["entries"] = award.entries
    ctx.data["awaits_items"] = award.awaits_items


def confirm_state(ctx: Context) -> str:
    return "confirm_products" if ctx.data.get("awaits_items") else "confirm"


async def store_accepted(ctx: Context, campaign: Campaign, receipt: FiscalReceipt, award: Award) -> StoredReceipt:
    """The confirmed receipt, stored to be checked (or moderated), its cashback pending meanwhile."""
    verifying = ctx.services.verify_receipts
    status = ReceiptStatus.VERIFYING if verifying else ReceiptStatus.MODERATION
    stored = await ctx.tx.receipts.add(ctx.person.id, campaign.code, receipt, ctx.data["source"], status, award,
                                       ctx.now, ctx.now + FIRST_CHECK_AFTER if verifying else None,
                                       photo_sha256=ctx.data.get("photo_ref"))
    if award.cashback_kopecks:
        await ctx.tx.ledger.post(ledger.accrual(ctx.person.id, award.cashback_kopecks), ctx.now,
                                 receipt_id=stored.id)
    ctx.tx.events.add(event(Happened.RECEIPT_ACCEPTED, ctx.person.id, ctx.now, receipt_id=stored.id,
                            campaign=campaign.code, total_kopecks=receipt.sum_kopecks,
                            cashback_kopecks=award.cashback_kopecks, entries=award.entries, status=status.value))
    return stored
