"""Account linking: ``/link`` in one channel gives a one-time code; entering it in another joins them.

A code has 6 digits, lives ``LINK_CODE_TTL_MINUTES`` and works once. An account
that enters ``LINK_CODE_MAX_FAILURES`` bad codes within that time is locked out
until it passes. A guest (not yet registered) entering a code simply becomes the
code owner's account; two registered profiles are joined only on confirmation.
"""

from __future__ import annotations

import re
from datetime import timedelta

from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.identity import LinkCode, looks_like_link_code, new_link_code
from core.machine import Scenario, State, on
from core.scenarios.profile import CHANNEL_NAMES

BUTTON, TEXT = EventKind.BUTTON, EventKind.TEXT


async def choose_start(ctx: Context) -> str:
    return "issued" if ctx.person.is_registered and not ctx.event.args else "enter_code"


async def issue_code(ctx: Context) -> None:
    await ctx.tx.expire_link_codes(ctx.person.id, ctx.now)
    while True:
        code = new_link_code()
        clash = await ctx.tx.find_link_code(code)
        if clash is None or clash.used_at or clash.is_expired(ctx.now):
            break
    ttl = timedelta(minutes=ctx.settings.link_code_ttl_minutes)
    await ctx.tx.create_link_code(LinkCode(0, ctx.person.id, code, ctx.event.channel,
                                           ctx.event.account_id, ctx.now, ctx.now + ttl))
    ctx.data.update(code=code, minutes=ctx.settings.link_code_ttl_minutes)


def is_code(ctx: Context) -> bool:
    return looks_like_link_code(ctx.event.text)


async def _refuse(ctx: Context, template: str, failures: int, **params: object) -> Reject:
    await ctx.tx.record_link_failure(ctx.event.channel, ctx.event.account_id, ctx.now)
    if failures + 1 >= ctx.settings.link_code_max_failures:
        return Reject("link.locked", minutes=ctx.settings.link_code_ttl_minutes)
    return Reject(template, **params)


async def _valid_code(ctx: Context, typed: str) -> LinkCode:
    settings = ctx.settings
    since = ctx.now - timedelta(minutes=settings.link_code_ttl_minutes)
    failures = await ctx.tx.count_link_failures(ctx.event.channel, ctx.event.account_id, since)
    if failures >= settings.link_code_max_failures:
        raise Reject("link.locked", minutes=settings.link_code_ttl_minutes)
    code = await ctx.tx.find_link_code(re.sub(r"\s", "", typed))
    if code is None:
        left = settings.link_code_max_failures - failures - 1
        raise await _refuse(ctx, "link.wrong_code", failures, left=left)
    if code.used_at is not None:
        raise await _refuse(ctx, "link.used_code", failures)
    if code.is_expired(ctx.now):
        raise await _refuse(ctx, "link.expired_code", failures)
    return code


async def redeem(ctx: Context) -> str | None:
    code = await _valid_code(ctx, ctx.event.text)
    if code.person_id == ctx.person.id:
        raise Reject("link.own_code")
    owner = await ctx.tx.get_person(code.person_id)
    if ctx.person.is_registered:
        ctx.data.update(code_id=code.id, code=code.code, here_name=ctx.person.name or "—",
                        there_name=owner.name or "—")
        return "confirm_merge"
    await _join(ctx, code, reason="link code, guest account")
    return None


async def merge_confirmed(ctx: Context) -> None:
    code = await _valid_code(ctx, ctx.data["code"])  # it may have expired or been used while we asked
    await _join(ctx, code, reason="link code, profiles joined on confirmation")


async def _join(ctx: Context, code: LinkCode, reason: str) -> None:
    code.used_at = ctx.now
    await ctx.tx.save_link_code(code)
    channel = CHANNEL_NAMES.get(ctx.event.channel, ctx.event.channel)
    await ctx.merge_into(code.person_id, reason)
    issuer = next((a for a in await ctx.tx.accounts_of(code.person_id)
                   if a.channel == code.channel and a.external_id == code.account_id), None)
    if issuer is not None:
        ctx.notify(code.person_id, "link.done_elsewhere", locale=ctx.person.locale, via=issuer,
                   channel=channel)


LINKING = Scenario(
    name="linking",
    commands=("/link",),
    needs_registration=False,
    takes_args=True,
    initial=("issued", "enter_code"),
    entry=choose_start,
    states=(
        State("issued", prompt="link.code_issued", on_enter=issue_code, transitions=(
            on(BUTTON, payload="link:enter", to="enter_code"),
            on(TEXT, guard=is_code, action=redeem, to="linked", also=("confirm_merge",), label="code"),
        )),
        State("enter_code", prompt="link.ask_code", transitions=(
            on(TEXT, action=redeem, to="linked", also=("confirm_merge",), label="code"),
        )),
        State("confirm_merge", prompt="link.confirm_merge", transitions=(
            on(BUTTON, payload="merge:yes", action=merge_confirmed, to="linked"),
            on(BUTTON, payload="merge:no", to="declined"),
        )),
        State("linked", prompt="link.done", final=True),
        State("declined", prompt="link.merge_declined", final=True),
    ),
)
