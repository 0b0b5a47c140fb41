"""Where and how we may reach a person: the channel they prefer, an e-mail address and a phone number proved by
a code, and the answer to a message that asked for one.

``/channel`` — choose where important messages go (any channel the person can be reached on, or
"you choose"). ``/email`` — give an address (or use the profile's), get a code and a link in a
letter, type the code here (or follow the link). ``/phone`` — get an SMS with a code to the
profile's number and type it here: this is how people without Telegram (VK only) verify the
number their payouts go to. ``/ack`` — the "Got it" button of a notice.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from core import contacts
from core.channels import ChannelName, Identity
from core.context import Context
from core.errors import Reject
from core.events import EventKind, OutgoingMessage
from core.identity import format_phone, normalise_email
from core.machine import Scenario, State, on

BUTTON, TEXT = EventKind.BUTTON, EventKind.TEXT
AUTO = "auto"


# /channel ---------------------------------------------------------------------------------------------


async def offer_channels(ctx: Context) -> None:
    """A button per channel the person can be reached on now (the ones people may choose, in the registry's
    order); an address or number counts once proved."""
    channels = ctx.services.channels
    reachable = {a.channel for a in await ctx.tx.people.accounts_of(ctx.person.id)
                 if a.unreachable_since is None and a.channel in channels
                 and (a.verified or not channels[a.channel].verified_only)}
    preference = (await ctx.tx.routes.preferences([ctx.person.id])).get(ctx.person.id)
    chosen = preference.channel if preference else None
    ctx.data["reachable"] = [{"channel": name, "title": channels[name].title}
                             for name in channels.choosable() if name in reachable]
    ctx.data["current"] = ctx.services.channel_title(chosen) if chosen else ""  # "": we choose (the template says)


def is_channel_choice(ctx: Context) -> bool:
    return ctx.event.payload.startswith("channel:")


async def choose_channel(ctx: Context) -> str:
    wanted = ctx.event.payload.removeprefix("channel:")
    if wanted == AUTO:
        await ctx.tx.routes.prefer(ctx.person.id, None, ctx.now)
        return "auto"
    if wanted not in {offered["channel"] for offered in ctx.data.get("reachable", [])}:  # an old button, or gone
        channels = ctx.services.channels  # how to add one: only the ways that run are named
        ctx.data["add"] = ", ".join(command for identity, command in ((Identity.MAILBOX, "/email"),
                                                                      (Identity.PHONE, "/phone"))
                                    if channels.running_with(identity))
        return "unavailable"
    await ctx.tx.routes.prefer(ctx.person.id, ChannelName(wanted), ctx.now)
    ctx.data["current"] = ctx.services.channel_title(wanted)
    return "chosen"


CHANNEL_PREFERENCE = Scenario(
    name="channel",
    commands=("/channel",),
    words=("канал", "куда писать", "способ связи", "channel", "contact channel"),
    initial=("choose",),
    states=(
        State("choose", prompt="channel.choose", on_enter=offer_channels, transitions=(
            on(BUTTON, guard=is_channel_choice, action=choose_channel, to="chosen", also=("auto", "unavailable"),
               label="channel:…"),
        )),
        State("chosen", prompt="channel.chosen", final=True),
        State("auto", prompt="channel.auto", final=True),
        State("unavailable", prompt="channel.unavailable", final=True),
    ),
)


# codes ------------------------------------------------------------------------------------------------


async def _send_code(ctx: Context, channel: ChannelName, address: str, template: str, **params: str) -> None:
    """Issue a code for ``address`` and send it there, addressed (``TooManyCodes`` is the caller's)."""
    settings = ctx.settings
    issued = await contacts.issue_code(
        ctx.tx, ctx.person, channel, address, ctx.now, ttl=timedelta(minutes=settings.contact_code_ttl_minutes),
        per_hour=settings.contact_codes_per_hour, per_address_per_day=settings.contact_codes_per_address_per_day,
        origin=(ctx.event.channel, ctx.event.account_id),
        with_link=ctx.services.channels.identity_of(channel) is Identity.MAILBOX)
    if issued.link_token:
        base = ctx.services.web_url or ctx.services.rules_url.rsplit("/rules", 1)[0]
        params["link"] = f"{base.rstrip('/')}/email/verify?{urlencode({'a': address, 'k': issued.link_token})}"
    ctx.replies.append(OutgoingMessage(ctx.person.id, template, {"code": issued.code, **params}, ctx.person.locale,
                                       channel, address))
    ctx.data.update(minutes=settings.contact_code_ttl_minutes)


def code_channel(ctx: Context, identity: Identity) -> ChannelName:
    """The channel the code went by (kept when it was sent; a code sent before that was kept went by the first
    channel of its kind)."""
    kept = ctx.data.get("code_channel")
    known = ctx.services.channels.known_with(identity)
    return ChannelName(kept) if kept else (ctx.services.channels.running_with(identity) or known[0])


async def check_typed_code(ctx: Context, identity: Identity) -> str | None:
    channel = code_channel(ctx, identity)
    checked = await contacts.check_code(ctx.tx, ctx.person, channel, identity, ctx.event.text, ctx.now)
    if checked.outcome == "wrong":
        raise Reject("verify.wrong_code", left=checked.left)
    ctx.data.update(address=checked.address, again="/phone" if identity is Identity.PHONE else "/email",
                    phone=format_phone(checked.address) if identity is Identity.PHONE else "")
    return {"verified": None, "expired": "expired", "taken": "taken"}[checked.outcome]


def looks_like_code(ctx: Context) -> bool:
    digits = [ch for ch in ctx.event.text if ch.isdigit()]
    return len(digits) == contacts.CODE_DIGITS and len(ctx.event.text.strip()) <= 12


# /email -----------------------------------------------------------------------------------------------


async def start_email(ctx: Context) -> str:
    mailbox = ctx.services.channels.running_with(Identity.MAILBOX)
    if mailbox is None:
        return "no_email"
    ctx.data["code_channel"] = mailbox
    address = ctx.event.args.strip() or (ctx.person.email if not ctx.person.email_verified else "")
    if not address:
        return "ask_address"
    try:
        return await send_email_code(ctx, normalise_email(address))
    except Reject:
        return "ask_address"


async def take_address(ctx: Context) -> str:
    return await send_email_code(ctx, normalise_email(ctx.event.text))


async def send_email_code(ctx: Context, address: str) -> str:
    mailbox = code_channel(ctx, Identity.MAILBOX)
    if await contacts.account_for(ctx.tx, ctx.person, mailbox, address, ctx.now) is None:
        return "taken"
    try:
        await _send_code(ctx, mailbox, address, "verify.email_code")
    except contacts.TooManyCodes:
        return "too_many"
    ctx.data["address"] = address
    return "code_sent"


async def check_email_code(ctx: Context) -> str | None:
    return await check_typed_code(ctx, Identity.MAILBOX)


EMAIL_VERIFICATION = Scenario(
    name="email_verification",
    commands=("/email",),
    words=("почта", "подтвердить почту", "email", "confirm email"),
    initial=("ask_address", "code_sent", "taken", "too_many", "no_email"),
    entry=start_email,
    states=(
        State("ask_address", prompt="verify.ask_email", transitions=(
            on(TEXT, action=take_address, to="code_sent", also=("taken", "too_many"), label="e-mail"),
        )),
        State("code_sent", prompt="verify.email_code_sent", transitions=(
            on(TEXT, guard=looks_like_code, action=check_email_code, to="verified", also=("expired", "taken"),
               label="code"),
        )),
        State("verified", prompt="verify.email_verified", final=True),
        State("expired", prompt="verify.code_expired", final=True),
        State("taken", prompt="verify.email_taken", final=True),
        State("too_many", prompt="verify.too_many_codes", final=True),
        State("no_email", prompt="verify.no_email", final=True),
    ),
)


# /phone -----------------------------------------------------------------------------------------------


def phone_ways(ctx: Context) -> dict[str, str]:
    """How this person can prove their number from here, as template parameters: ``texted`` when a code can be
    texted, ``elsewhere`` the messengers where they could share their contact instead (when this one cannot)."""
    channels = ctx.services.channels
    here = channels.get(ctx.event.channel)
    elsewhere = [] if here is not None and here.contact_button else [
        channels.title(name) for name in channels.sharing_contacts() if name != ctx.event.channel]
    return {"texted": "1" if channels.running_with(Identity.PHONE) else "", "elsewhere": ", ".join(elsewhere)}


async def start_phone(ctx: Context) -> str:
    person = ctx.person
    ctx.data["phone"] = format_phone(person.phone)
    if not person.phone:
        return "missing"
    if person.phone_verified:
        await contacts.sync_phone_account(ctx.tx, ctx.services.channels, person, ctx.now)
        return "already"
    texts = ctx.services.channels.running_with(Identity.PHONE)
    if texts is None:  # no code can be texted: the contact button where this messenger has one, else where it is
        here = ctx.services.channels.get(ctx.event.channel)
        if here is not None and here.contact_button:
            return "share_contact"
        ctx.data.update(phone_ways(ctx))
        return "no_sms"
    ctx.data["code_channel"] = texts
    if await contacts.account_for(ctx.tx, person, texts, person.phone, ctx.now) is None:
        return "missing"  # the number is proved in another profile: the profile's number cannot be this one's
    try:
        await _send_code(ctx, texts, person.phone, "verify.phone_code")
    except contacts.TooManyCodes:
        return "too_many"
    return "code_sent"


async def check_phone_code(ctx: Context) -> str | None:
    return await check_typed_code(ctx, Identity.PHONE)


PHONE_BY_SMS = Scenario(
    name="phone_by_sms",
    commands=("/phone",),
    words=("подтвердить номер", "подтвердить телефон", "код по смс", "код по sms", "verify phone",
           "verify my number"),
    initial=("code_sent", "already", "missing", "no_sms", "share_contact", "too_many"),
    entry=start_phone,
    states=(
        State("code_sent", prompt="verify.phone_code_sent", transitions=(
            on(TEXT, guard=looks_like_code, action=check_phone_code, to="verified", also=("expired",),
               label="code"),
        )),
        State("verified", prompt="verify.phone_verified", final=True),
        State("expired", prompt="verify.code_expired", final=True),
        State("already", prompt="verify.phone_already", final=True),
        State("missing", prompt="verify.phone_missing", final=True),
        State("no_sms", prompt="verify.no_sms", final=True),
        # final: the contact the person then shares starts the phone scenario (``core.scenarios.phone``)
        State("share_contact", prompt="verify.share_contact", final=True),
        State("too_many", prompt="verify.too_many_codes", final=True),
    ),
)


# /ack -------------------------------------------------------------------------------------------------


async def acknowledge(ctx: Context) -> None:
    """The engine already took any word from the person as the answer; the button names the message."""
    argument = ctx.event.args.strip()
    if argument.isdigit():
        await ctx.tx.messages.acknowledge(int(argument), ctx.person.id, ctx.now)


ACKNOWLEDGEMENT = Scenario(
    name="acknowledgement",
    commands=("/ack",),
    words=("получил", "получила", "got it"),
    aside=True,
    initial=("thanks",),
    states=(State("thanks", prompt="notify.thanks_for_answer", on_enter=acknowledge, final=True),),
)

SCENARIOS = (CHANNEL_PREFERENCE, EMAIL_VERIFICATION, PHONE_BY_SMS, ACKNOWLEDGEMENT)
