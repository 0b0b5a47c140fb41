"""``/stop`` and ``/news``: the person's advertising consent (``core.advertising``).

``/stop`` (typed, or the button under every broadcast) withdraws it at once in every channel the person has —
they asked us to stop, wherever we would write — and says what still comes (receipts, payouts, prize notices)
and how to undo it. ``/news`` asks, then gives it in the channel it is said in: consent to advertising is given
per channel. Both are recorded with the time and where they were said.
"""

from __future__ import annotations

from core.context import Context
from core.events import EventKind
from core.machine import Scenario, State, on

BUTTON = EventKind.BUTTON


def _source(ctx: Context, command: str) -> str:
    return "button" if ctx.event.kind is BUTTON else command


async def stop_news(ctx: Context) -> None:
    channels = {a.channel for a in await ctx.tx.people.accounts_of(ctx.person.id)} | {ctx.event.channel}
    for channel in sorted(channels):
        await ctx.tx.people.record_advertising(ctx.person.id, channel, False, _source(ctx, "/stop"), ctx.now)


async def ask(ctx: Context) -> str:
    ctx.data["channel"] = ctx.services.channel_title(ctx.event.channel)
    return "confirm"


async def give(ctx: Context) -> None:
    await ctx.tx.people.record_advertising(ctx.person.id, ctx.event.channel, True, "/news", ctx.now)


STOP = Scenario(
    name="news_stop",
    commands=("/stop",),
    words=("не присылать новости", "отписаться от новостей", "no more news", "stop news"),
    needs_registration=False,
    aside=True,
    initial=("stopped",),
    states=(State("stopped", prompt="news.stopped", on_enter=stop_news, final=True),),
)

NEWS = Scenario(
    name="news",
    commands=("/news",),
    words=("получать новости", "присылать новости", "news", "send me news"),
    needs_registration=False,
    initial=("confirm",),
    entry=ask,
    states=(
        State("confirm", prompt="news.confirm", transitions=(
            on(BUTTON, payload="news:yes", action=give, to="given"),
            on(BUTTON, payload="news:no", to="kept"),
        )),
        State("given", prompt="news.given", final=True),
        State("kept", prompt="news.kept", final=True),
    ),
)
