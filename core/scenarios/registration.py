"""Registration: consent -> name -> phone -> optional e-mail -> confirmation.

A number already verified in another profile (both sides verified) offers to
join the profiles; a number taken but not provably the same person is refused
with the way to link accounts instead, so one number is always one participant.
"""

from __future__ import annotations

from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.identity import normalise_email, normalise_name, normalise_phone
from core.machine import Scenario, State, on

BUTTON, TEXT, CONTACT = EventKind.BUTTON, EventKind.TEXT, EventKind.CONTACT
YES_WORDS = {"да", "согласен", "согласна", "yes", "agree", "i agree", "ok", "ок"}
SKIP_WORDS = {"-", "нет", "пропустить", "skip", "no"}


def said_yes(ctx: Context) -> bool:
    return ctx.event.text.strip(" .!").lower() in YES_WORDS


def said_skip(ctx: Context) -> bool:
    return ctx.event.text.strip(" .!").lower() in SKIP_WORDS


async def record_consent(ctx: Context) -> None:
    await ctx.tx.add_consent(ctx.person.id, ctx.settings.consent_version, ctx.event.channel, ctx.now)


async def refuse_without_consent(ctx: Context) -> None:
    raise Reject("registration.consent_required")


async def store_name(ctx: Context) -> None:
    ctx.person.name = normalise_name(ctx.event.text)
    await ctx.tx.save_person(ctx.person)


async def store_phone(ctx: Context) -> str | None:
    contact = ctx.event.contact
    if contact is not None and not contact.is_own:
        raise Reject("registration.not_own_contact")
    phone = normalise_phone(contact.phone if contact else ctx.event.text, ctx.settings.phone_region)
    verified = contact is not None
    owner = await ctx.tx.find_person_by_phone(phone)
    if owner is not None and owner.id != ctx.person.id:
        if verified and owner.phone_verified:
            ctx.data.update(phone=phone, merge_with=owner.id)
            return "confirm_merge"
        raise Reject("registration.phone_taken")
    ctx.person.phone, ctx.person.phone_verified = phone, verified
    await ctx.tx.save_person(ctx.person)
    return None


async def merge_by_phone(ctx: Context) -> str:
    survivor = int(ctx.data["merge_with"])
    await ctx.merge_into(survivor, reason="same verified phone")
    ctx.say("registration.merged")
    return "merged"


async def decline_merge(ctx: Context) -> None:
    ctx.say("registration.merge_declined")


async def store_email(ctx: Context) -> None:
    ctx.person.email = normalise_email(ctx.event.text)
    await ctx.tx.save_person(ctx.person)


async def complete(ctx: Context) -> None:
    ctx.person.registered_at = ctx.now
    await ctx.tx.save_person(ctx.person)
    ctx.data["phone"] = ctx.person.phone or ""


REGISTRATION = Scenario(
    name="registration",
    needs_registration=False,
    initial=("consent",),
    states=(
        State("consent", prompt="registration.consent", transitions=(
            on(BUTTON, payload="consent:yes", action=record_consent, to="name"),
            on(TEXT, guard=said_yes, action=record_consent, to="name", label="yes"),
            on(BUTTON, payload="consent:no", action=refuse_without_consent),
        )),
        State("name", prompt="registration.ask_name", transitions=(
            on(TEXT, action=store_name, to="phone", label="name"),
        )),
        State("phone", prompt="registration.ask_phone", transitions=(
            on(CONTACT, TEXT, action=store_phone, to="email", also=("confirm_merge",), label="phone"),
        )),
        State("confirm_merge", prompt="registration.confirm_merge", transitions=(
            on(BUTTON, payload="merge:yes", action=merge_by_phone, to="merged"),
            on(BUTTON, payload="merge:no", action=decline_merge, to="phone"),
        )),
        State("email", prompt="registration.ask_email", transitions=(
            on(BUTTON, payload="email:skip", to="done"),
            on(TEXT, guard=said_skip, to="done", label="skip"),
            on(TEXT, action=store_email, to="done", label="e-mail"),
        )),
        State("done", prompt="registration.done", on_enter=complete, final=True),
        State("merged", final=True),
    ),
)
