"""Account linking is a handshake: a code from one account, entered in another, approved by the code's owner.

``/link`` in a registered account gives a one-time 8-digit code (``LINK_CODE_TTL_MINUTES``).
Entered in another account, a right code only asks the owner, on the account that got the
code, "link this account?" — nothing is joined and nothing of the owner's is shown before
they say yes. Guessing is limited per entering account, per code and platform-wide, and
every attempt, failed, refused or approved, is kept in the audit.
"""

from __future__ import annotations

from datetime import timedelta

from core.channels import Identity
from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.identity import ChannelAccount, LinkCode, link_code_digits, looks_like_link_code, new_link_code
from core.machine import Scenario, State, on
from core.merging import merge_persons
from core.ports.link_codes import LinkAttempt, LinkOutcome

BUTTON, TEXT = EventKind.BUTTON, EventKind.TEXT
APPROVE, REFUSE = "/link_approve", "/link_refuse"
LINKING_NAME = "linking"


async def choose_start(ctx: Context) -> str:
    return "issued" if ctx.person.is_registered and not ctx.event.args else "enter_code"


async def issue_code(ctx: Context) -> None:
    await ctx.tx.link_codes.expire_for(ctx.person.id, ctx.now)
    while True:
        code = new_link_code()
        clash = await ctx.tx.link_codes.find(code)
        if clash is None or clash.used_at or clash.is_expired(ctx.now):
            break
    ttl = timedelta(minutes=ctx.settings.link_code_ttl_minutes)
    await ctx.tx.link_codes.create(LinkCode(0, ctx.person.id, code, ctx.event.channel, ctx.event.account_id,
                                            ctx.now, ctx.now + ttl))
    ctx.data.update(code=code, shown_code=f"{code[:4]} {code[4:]}", minutes=ctx.settings.link_code_ttl_minutes)


def is_code(ctx: Context) -> bool:
    return looks_like_link_code(ctx.event.text)


async def _record(ctx: Context, outcome: LinkOutcome, code_id: int | None = None) -> LinkAttempt:
    return await ctx.tx.link_codes.record_attempt(LinkAttempt(0, ctx.event.channel, ctx.event.account_id,
                                                              code_id, outcome, ctx.now))


async def _check_limits(ctx: Context) -> int:
    """How many failures this account has left; ``Reject`` when it, or everyone together, has none."""
    settings, codes = ctx.settings, ctx.tx.link_codes
    window = timedelta(minutes=settings.link_code_ttl_minutes)
    everyone = await codes.count_failures(ctx.now - timedelta(hours=1))
    if everyone >= settings.link_code_max_failures_per_hour:
        await _record(ctx, LinkOutcome.THROTTLED)
        raise Reject("link.busy")
    mine = await codes.count_failures(ctx.now - window, channel=ctx.event.channel, external_id=ctx.event.account_id)
    if mine >= settings.link_code_max_failures:
        await _record(ctx, LinkOutcome.THROTTLED)
        raise Reject("link.locked", minutes=settings.link_code_ttl_minutes)
    return settings.link_code_max_failures - mine


async def _failure(ctx: Context, outcome: LinkOutcome, template: str, left: int, code_id: int | None = None) -> Reject:
    await _record(ctx, outcome, code_id)
    if left <= 1:
        return Reject("link.locked", minutes=ctx.settings.link_code_ttl_minutes)
    return Reject(template, left=left - 1)


async def _live_code(ctx: Context, typed: str) -> LinkCode:
    left = await _check_limits(ctx)
    digits = link_code_digits(typed)
    code = await ctx.tx.link_codes.find(digits) if looks_like_link_code(digits) else None
    if code is None:
        raise await _failure(ctx, LinkOutcome.WRONG, "link.wrong_code", left)
    if code.person_id == ctx.person.id:
        await _record(ctx, LinkOutcome.OWN, code.id)
        raise Reject("link.own_code")
    if code.used_at is not None:
        raise await _failure(ctx, LinkOutcome.USED, "link.used_code", left, code.id)
    burned = await ctx.tx.link_codes.count_failures(code.created_at, code_id=code.id)
    if code.is_expired(ctx.now) or burned >= ctx.settings.link_code_max_failures_per_code:
        raise await _failure(ctx, LinkOutcome.EXPIRED, "link.expired_code", left, code.id)
    return code


async def _issuer(ctx: Context, code: LinkCode) -> ChannelAccount | None:
    return next((a for a in await ctx.tx.people.accounts_of(code.person_id)
                 if a.channel == code.channel and a.external_id == code.account_id), None)


async def redeem(ctx: Context) -> str | None:
    code = await _live_code(ctx, ctx.event.text)
    if ctx.person.is_registered and not ctx.data.get("join_confirmed"):
        ctx.data.update(code=code.code, here_name=ctx.person.name or "—")
        return "confirm_merge"
    await _ask_owner(ctx, code)
    return None


async def merge_confirmed(ctx: Context) -> None:
    ctx.data["join_confirmed"] = True
    code = await _live_code(ctx, ctx.data["code"])  # it may have expired or been used while we asked
    await _ask_owner(ctx, code)


def _account_shown(ctx: Context) -> str:
    """The asking account as its owner can find it when the channel gave no name (VK's lookup failed): a
    messenger account by its id there ("id12345", as the messenger's own links and settings show it), a phone or
    an address as itself. The question reads "the VK account id12345" instead of a dash nobody can check."""
    account = ctx.event.account_id
    return f"id{account}" if ctx.services.channels.identity_of(ctx.event.channel) is Identity.ACCOUNT else account


async def _ask_owner(ctx: Context, code: LinkCode) -> None:
    attempt = await _record(ctx, LinkOutcome.REQUESTED, code.id)
    owner = await ctx.tx.people.get(code.person_id)
    issuer = await _issuer(ctx, code)
    ctx.notify(owner.id, "link.approve", locale=owner.locale, via=issuer,
               channel=ctx.services.channel_title(ctx.event.channel), who=ctx.sender.display_name,
               account=_account_shown(ctx), attempt=attempt.id)
    ctx.data["approver_channel"] = ctx.services.channel_title(code.channel)


async def decide(ctx: Context) -> None:
    """The code's owner answers "link this account?" (from any state: the answer is a command)."""
    event = ctx.event
    if ctx.current is not None and ctx.current.scenario == LINKING_NAME:
        ctx.abandon()  # the answer settles the code on screen: it is not shown again
    attempt_id = int(event.args) if event.args.isdigit() else 0
    attempt = await ctx.tx.link_codes.get_attempt(attempt_id) if attempt_id else None
    code = await ctx.tx.link_codes.get(attempt.code_id) if attempt and attempt.code_id else None
    found = await ctx.tx.people.find_by_account(attempt.channel, attempt.external_id) if attempt else None
    if (attempt is None or attempt.outcome is not LinkOutcome.REQUESTED or code is None or found is None
            or code.person_id != ctx.person.id or code.used_at is not None or code.is_expired(ctx.now)):
        ctx.say("link.request_gone")
        return
    account, requester = found
    channel = ctx.services.channel_title(attempt.channel)
    outcome = LinkOutcome.APPROVED if event.command == APPROVE else LinkOutcome.REFUSED
    await ctx.tx.link_codes.record_attempt(LinkAttempt(0, attempt.channel, attempt.external_id, code.id, outcome,
                                                       ctx.now))
    if outcome is LinkOutcome.REFUSED:  # someone the owner does not know has the code: it works no more
        code.expires_at = ctx.now
        await ctx.tx.link_codes.save(code)
        ctx.say("link.refused_here", channel=channel)
        ctx.notify(requester.id, "link.refused", locale=requester.locale, via=account)
        return
    code.used_at = ctx.now
    await ctx.tx.link_codes.save(code)
    if requester.id != ctx.person.id:
        await merge_persons(ctx.tx, ctx.person.id, requester.id, "link code approved by its owner", ctx.now)
    ctx.say("link.done_elsewhere", channel=channel)
    account.person_id = ctx.person.id
    ctx.notify(ctx.person.id, "link.done", locale=ctx.person.locale, via=account)


LINKING = Scenario(
    name=LINKING_NAME,
    commands=("/link",),
    words=("связать", "связать аккаунты", "привязать", "link", "link accounts"),
    needs_registration=False,
    takes_args=True,
    initial=("issued", "enter_code"),
    entry=choose_start,
    states=(
        State("issued", prompt="link.code_issued", on_enter=issue_code, transitions=(
            on(BUTTON, payload="link:enter", to="enter_code"),
            on(TEXT, guard=is_code, action=redeem, to="requested", also=("confirm_merge",), label="code"),
        )),
        State("enter_code", prompt="link.ask_code", transitions=(
            on(TEXT, action=redeem, to="requested", also=("confirm_merge",), label="code"),
        )),
        State("confirm_merge", prompt="link.confirm_merge", transitions=(
            on(BUTTON, payload="merge:yes", action=merge_confirmed, to="requested"),
            on(BUTTON, payload="merge:no", to="declined"),
        )),
        State("requested", prompt="link.waiting", final=True),
        State("declined", prompt="link.merge_declined", final=True),
    ),
)

LINK_DECISION = Scenario(
    name="link_decision",
    commands=(APPROVE, REFUSE),
    aside=True,
    initial=("answered",),
    states=(State("answered", on_enter=decide, final=True),),
)
