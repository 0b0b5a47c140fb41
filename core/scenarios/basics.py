"""What works from any state: /start (and the deep link behind it), /help, /cancel — and their words."""

from __future__ import annotations

from core.channels import Identity
from core.context import Context
from core.machine import Scenario, State
from core.scenarios.campaigns import enter_by_link


async def start(ctx: Context) -> None:
    if ctx.event.args and not ctx.person.source:
        ctx.person.source = ctx.event.args[:64]  # the deep-link payload: which pack or poster
        await ctx.tx.people.save(ctx.person)
    if ctx.event.args:  # a pack's link names its campaign: the person enters it
        await enter_by_link(ctx, ctx.event.args)
    if ctx.person.is_registered:
        ctx.abandon()
        ctx.say("common.welcome_back")
    else:
        await ctx.begin_onboarding()


async def explain(ctx: Context) -> None:
    if not ctx.person.is_registered:
        ctx.say("common.help_guest")
        return
    # /email is listed only where a code can be mailed (the help's if_empty version leaves it out)
    ctx.say("common.help", email="1" if ctx.services.channels.running_with(Identity.MAILBOX) else "")


async def cancel(ctx: Context) -> None:
    registered = ctx.person.is_registered
    if ctx.current is None:
        ctx.say("common.nothing_to_cancel" if registered else "registration.cancelled")
        return
    ctx.abandon()
    ctx.say("common.cancelled" if registered else "registration.cancelled")


START = Scenario(
    name="start", commands=("/start",), words=("начать", "старт", "start", "begin"), aside=True,
    needs_registration=False, initial=("answered",), states=(State("answered", on_enter=start, final=True),),
)
HELP = Scenario(
    name="help", commands=("/help",), words=("помощь", "помоги", "справка", "команды", "help", "commands"),
    aside=True, needs_registration=False, initial=("answered",),
    states=(State("answered", on_enter=explain, final=True),),
)
CANCEL = Scenario(
    name="cancel", commands=("/cancel",), words=("отмена", "отменить", "стоп", "выход", "выйти", "cancel", "stop"),
    aside=True, needs_registration=False, initial=("answered",),
    states=(State("answered", on_enter=cancel, final=True),),
)
