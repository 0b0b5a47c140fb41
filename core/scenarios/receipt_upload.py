"""Receipt upload: a photo or the typed QR string -> the details to confirm -> the result.

Everything that can be judged before asking is judged before asking: a duplicate, a date
outside the campaign, a limit reached (with the time it frees up) are said at once, not
after "Да". When no QR code can be read, the person can type the five numbers printed on
the receipt instead (date and time, sum, FN, FD, FP), each checked as it comes. A second
receipt sent while one awaits confirmation is never dropped: the person chooses to put it
in place of the first or after it. Every refusal says exactly why.

A receipt goes to the person's current campaign (``core.campaigns.current_of``); when several
run and the person has not chosen, the receipt waits while they choose. Under product rules
the award is decided once the receipt check has returned the items; the person is told so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import campaigns
from core.context import Context
from core.dispatch import keep, keep_photo, unkeep
from core.errors import Reject
from core.events import EventKind, InboundEvent
from core.machine import Scenario, State, Transition, on
from core.scenarios.campaigns import enter_chosen, is_campaign_button
from core.scenarios.receipt_judging import confirm_state, consider, judge_receipt, refuse_at_limit, store_accepted
from core.scenarios.receipt_reading import (
    from_photo,
    from_text,
    manual_step,
    manual_time,
    receipt_of,
    starts_with_receipt,
    typed_receipt,
)
from core.scenarios.registration import said_yes
from promo import ledger
from promo.campaigns import Campaign
from promo.receipts import FiscalReceipt, parse, parse_document_number, parse_fiscal_sign, parse_fn, parse_sum

PHOTO, TEXT, BUTTON = EventKind.PHOTO, EventKind.TEXT, EventKind.BUTTON
MAX_QUEUE = 10


async def _campaign_for(ctx: Context) -> Campaign | None:
    """The person's current campaign (the settings' seed is stored first when there is none at all)."""
    await campaigns.ensure_seeded(ctx.tx, ctx.services.campaign, ctx.now)
    return await campaigns.current_of(ctx.tx, ctx.person.id, ctx.now)


async def _read(ctx: Context, event: InboundEvent, source: str,
                receipt_of: Callable[[Campaign], FiscalReceipt]) -> str:
    """Read one receipt into the person's campaign; when they must choose one first, it waits for the choice."""
    campaign = await _campaign_for(ctx)
    if campaign is None:
        return await _ask_campaign(ctx, event)
    try:
        await consider(ctx, campaign, receipt_of(campaign), source, event.photo_ref)
    except Reject as refusal:
        if not refusal.template.startswith("receipt.refused_"):
            raise
        ctx.say(refusal.template, **refusal.params)
        return await _next_queued(ctx)
    return confirm_state(ctx)


async def _ask_campaign(ctx: Context, event: InboundEvent) -> str:
    open_now = await campaigns.running(ctx.tx, ctx.now)
    if not open_now:
        return await _nothing_running(ctx, event)
    ctx.data.setdefault("queue", []).insert(0, keep(event))
    ctx.data.update(campaigns.choice_params(open_now))
    return "campaign"


async def _nothing_running(ctx: Context, event: InboundEvent) -> str:
    """No campaign takes receipts: the one the person was in says why this receipt does not count."""
    entered = await ctx.tx.campaigns.memberships(ctx.person.id)
    last = await ctx.tx.campaigns.get(entered[0].campaign) if entered else None
    if last is None:
        ctx.say("campaign.none_running")
        return "done"
    try:
        receipt = receipt_of(ctx, event, last)
        await judge_receipt(ctx, last, receipt)
    except Reject as refusal:
        ctx.say(refusal.template, **refusal.params)
        return "done"
    ctx.say("campaign.over", campaign_title=last.name, ends=f"{last.ends_on:%d.%m.%Y}")
    return "done"


async def campaign_chosen(ctx: Context) -> str:
    """The person chose where the waiting receipt goes: it is read now, into that campaign."""
    campaign = await enter_chosen(ctx)
    ctx.say("campaign.entered", campaign_title=campaign.name)
    return await _next_queued(ctx, announce=False)


async def read_photo(ctx: Context) -> str:
    event = await keep_photo(ctx)  # staff may need to see it: the person never sends it twice
    return await _read(ctx, event, "photo", lambda campaign: from_photo(ctx, event, campaign))


async def read_typed(ctx: Context) -> str:
    return await _read(ctx, ctx.event, "typed", lambda campaign: from_text(ctx, ctx.event.text, campaign))


async def _next_queued(ctx: Context, announce: bool = True) -> str:
    """The next receipt the person queued, judged; "done" when none is left that counts."""
    queue: list[dict[str, Any]] = ctx.data.setdefault("queue", [])
    while queue:
        event = unkeep(queue[0], ctx.event)
        campaign = await _campaign_for(ctx)
        if campaign is None:
            queue.pop(0)
            return await _ask_campaign(ctx, event)
        queue.pop(0)
        try:
            receipt = receipt_of(ctx, event, campaign)
            await consider(ctx, campaign, receipt, "photo" if event.kind is PHOTO else "typed", event.photo_ref)
        except Reject as refusal:
            ctx.say(refusal.template, **refusal.params)
            continue
        if announce:
            ctx.say("receipt.next_in_queue", left=len(queue))
        return confirm_state(ctx)
    return "done"


async def start_manual(ctx: Context) -> str | None:
    """Typing a receipt in takes five answers: a limit the person is already at is said before the first."""
    campaign = await _campaign_for(ctx)
    if campaign is None:  # several run and none is chosen: the choice comes once the receipt is typed
        return None
    try:
        await refuse_at_limit(ctx, campaign)
    except Reject as refusal:
        ctx.say(refusal.template, **refusal.params)
        return "done"
    return None


async def manual_done(ctx: Context) -> str:
    await manual_step("fp", parse_fiscal_sign, "receipt.bad_manual_fp")(ctx)
    fields = ctx.data["manual"]
    text = f"t={fields['t']}&s={fields['s']}&fn={fields['fn']}&i={fields['i']}&fp={fields['fp']}&n=1"
    typed = InboundEvent.from_text(ctx.event.channel, ctx.event.account_id, text)
    return await _read(ctx, typed, "manual", lambda campaign: from_text(ctx, text, campaign))


async def hold_another(ctx: Context) -> str | None:
    """Another receipt while one awaits confirmation: kept, and the person chooses what to do with it. It is
    called a receipt only once read: a photo with no receipt on it is told why, and the question stays."""
    queue: list[dict[str, Any]] = ctx.data.setdefault("queue", [])
    if len(queue) >= MAX_QUEUE:
        raise Reject("receipt.queue_full", limit=MAX_QUEUE)
    campaign = await ctx.tx.campaigns.get(ctx.data.get("campaign", ""))
    if campaign is not None:
        receipt_of(ctx, ctx.event, campaign)  # Reject: no QR code, a blurry one, a field wrong…
    event = await keep_photo(ctx)
    if event.replayed:  # sent before registering, in this order: it simply waits its turn
        queue.append(keep(event))
        ctx.say("receipt.queued", position=len(queue))
        return None
    ctx.data["incoming"] = keep(event)
    return "choose"


async def replace_current(ctx: Context) -> str:
    incoming = ctx.data.pop("incoming", None)
    if incoming is not None:
        ctx.data.setdefault("queue", []).insert(0, incoming)
    return await _next_queued(ctx)


async def queue_incoming(ctx: Context) -> str:
    incoming = ctx.data.pop("incoming", None)
    if incoming is not None:
        ctx.data.setdefault("queue", []).append(incoming)
        ctx.say("receipt.queued", position=len(ctx.data["queue"]))
    return confirm_state(ctx)


async def drop_current(ctx: Context) -> str:
    return "awaiting" if not ctx.data.get("queue") else await _next_queued(ctx)


async def submit(ctx: Context) -> str:
    campaign = await ctx.tx.campaigns.get(ctx.data.get("campaign", ""))
    if campaign is None or not campaign.takes_receipts(ctx.now):
        ctx.say("campaign.not_running")
        return await _next_queued(ctx)
    receipt = parse(ctx.data["receipt"], campaign.zone)
    try:
        award = await judge_receipt(ctx, campaign, receipt)  # again: a limit or a duplicate may have come meanwhile
    except Reject as refusal:
        ctx.say(refusal.template, **refusal.params)
        return await _next_queued(ctx)
    await store_accepted(ctx, campaign, receipt, award)
    verifying = ctx.services.verify_receipts
    balances = await ctx.tx.ledger.balances(ctx.person.id)
    if award.awaits_items:
        ctx.say("receipt.accepted_products" if verifying else "receipt.accepted_products_moderation",
                sum=ledger.format_roubles(receipt.sum_kopecks), campaign_title=campaign.name,
                draw="1" if campaign.has_draw else "")
        return await _next_queued(ctx)
    ctx.say("receipt.accepted_verifying" if verifying else "receipt.accepted_moderation",
            sum=ledger.format_roubles(receipt.sum_kopecks), cashback=ledger.format_roubles(award.cashback_kopecks),
            entries=award.entries, capped="1" if award.capped else "", draw="1" if campaign.has_draw else "",
            available=ledger.format_roubles(balances.get(ledger.LedgerAccount.AVAILABLE, 0)),
            pending=ledger.format_roubles(balances.get(ledger.LedgerAccount.PENDING, 0)))
    return await _next_queued(ctx)


NEXT = ("done", "confirm", "confirm_products", "campaign")  # where reading the next receipt may lead


def _confirming() -> tuple[Transition, ...]:
    return (
        on(BUTTON, payload="receipt:yes", action=submit, to="done", also=NEXT),
        on(TEXT, guard=said_yes, action=submit, to="done", also=NEXT, label="yes"),
        on(BUTTON, payload="receipt:no", action=drop_current, to="awaiting", also=NEXT),
        on(PHOTO, action=hold_another, also=("choose",), label="another photo"),
        on(TEXT, guard=typed_receipt, action=hold_another, also=("choose",), label="another receipt"),
    )


RECEIPT_UPLOAD = Scenario(
    name="receipt",
    commands=("/receipt", "/check"),
    words=("чек", "загрузить чек", "receipt", "upload a receipt"),
    takes_args=True,
    starts_on=frozenset({PHOTO, TEXT}),
    starts_when=starts_with_receipt,
    kept_until_registered=True,
    initial=("awaiting",),
    states=(
        State("awaiting", prompt="receipt.ask", transitions=(
            on(PHOTO, action=read_photo, to="confirm", also=NEXT, label="photo"),
            on(TEXT, action=read_typed, to="confirm", also=NEXT, label="QR string"),
            on(BUTTON, payload="receipt:manual", action=start_manual, to="manual_time", also=("done",)),
        )),
        State("manual_time", prompt="receipt.ask_time", transitions=(
            on(TEXT, action=manual_time, to="manual_sum", label="date and time"),)),
        State("manual_sum", prompt="receipt.ask_sum", transitions=(
            on(TEXT, action=manual_step("s", parse_sum, "receipt.bad_manual_sum"), to="manual_fn", label="sum"),)),
        State("manual_fn", prompt="receipt.ask_fn", transitions=(
            on(TEXT, action=manual_step("fn", parse_fn, "receipt.bad_manual_fn"), to="manual_fd", label="FN"),)),
        State("manual_fd", prompt="receipt.ask_fd", transitions=(
            on(TEXT, action=manual_step("i", parse_document_number, "receipt.bad_manual_fd"), to="manual_fp",
               label="FD"),)),
        State("manual_fp", prompt="receipt.ask_fp", transitions=(
            on(TEXT, action=manual_done, to="confirm", also=NEXT, label="FP"),)),
        State("campaign", prompt="receipt.choose_campaign", transitions=(
            on(BUTTON, guard=is_campaign_button, action=campaign_chosen, to="confirm", also=NEXT, label="campaign"),)),
        State("confirm", prompt="receipt.confirm", transitions=_confirming()),
        State("confirm_products", prompt="receipt.confirm_products", transitions=_confirming()),
        State("choose", prompt="receipt.another", transitions=(
            on(BUTTON, payload="receipt:replace", action=replace_current, to="confirm", also=NEXT),
            on(BUTTON, payload="receipt:queue", action=queue_incoming, to="confirm", also=("confirm_products",)),
        )),
        State("done", final=True),
    ),
)
