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

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from core import campaigns
from core.context import Context
from core.dispatch import keep, keep_photo, unkeep
from core.errors import Reject
from core.events import EventKind, InboundEvent
from core.machine import Action, Scenario, State, Transition, on
from core.ports.receipts import ReceiptStatus
from core.scenarios.campaigns import enter_chosen, is_campaign_button
from core.scenarios.registration import said_yes
from promo import ledger
from promo.campaigns import Award, Campaign, Refused, judge
from promo.receipts import (
    FiscalReceipt,
    ReceiptError,
    looks_fiscal,
    parse,
    parse_document_number,
    parse_fiscal_sign,
    parse_fn,
    parse_sum,
)

PHOTO, TEXT, BUTTON = EventKind.PHOTO, EventKind.TEXT, EventKind.BUTTON
FIELD_NAMES = {
    "ru": {"t": "дата и время", "s": "сумма", "fn": "ФН", "i": "ФД", "fp": "ФП", "n": "тип операции"},
    "en": {"t": "date and time", "s": "sum", "fn": "FN", "i": "FD", "fp": "FP", "n": "operation type"},
}
MANUAL_TIME_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%y %H:%M", "%Y-%m-%d %H:%M")
FIRST_CHECK_AFTER = timedelta(minutes=15)
MAX_QUEUE = 10
RECEIPT_KEYS = re.compile(r"(fn|fp|ат|аз)\s*=", re.IGNORECASE)


def looks_like_receipt(event: InboundEvent) -> bool:
    return event.kind is PHOTO or (event.kind is TEXT and bool(RECEIPT_KEYS.search(event.text)))


def starts_with_receipt(ctx: Context) -> bool:
    """An idle person's photo always; their text only when it looks like a receipt string."""
    return looks_like_receipt(ctx.event)


def another_receipt(ctx: Context) -> bool:
    return looks_like_receipt(ctx.event)


def _refusal(ctx: Context, error: ReceiptError) -> Reject:
    if error.reason == "not_fiscal":
        return Reject("receipt.not_fiscal")
    field = error.reason.split("_", 1)[1]
    template = "receipt.missing_field" if error.reason.startswith("missing_") else "receipt.bad_field"
    names = FIELD_NAMES.get(ctx.person.locale, FIELD_NAMES["ru"])
    return Reject(template, field=names.get(field, field))


def _from_photo(ctx: Context, event: InboundEvent, campaign: Campaign) -> FiscalReceipt:
    zone = campaign.zone
    texts = event.qr_texts or ()
    fiscal = next((t for t in texts if looks_fiscal(t, zone)), None)
    if fiscal is not None:
        return parse(fiscal, zone)
    for text in texts:  # a till receipt's code with one field wrong: name the field, as for typed strings
        try:
            parse(text, zone)
        except ReceiptError as e:
            if e.reason != "not_fiscal":
                raise _refusal(ctx, e) from e
    raise Reject(f"receipt.photo_{event.attachment_error or 'unreadable'}")


def _from_text(ctx: Context, text: str, campaign: Campaign) -> FiscalReceipt:
    try:
        return parse(text, campaign.zone)
    except ReceiptError as e:
        raise _refusal(ctx, e) from e


def _remember(ctx: Context, campaign: Campaign, receipt: FiscalReceipt, source: str) -> None:
    ctx.data.update(receipt=receipt.canonical(), source=source, campaign=campaign.code, campaign_title=campaign.name,
                    when=f"{receipt.issued_at.astimezone(campaign.zone):%d.%m.%Y %H:%M}",
                    sum=ledger.format_roubles(receipt.sum_kopecks), fn=f"{receipt.fn:016d}",
                    fd=str(receipt.document_number), fp=str(receipt.fiscal_sign))


async def _free_at(ctx: Context, campaign: Campaign, reason: str) -> str:
    """When the limit that refused a receipt lets the next one in, in the campaign's time."""
    if reason == "hourly_limit":
        times = await ctx.tx.receipts.times_since(ctx.person.id, campaign.code, ctx.now - timedelta(hours=1))
        moment = (times[0] if times else ctx.now) + timedelta(hours=1, minutes=1)
    else:
        moment = campaign.day_bounds(ctx.now)[1]
    local, today = moment.astimezone(campaign.zone), ctx.now.astimezone(campaign.zone).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%d.%m %H:%M}"


async def _judge(ctx: Context, campaign: Campaign, receipt: FiscalReceipt) -> Award:
    """The award, or ``Reject`` with the refusal: duplicates, campaign rules and limits."""
    existing = await ctx.tx.receipts.find(receipt.key)
    if existing is not None:
        if existing.person_id == ctx.person.id:
            raise Reject("receipt.refused_duplicate_own")
        await ctx.tx.receipts.flag(existing.id, ctx.person.id, "sent_by_another_person", ctx.now)
        raise Reject("receipt.refused_duplicate_other")
    usage = await ctx.tx.receipts.usage(ctx.person.id, campaign.code, campaign.day_bounds(ctx.now),
                                        ctx.now - timedelta(hours=1))
    try:
        return judge(campaign, receipt, usage, ctx.now)
    except Refused as refusal:
        free_at = await _free_at(ctx, campaign, refusal.reason) if refusal.reason.endswith("_limit") else ""
        raise Reject(f"receipt.refused_{refusal.reason}", min_sum=ledger.format_roubles(campaign.min_sum_kopecks),
                     per_day=campaign.receipts_per_day, per_hour=campaign.receipts_per_hour,
                     starts=f"{campaign.starts_on:%d.%m.%Y}", ends=f"{campaign.ends_on:%d.%m.%Y}",
                     free_at=free_at) from refusal


async def _consider(ctx: Context, campaign: Campaign, receipt: FiscalReceipt, source: str,
                    photo_ref: str | None = None) -> None:
    """Judge now what can be judged; on to confirmation only when the receipt would count."""
    award = await _judge(ctx, campaign, receipt)
    _remember(ctx, campaign, receipt, source)
    ctx.data["photo_ref"] = photo_ref
    ctx.data["cashback"] = ledger.format_roubles(award.cashback_kopecks)
    ctx.data["entries"] = award.entries
    ctx.data["awaits_items"] = award.awaits_items


def _confirm_state(ctx: Context) -> str:
    return "confirm_products" if ctx.data.get("awaits_items") else "confirm"


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
        await _consider(ctx, campaign, receipt_of(campaign), source, event.photo_ref)
    except Reject as refusal:
        if not refusal.template.startswith("receipt.refused_"):
            raise
        ctx.say(refusal.template, **refusal.params)
        return await _next_queued(ctx)
    return _confirm_state(ctx)


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
        receipt = _from_photo(ctx, event, last) if event.kind is PHOTO else _from_text(ctx, event.text, last)
        await _judge(ctx, last, receipt)
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
    return await _read(ctx, event, "photo", lambda campaign: _from_photo(ctx, event, campaign))


async def read_typed(ctx: Context) -> str:
    return await _read(ctx, ctx.event, "typed", lambda campaign: _from_text(ctx, ctx.event.text, campaign))


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
            receipt = _from_photo(ctx, event, campaign) if event.kind is PHOTO else \
                _from_text(ctx, event.text, campaign)
            await _consider(ctx, campaign, receipt, "photo" if event.kind is PHOTO else "typed", event.photo_ref)
        except Reject as refusal:
            ctx.say(refusal.template, **refusal.params)
            continue
        if announce:
            ctx.say("receipt.next_in_queue", left=len(queue))
        return _confirm_state(ctx)
    return "done"


async def manual_time(ctx: Context) -> None:
    text = " ".join(ctx.event.text.replace(",", " ").split())
    for pattern in MANUAL_TIME_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        ctx.data["manual"] = {"t": f"{moment:%Y%m%dT%H%M%S}"}
        return
    raise Reject("receipt.bad_manual_time")


def _manual_step(key: str, check: Callable[[str], object], template: str) -> Action:
    """One step of the manual chain: ``check`` the typed value, keep it under ``key``."""

    async def step(ctx: Context) -> None:
        value = ctx.event.text.strip()
        try:
            check(value)
        except ReceiptError as e:
            raise Reject(template) from e
        ctx.data.setdefault("manual", {})[key] = re.sub(r"\s", "", value).replace(",", ".")

    return step


async def manual_done(ctx: Context) -> str:
    await _manual_step("fp", parse_fiscal_sign, "receipt.bad_manual_fp")(ctx)
    fields = ctx.data["manual"]
    text = f"t={fields['t']}&s={fields['s']}&fn={fields['fn']}&i={fields['i']}&fp={fields['fp']}&n=1"
    typed = InboundEvent.from_text(ctx.event.channel, ctx.event.account_id, text)
    return await _read(ctx, typed, "manual", lambda campaign: _from_text(ctx, text, campaign))


async def hold_another(ctx: Context) -> str | None:
    """Another receipt while one awaits confirmation: kept, and the person chooses what to do with it."""
    queue: list[dict[str, Any]] = ctx.data.setdefault("queue", [])
    if len(queue) >= MAX_QUEUE:
        raise Reject("receipt.queue_full", limit=MAX_QUEUE)
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
    return _confirm_state(ctx)


async def drop_current(ctx: Context) -> str:
    return "awaiting" if not ctx.data.get("queue") else await _next_queued(ctx)


async def submit(ctx: Context) -> str:
    campaign = await ctx.tx.campaigns.get(ctx.data.get("campaign", ""))
    if campaign is None or not campaign.takes_receipts(ctx.now):
        ctx.say("campaign.not_running")
        return await _next_queued(ctx)
    receipt = parse(ctx.data["receipt"], campaign.zone)
    try:
        award = await _judge(ctx, campaign, receipt)  # again: a limit or a duplicate may have come meanwhile
    except Reject as refusal:
        ctx.say(refusal.template, **refusal.params)
        return await _next_queued(ctx)
    verifying = ctx.services.verify_receipts
    status = ReceiptStatus.VERIFYING if verifying else ReceiptStatus.MODERATION
    stored = await ctx.tx.receipts.add(ctx.person.id, campaign.code, receipt, ctx.data["source"], status, award,
                                       ctx.now, ctx.now + FIRST_CHECK_AFTER if verifying else None,
                                       photo_sha256=ctx.data.get("photo_ref"))
    if award.cashback_kopecks:
        await ctx.tx.ledger.post(ledger.accrual(ctx.person.id, award.cashback_kopecks), ctx.now,
                                 receipt_id=stored.id)
    balances = await ctx.tx.ledger.balances(ctx.person.id)
    if award.awaits_items:
        ctx.say("receipt.accepted_products" if verifying else "receipt.accepted_products_moderation",
                sum=ledger.format_roubles(receipt.sum_kopecks), campaign_title=campaign.name)
        return await _next_queued(ctx)
    ctx.say("receipt.accepted_verifying" if verifying else "receipt.accepted_moderation",
            sum=ledger.format_roubles(receipt.sum_kopecks), cashback=ledger.format_roubles(award.cashback_kopecks),
            entries=award.entries, capped="1" if award.capped else "",
            available=ledger.format_roubles(balances.get(ledger.LedgerAccount.AVAILABLE, 0)),
            pending=ledger.format_roubles(balances.get(ledger.LedgerAccount.PENDING, 0)))
    return await _next_queued(ctx)


def _typed_receipt(ctx: Context) -> bool:
    return bool(RECEIPT_KEYS.search(ctx.event.text))


NEXT = ("done", "confirm", "confirm_products", "campaign")  # where reading the next receipt may lead


def _confirming() -> tuple[Transition, ...]:
    return (
        on(BUTTON, payload="receipt:yes", action=submit, to="done", also=NEXT),
        on(TEXT, guard=said_yes, action=submit, to="done", also=NEXT, label="yes"),
        on(BUTTON, payload="receipt:no", action=drop_current, to="awaiting", also=NEXT),
        on(PHOTO, action=hold_another, also=("choose",), label="another photo"),
        on(TEXT, guard=_typed_receipt, action=hold_another, also=("choose",), label="another receipt"),
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
            on(BUTTON, payload="receipt:manual", to="manual_time"),
        )),
        State("manual_time", prompt="receipt.ask_time", transitions=(
            on(TEXT, action=manual_time, to="manual_sum", label="date and time"),)),
        State("manual_sum", prompt="receipt.ask_sum", transitions=(
            on(TEXT, action=_manual_step("s", parse_sum, "receipt.bad_manual_sum"), to="manual_fn", label="sum"),)),
        State("manual_fn", prompt="receipt.ask_fn", transitions=(
            on(TEXT, action=_manual_step("fn", parse_fn, "receipt.bad_manual_fn"), to="manual_fd", label="FN"),)),
        State("manual_fd", prompt="receipt.ask_fd", transitions=(
            on(TEXT, action=_manual_step("i", parse_document_number, "receipt.bad_manual_fd"), to="manual_fp",
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
