"""Receipt upload: a photo or the typed QR string -> the details to confirm -> the result.

When no QR code can be read, the person can type the five numbers printed on the
receipt instead (date and time, sum, FN, FD, FP), each checked as it comes.
Every refusal says exactly why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.machine import Action, Scenario, State, on
from core.scenarios.registration import said_yes
from promo import ledger
from promo.campaigns import Refused, judge
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
FIELD_NAMES = {"t": "date and time", "s": "sum", "fn": "FN", "i": "FD", "fp": "FP", "n": "operation type"}
MANUAL_TIME_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%y %H:%M", "%Y-%m-%d %H:%M")
FIRST_CHECK_AFTER = timedelta(minutes=15)


def starts_with_receipt(ctx: Context) -> bool:
    """An idle person's photo always; their text only when it looks like a receipt string."""
    event = ctx.event
    return event.kind is PHOTO or bool(re.search(r"(fn|fp|ат|аз)\s*=", event.text, re.IGNORECASE))


def _remember(ctx: Context, receipt: FiscalReceipt, source: str) -> None:
    local = receipt.issued_at.astimezone(ctx.services.campaign.zone)
    ctx.data.update(receipt=receipt.canonical(), source=source, when=f"{local:%d.%m.%Y %H:%M}",
                    sum=ledger.format_roubles(receipt.sum_kopecks), fn=f"{receipt.fn:016d}",
                    fd=str(receipt.document_number), fp=str(receipt.fiscal_sign))


def _refusal(error: ReceiptError) -> Reject:
    if error.reason == "not_fiscal":
        return Reject("receipt.not_fiscal")
    field = error.reason.split("_", 1)[1]
    template = "receipt.missing_field" if error.reason.startswith("missing_") else "receipt.bad_field"
    return Reject(template, field=FIELD_NAMES.get(field, field))


async def read_photo(ctx: Context) -> None:
    event = ctx.event
    problem = event.attachment_error
    if problem or event.qr_texts is None:
        raise Reject(f"receipt.photo_{problem or 'unreadable'}")
    zone = ctx.services.campaign.zone
    text = next(t for t in event.qr_texts if looks_fiscal(t, zone))
    _remember(ctx, parse(text, zone), "photo")


async def read_typed(ctx: Context) -> None:
    try:
        receipt = parse(ctx.event.text, ctx.services.campaign.zone)
    except ReceiptError as e:
        raise _refusal(e) from e
    _remember(ctx, receipt, "typed")


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


async def manual_done(ctx: Context) -> None:
    await _manual_step("fp", parse_fiscal_sign, "receipt.bad_manual_fp")(ctx)
    fields = ctx.data["manual"]
    text = f"t={fields['t']}&s={fields['s']}&fn={fields['fn']}&i={fields['i']}&fp={fields['fp']}&n=1"
    try:
        receipt = parse(text, ctx.services.campaign.zone)
    except ReceiptError as e:
        raise _refusal(e) from e
    _remember(ctx, receipt, "manual")


async def submit(ctx: Context) -> None:
    campaign = ctx.services.campaign
    receipt = parse(ctx.data["receipt"], campaign.zone)
    existing = await ctx.tx.find_receipt(receipt.key)
    if existing is not None:
        if existing.person_id == ctx.person.id:
            ctx.say("receipt.refused_duplicate_own")
        else:
            await ctx.tx.flag_receipt(existing.id, ctx.person.id, "sent_by_another_person", ctx.now)
            ctx.say("receipt.refused_duplicate_other")
        return
    day = campaign.day_bounds(ctx.now)
    usage = await ctx.tx.receipt_usage(ctx.person.id, campaign.code, day, ctx.now - timedelta(hours=1))
    try:
        award = judge(campaign, receipt, usage)
    except Refused as refusal:
        ctx.say(f"receipt.refused_{refusal.reason}", min_sum=ledger.format_roubles(campaign.min_sum_kopecks),
                per_day=campaign.receipts_per_day, per_hour=campaign.receipts_per_hour,
                starts=f"{campaign.starts_on:%d.%m.%Y}", ends=f"{campaign.ends_on:%d.%m.%Y}")
        return
    verifying = ctx.services.verify_receipts
    stored = await ctx.tx.add_receipt(ctx.person.id, campaign.code, receipt, ctx.data["source"],
                                      "verifying" if verifying else "accepted", award, ctx.now,
                                      ctx.now + FIRST_CHECK_AFTER if verifying else None)
    if award.cashback_kopecks:
        await ctx.tx.post(ledger.accrual(ctx.person.id, award.cashback_kopecks), ctx.now, receipt_id=stored.id)
        if not verifying:
            await ctx.tx.post(ledger.approval(ctx.person.id, award.cashback_kopecks), ctx.now,
                              receipt_id=stored.id)
    balances = await ctx.tx.balances(ctx.person.id)
    ctx.say("receipt.accepted_verifying" if verifying else "receipt.accepted",
            sum=ledger.format_roubles(receipt.sum_kopecks), cashback=ledger.format_roubles(award.cashback_kopecks),
            entries=award.entries, capped="1" if award.capped else "",
            available=ledger.format_roubles(balances.get(ledger.Account.AVAILABLE, 0)),
            pending=ledger.format_roubles(balances.get(ledger.Account.PENDING, 0)))


RECEIPT_UPLOAD = Scenario(
    name="receipt",
    commands=("/receipt", "/check"),
    takes_args=True,
    starts_on=frozenset({PHOTO, TEXT}),
    starts_when=starts_with_receipt,
    initial=("awaiting",),
    states=(
        State("awaiting", prompt="receipt.ask", transitions=(
            on(PHOTO, action=read_photo, to="confirm", label="photo"),
            on(TEXT, action=read_typed, to="confirm", label="QR string"),
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
            on(TEXT, action=manual_done, to="confirm", label="FP"),)),
        State("confirm", prompt="receipt.confirm", transitions=(
            on(BUTTON, payload="receipt:yes", action=submit, to="done"),
            on(TEXT, guard=said_yes, action=submit, to="done", label="yes"),
            on(BUTTON, payload="receipt:no", to="awaiting"),
        )),
        State("done", final=True),
    ),
)
