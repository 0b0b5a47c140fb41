"""The web chat on the platform's site: the bot gives a signed link into it, or a person enters with e-mail and a code.

``/chat`` in any messenger answers with a link valid for 15 minutes that opens the web chat
as this person. In the web chat (and only there) the page hands the link's token back with
``/chat_login``; the browser's fresh account then joins the person. Without a link, a person
gives their e-mail, gets a 6-digit code there, and types it: a right code joins the browser to
the person that address belongs to (or makes the address theirs).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from core.channels import ChannelName, Identity
from core.context import Context
from core.errors import Reject
from core.events import EventKind, OutgoingMessage
from core.identity import normalise_email
from core.machine import Scenario, State, on
from core.support import web_links

TEXT = EventKind.TEXT
CODE_LIFETIME = timedelta(minutes=10)
CODE_ATTEMPTS = 5
CODES_PER_BROWSER = 3  # e-mails asked for from one browser an hour: nobody floods an address through us
CODES_WINDOW = timedelta(hours=1)


def _secret(ctx: Context) -> bytes:
    configured = ctx.settings.webchat_secret
    return configured.get_secret_value().encode() if configured else web_links.PROCESS_SECRET


def offers_web_chat(ctx: Context) -> bool:
    """The web chat runs and has an address to link to: only then is it offered."""
    return ctx.services.channels.site_chat() is not None and bool(ctx.services.web_url)


async def give_link(ctx: Context) -> None:
    if not offers_web_chat(ctx):
        ctx.say("webchat.unavailable")
        return
    token = web_links.sign(_secret(ctx), ctx.person.id, ctx.now)
    ctx.say("webchat.link", url=f"{ctx.services.web_url}/chat?t={token}",
            minutes=int(web_links.LINK_LIFETIME.total_seconds() // 60))


async def _fresh(ctx: Context) -> bool:
    """A browser that has done nothing yet: joining it to someone moves nothing of anyone else's."""
    if ctx.person.is_registered:
        return False
    accounts = await ctx.tx.people.accounts_of(ctx.person.id)
    return len(accounts) == 1 and not await ctx.tx.receipts.of_person(ctx.person.id)


async def _join(ctx: Context, target_id: int, reason: str) -> None:
    if target_id != ctx.person.id:
        if not await _fresh(ctx):
            raise Reject("webchat.sign_out_first")
        await ctx.merge_into(target_id, reason)
    ctx.say("webchat.signed_in")


async def login_by_link(ctx: Context) -> None:
    if not _in_site_chat(ctx):  # a token typed in a messenger would join that messenger's account
        ctx.say("webchat.only_in_chat")
        return
    target = web_links.verify(_secret(ctx), ctx.event.args, ctx.now)
    if target is None:
        ctx.say("webchat.link_expired")
        return
    evidence = f"web chat link {web_links.link_id(ctx.event.args)}"
    if target != ctx.person.id and any(m.reason == evidence for m in await ctx.tx.people.merges(target)):
        ctx.say("webchat.link_used")  # it signed a browser in already: a copy of it signs in nobody else
        return
    try:
        await _join(ctx, target, evidence)
    except Reject as refusal:
        ctx.say(refusal.template)


def _in_site_chat(ctx: Context) -> bool:
    profile = ctx.services.channels.get(ctx.event.channel)
    return profile is not None and profile.site_chat


def _mailbox(ctx: Context) -> ChannelName:
    """Where an address's code goes, and whose accounts addresses are: the e-mail channel, running or not."""
    channels = ctx.services.channels
    found = channels.running_with(Identity.MAILBOX) or next(iter(channels.known_with(Identity.MAILBOX)), None)
    if found is None:
        raise Reject("webchat.unavailable")
    return found


def _hash(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


async def only_in_chat(ctx: Context) -> str:
    return "ask_email" if _in_site_chat(ctx) else "elsewhere"


async def send_code(ctx: Context) -> None:
    address = normalise_email(ctx.event.text).lower()  # addresses are one whatever the case people type
    sent = [e for e in await ctx.tx.messages.entries(ctx.person.id, template="webchat.email_code")
            if e.created_at > ctx.now - CODES_WINDOW]
    if len(sent) >= CODES_PER_BROWSER:
        raise Reject("webchat.too_many_codes")
    code, salt = f"{secrets.randbelow(10**6):06d}", secrets.token_hex(8)
    ctx.data.update(address=address, code_hash=_hash(code, salt), salt=salt, tries=0,
                    expires=(ctx.now + CODE_LIFETIME).timestamp())
    ctx.replies.append(OutgoingMessage(ctx.person.id, "webchat.email_code", {
        "code": code, "minutes": int(CODE_LIFETIME.total_seconds() // 60)}, ctx.person.locale, _mailbox(ctx), address))


async def check_code(ctx: Context) -> None:
    data = ctx.data
    if int(data.get("tries") or 0) >= CODE_ATTEMPTS or ctx.now.timestamp() > float(data.get("expires") or 0):
        raise Reject("webchat.code_expired")
    data["tries"] = int(data.get("tries") or 0) + 1
    typed = "".join(ctx.event.text.split())
    if not hmac.compare_digest(_hash(typed, str(data["salt"])), str(data["code_hash"])):
        raise Reject("webchat.wrong_code", left=CODE_ATTEMPTS - data["tries"])
    address = str(data["address"])
    found = await ctx.tx.people.find_by_account(_mailbox(ctx), address)
    if found is not None:
        await _join(ctx, found[1].id, "web chat: e-mail code")
        return
    account = await ctx.tx.people.add_account(ctx.person.id, _mailbox(ctx), address, "", ctx.now)
    account.verified_at = ctx.now  # the code proved the address is theirs
    await ctx.tx.people.touch_account(account)
    ctx.person.email, ctx.person.email_verified = address, True
    await ctx.tx.people.save(ctx.person)
    ctx.say("webchat.signed_in")


WEBCHAT_LINK = Scenario(
    name="webchat_link", commands=("/chat",), words=("веб-чат", "веб чат", "чат на сайте", "web chat"),
    aside=True, needs_registration=False, initial=("answered",),
    states=(State("answered", on_enter=give_link, final=True),),
)

WEBCHAT_LOGIN = Scenario(
    name="webchat_login", commands=("/chat_login",), aside=True, needs_registration=False, initial=("answered",),
    states=(State("answered", on_enter=login_by_link, final=True),),
)

WEBCHAT_EMAIL = Scenario(
    name="webchat_email", commands=("/chat_email",), needs_registration=False,
    initial=("ask_email", "elsewhere"), entry=only_in_chat,
    states=(
        State("ask_email", prompt="webchat.ask_email", transitions=(
            on(TEXT, action=send_code, to="ask_code", label="e-mail"),
        )),
        State("ask_code", prompt="webchat.ask_code", transitions=(
            on(TEXT, action=check_code, to="done", label="code"),
        )),
        State("done", final=True),
        State("elsewhere", prompt="webchat.only_in_chat", final=True),
    ),
)
