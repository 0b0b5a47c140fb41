"""Phone verification after registration: sharing one's own contact (Telegram) proves the number."""

from __future__ import annotations

from core.contacts import sync_phone_account
from core.context import Context
from core.events import EventKind
from core.identity import format_phone, normalise_phone
from core.machine import Scenario, State, on

CONTACT = EventKind.CONTACT


async def check_contact(ctx: Context) -> str:
    contact = ctx.event.contact
    if contact is None or not contact.is_own:
        return "not_own"
    phone = normalise_phone(contact.phone, ctx.settings.phone_region)
    if phone != ctx.person.phone:
        ctx.data["phone"] = format_phone(ctx.person.phone)
        return "mismatch"
    ctx.person.phone_verified = True
    await ctx.tx.people.save(ctx.person)
    await sync_phone_account(ctx.tx, ctx.services.channels, ctx.person, ctx.now)  # the router may now text it
    return "verified"


PHONE_VERIFICATION = Scenario(
    name="phone",
    starts_on=frozenset({CONTACT}),
    initial=("received",),
    states=(
        State("received", transitions=(
            on(CONTACT, action=check_contact, to="verified", also=("mismatch", "not_own"), label="contact"),)),
        State("verified", prompt="phone.verified", final=True),
        State("mismatch", prompt="phone.mismatch", final=True),
        State("not_own", prompt="registration.not_own_contact", final=True),
    ),
)
