"""Registration: consent -> name -> phone -> optional e-mail -> confirmation.

Name and phone are kept in the scenario until the end, so a person who stops half-way is
never half-registered. A number verified in another profile (both sides verified) offers
to join the profiles; a verified number beats someone else's merely typed claim on it
(that claim is dropped and its holder told); a typed number already taken is refused,
with the way to link accounts instead: one number is always one participant.
"""

from __future__ import annotations

from core.contacts import sync_phone_account
from core.context import Context
from core.dispatch import KEPT
from core.domain_events import Happened, event
from core.errors import Reject
from core.events import EventKind
from core.identity import ChannelAccount, format_phone, normalise_email, normalise_name, normalise_phone
from core.machine import Scenario, State, on

BUTTON, TEXT, CONTACT, COMMAND = EventKind.BUTTON, EventKind.TEXT, EventKind.CONTACT, EventKind.COMMAND
YES_WORDS = {"да", "согласен", "согласна", "yes", "agree", "i agree", "ok", "ок"}
SKIP_WORDS = {"-", "нет", "пропустить", "skip", "no"}
AFTER_PHONE_CLASH = ("phone", "confirm_merge")  # the number was registered by someone else meanwhile


def said_yes(ctx: Context) -> bool:
    return ctx.event.text.strip(" .!").lower() in YES_WORDS


def said_skip(ctx: Context) -> bool:
    return ctx.event.text.strip(" .!").lower() in SKIP_WORDS


def offered_name(ctx: Context) -> str:
    """The name the messenger gave us, when it is a valid name: offered as a one-press answer."""
    try:
        return normalise_name(ctx.sender.display_name)
    except Reject:
        return ""


async def ask_name(ctx: Context) -> None:
    ctx.data["given_name"] = offered_name(ctx)


async def record_consent(ctx: Context) -> None:
    await ctx.tx.people.add_consent(ctx.person.id, ctx.settings.consent_version, ctx.event.channel, ctx.now)


async def refuse_without_consent(ctx: Context) -> None:
    raise Reject("registration.consent_required")


async def store_name(ctx: Context) -> None:
    ctx.data["person_name"] = normalise_name(ctx.event.text)


async def take_offered_name(ctx: Context) -> None:
    name = offered_name(ctx)
    if not name:
        raise Reject("registration.bad_name", max_length=64)
    ctx.data["person_name"] = name


async def store_phone(ctx: Context) -> str | None:
    contact = ctx.event.contact
    if contact is not None and not contact.is_own:
        raise Reject("registration.not_own_contact")
    phone = normalise_phone(contact.phone if contact else ctx.event.text, ctx.settings.phone_region)
    verified = contact is not None
    holder = await ctx.tx.people.find_by_phone(phone)
    if holder is not None and holder.id != ctx.person.id:
        if verified and holder.phone_verified:
            ctx.data.update(phone=phone, shown_phone=format_phone(phone), merge_with=holder.id)
            return "confirm_merge"
        if not (verified and not holder.phone_verified):
            raise Reject("registration.phone_taken")
        # the owner proved the number; the other profile had only typed it
        holder.phone = None
        await ctx.tx.people.save(holder)
        ctx.notify(holder.id, "phone.claim_dropped", locale=holder.locale, phone=format_phone(phone))
    ctx.data.update(phone=phone, phone_verified=verified, shown_phone=format_phone(phone))
    return None


async def merge_by_phone(ctx: Context) -> str:
    survivor = int(ctx.data["merge_with"])
    here = ctx.sender
    others = [a for a in await ctx.tx.people.accounts_of(survivor) if a.unreachable_since is None]
    await ctx.merge_into(survivor, reason="same verified phone")
    ctx.say("registration.merged")
    if others:
        told = max(others, key=_recency)
        ctx.notify(survivor, "link.done_elsewhere", locale=ctx.person.locale, via=told,
                   channel=ctx.services.channel_title(here.channel))
    return "merged"


def _recency(account: ChannelAccount) -> float:
    return account.last_seen_at.timestamp() if account.last_seen_at else 0.0


async def decline_merge(ctx: Context) -> None:
    ctx.say("registration.merge_declined")


async def complete_with_email(ctx: Context) -> str | None:
    ctx.data["email"] = normalise_email(ctx.event.text)
    return await complete(ctx)


async def complete(ctx: Context) -> str | None:
    """Everything given goes onto the person at once; a number taken meanwhile sends them back a step."""
    person, data = ctx.person, ctx.data
    data["kept_receipt"] = "1" if data.get(KEPT) else ""  # its check comes next: "send a photo" would be wrong
    holder = await ctx.tx.people.find_by_phone(data["phone"])
    if holder is not None and holder.id != person.id:
        if holder.phone_verified and data.get("phone_verified"):
            data["merge_with"] = holder.id
            return "confirm_merge"
        ctx.say("registration.phone_taken")
        return "phone"
    person.name = data.get("person_name") or person.name
    person.phone, person.phone_verified = data["phone"], bool(data.get("phone_verified"))
    person.email = data.get("email") or person.email
    person.registered_at = ctx.now
    await ctx.tx.people.save(person)
    ctx.tx.events.add(event(Happened.PERSON_REGISTERED, person.id, ctx.now, channel=ctx.event.channel,
                            source=person.source))
    await sync_phone_account(ctx.tx, ctx.services.channels, person, ctx.now)  # the router drops it unproven
    return None


REGISTRATION = Scenario(
    name="registration",
    onboarding=True,
    needs_registration=False,
    initial=("consent",),
    states=(
        State("consent", prompt="registration.consent", transitions=(
            on(BUTTON, payload="consent:yes", action=record_consent, to="name"),
            on(TEXT, guard=said_yes, action=record_consent, to="name", label="yes"),
            on(BUTTON, payload="consent:no", action=refuse_without_consent),
        )),
        State("name", prompt="registration.ask_name", on_enter=ask_name, transitions=(
            on(BUTTON, payload="name:given", action=take_offered_name, to="phone"),
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
            on(BUTTON, payload="email:skip", action=complete, to="done", also=AFTER_PHONE_CLASH),
            on(COMMAND, payload="/cancel", action=complete, to="done", also=AFTER_PHONE_CLASH, label="/cancel"),
            on(TEXT, guard=said_skip, action=complete, to="done", also=AFTER_PHONE_CLASH, label="skip"),
            on(TEXT, action=complete_with_email, to="done", also=AFTER_PHONE_CLASH, label="e-mail"),
        )),
        State("done", prompt="registration.done", final=True),
        State("merged", final=True),
    ),
)
