"""Reading a receipt: the QR texts of a photo, a typed QR string, or the five numbers typed one by one.

Each way ends in a ``FiscalReceipt`` or a ``Reject`` that names what is wrong (the field, in the
person's language), never a bare "could not read".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from core.context import Context
from core.errors import Reject
from core.events import EventKind, InboundEvent
from core.machine import Action
from promo.campaigns import Campaign
from promo.receipts import FiscalReceipt, ReceiptError, looks_fiscal, parse

PHOTO, TEXT = EventKind.PHOTO, EventKind.TEXT
FIELD_NAMES = {
    "ru": {"t": "дата и время", "s": "сумма", "fn": "ФН", "i": "ФД", "fp": "ФП", "n": "тип операции"},
    "en": {"t": "date and time", "s": "sum", "fn": "FN", "i": "FD", "fp": "FP", "n": "operation type"},
}
MANUAL_TIME_FORMATS = ("%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%y %H:%M", "%Y-%m-%d %H:%M")
RECEIPT_KEYS = re.compile(r"(fn|fp|ат|аз)\s*=", re.IGNORECASE)


def looks_like_receipt(event: InboundEvent) -> bool:
    return event.kind is PHOTO or (event.kind is TEXT and bool(RECEIPT_KEYS.search(event.text)))


def starts_with_receipt(ctx: Context) -> bool:
    """An idle person's photo always; their text only when it looks like a receipt string."""
    return looks_like_receipt(ctx.event)


def another_receipt(ctx: Context) -> bool:
    return looks_like_receipt(ctx.event)


def refusal(ctx: Context, error: ReceiptError) -> Reject:
    if error.reason == "not_fiscal":
        return Reject("receipt.not_fiscal")
    field = error.reason.split("_", 1)[1]
    template = "receipt.missing_field" if error.reason.startswith("missing_") else "receipt.bad_field"
    names = FIELD_NAMES.get(ctx.person.locale, FIELD_NAMES["ru"])
    return Reject(template, field=names.get(field, field))


def from_photo(ctx: Context, event: InboundEvent, campaign: Campaign) -> FiscalReceipt:
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
                raise refusal(ctx, e) from e
    raise Reject(f"receipt.photo_{event.attachment_error or 'unreadable'}")


def from_text(ctx: Context, text: str, campaign: Campaign) -> FiscalReceipt:
    try:
        return parse(text, campaign.zone)
    except ReceiptError as e:
        raise refusal(ctx, e) from e


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


def manual_step(key: str, check: Callable[[str], object], template: str) -> Action:
    """One step of the manual chain: ``check`` the typed value, keep it under ``key``."""

    async def step(ctx: Context) -> None:
        value = ctx.event.text.strip()
        try:
            check(value)
        except ReceiptError as e:
            raise Reject(template) from e
        ctx.data.setdefault("manual", {})[key] = re.sub(r"\s", "", value).replace(",", ".")

    return step


def typed_receipt(ctx: Context) -> bool:
    return bool(RECEIPT_KEYS.search(ctx.event.text))


def receipt_of(ctx: Context, event: InboundEvent, campaign: Campaign) -> FiscalReceipt:
    """The receipt a kept event (a photo, or typed text) carries."""
    return from_photo(ctx, event, campaign) if event.kind is PHOTO else from_text(ctx, event.text, campaign)
