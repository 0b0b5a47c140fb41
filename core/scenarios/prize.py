"""A winner's prize: notified -> confirms and gives what the prize needs -> staff send it.

The notice (``draw.won``, through the outbox to whichever channel reaches the person) carries
a ``/prize <id>`` button. The winner confirms, gives their full name and, when the prize
needs them, a delivery address and a phone number, each checked as it comes; or refuses,
and the prize goes to the next reserve at once. Silence until the deadline does the same
(``core.draws.DrawKeeper``). Every step checks the win is still theirs and still open.

``PRIZE_NOTICE`` follows each notice in the background, from the outbox's domain events: the winner's time starts
when the notice is first delivered, and a notice that reached none of their channels leaves the win ``unreached``
for staff (``core.draws.reach``) instead of letting the prize pass on unheard.
"""

from __future__ import annotations

import re

from core import draws
from core.context import Context
from core.draws import reach
from core.errors import Reject
from core.events import EventKind
from core.identity import format_phone, normalise_phone
from core.machine import Scenario, State, on
from core.moments import shown_time
from core.ports.draws import Winner, WinnerStatus
from core.scenarios.registration import said_yes
from core.triggers import details

TEXT, BUTTON, CONTACT, HAPPENED = EventKind.TEXT, EventKind.BUTTON, EventKind.CONTACT, EventKind.HAPPENED
FULL_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)+\.?$")  # at least two words: a name and a surname
ADDRESS_LENGTH = (10, 300)


async def _win(ctx: Context) -> Winner | None:
    """The win this scenario is about, if it is still open; else the person is told and the scenario ends."""
    win = await draws.open_win(ctx.tx, ctx.person.id, ctx.data.get("winner_id"), ctx.now)
    if win is None:
        ctx.say("prize.gone")
        ctx.abandon()
    return win


async def find(ctx: Context) -> str:
    args = ctx.event.args.strip() if ctx.event.kind is EventKind.COMMAND else ""
    wanted = int(args) if args.isdigit() and len(args) < 19 else None
    win = await draws.open_win(ctx.tx, ctx.person.id, wanted, ctx.now)
    if win is None:
        return "none"
    if win.status is WinnerStatus.UNREACHED:  # no notice reached them, but they are here: their time starts now
        win = await reach.delivered(ctx.tx, win, ctx.now, ctx.settings.draw_winner_hours)
    draw = await ctx.tx.draws.get(win.draw_id)
    campaign = await ctx.tx.campaigns.get(draw.campaign)
    if campaign is None:
        return "none"
    prize = campaign.tier(win.tier)
    assert win.deadline is not None
    ctx.data.update(winner_id=win.id, prize=prize.name, campaign=campaign.name, needs=sorted(prize.needs),
                    deadline=shown_time(win.deadline, campaign.zone, ctx.person.locale), details={})
    return "offered"


def _next_step(ctx: Context) -> str:
    needs, details = ctx.data["needs"], ctx.data["details"]
    for field in ("address", "phone"):
        if field in needs and field not in details:
            return field
    return "check"


async def accept(ctx: Context) -> str | None:
    return "full_name" if await _win(ctx) else None


async def decline(ctx: Context) -> None:
    win = await _win(ctx)
    if win is not None:
        await draws.drop_out(ctx.tx, win, WinnerStatus.DECLINED, ctx.now, ctx.settings.draw_winner_hours)


async def full_name(ctx: Context) -> str | None:
    if await _win(ctx) is None:
        return None
    name = " ".join(ctx.event.text.split())
    if not FULL_NAME.match(name) or len(name) > 120:
        raise Reject("prize.bad_full_name")
    ctx.data["details"]["full_name"] = name
    return _next_step(ctx)


async def address(ctx: Context) -> str | None:
    if await _win(ctx) is None:
        return None
    text = " ".join(ctx.event.text.split())
    low, high = ADDRESS_LENGTH
    if not low <= len(text) <= high or not any(ch.isdigit() for ch in text) or not any(ch.isalpha() for ch in text):
        raise Reject("prize.bad_address")
    ctx.data["details"]["address"] = text
    return _next_step(ctx)


async def phone(ctx: Context) -> str | None:
    if await _win(ctx) is None:
        return None
    typed = ctx.event.contact.phone if ctx.event.contact else ctx.event.text
    ctx.data["details"]["phone"] = normalise_phone(typed, ctx.settings.phone_region)
    return _next_step(ctx)


async def summary(ctx: Context) -> None:
    details = ctx.data["details"]
    ctx.data.update(full_name=details.get("full_name", ""), address=details.get("address", "—"),
                    shown_phone=format_phone(details.get("phone")))


async def confirm(ctx: Context) -> None:
    win = await _win(ctx)
    if win is not None:
        await draws.confirm(ctx.tx, win, ctx.data["details"], ctx.now)


async def again(ctx: Context) -> None:
    ctx.data["details"] = {}


PRIZE = Scenario(
    name="prize",
    commands=("/prize",),
    words=("приз", "мой приз", "получить приз", "prize", "my prize"),
    initial=("offered", "none"),
    entry=find,
    states=(
        State("offered", prompt="prize.offer", transitions=(
            on(BUTTON, payload="prize:accept", action=accept, to="full_name"),
            on(TEXT, guard=said_yes, action=accept, to="full_name", label="yes"),
            on(BUTTON, payload="prize:decline", to="confirm_decline"),
        )),
        State("confirm_decline", prompt="prize.confirm_decline", transitions=(
            on(BUTTON, payload="prize:decline_yes", action=decline, to="declined"),
            on(BUTTON, payload="prize:decline_no", to="offered"),
        )),
        State("full_name", prompt="prize.ask_full_name", transitions=(
            on(TEXT, action=full_name, to="check", also=("address", "phone"), label="full name"),)),
        State("address", prompt="prize.ask_address", transitions=(
            on(TEXT, action=address, to="check", also=("phone",), label="address"),)),
        State("phone", prompt="prize.ask_phone", transitions=(
            on(CONTACT, action=phone, to="check", label="contact"),
            on(TEXT, action=phone, to="check", label="phone"),
        )),
        State("check", prompt="prize.check", on_enter=summary, transitions=(
            on(BUTTON, payload="prize:confirm", action=confirm, to="confirmed"),
            on(BUTTON, payload="prize:fix", action=again, to="full_name"),
        )),
        State("none", prompt="prize.none", final=True),
        State("declined", prompt="prize.declined", final=True),
        State("confirmed", prompt="prize.confirmed", final=True),
    ),
)


def _about_a_win(ctx: Context) -> bool:
    return details(ctx).get("template") == reach.NOTICE


async def _told(ctx: Context) -> None:
    """A (new) notice of a win is on its way: the machine keeps running, a step per delivery or failure."""
    ctx.data.setdefault("delivered", [])


async def _delivered(ctx: Context) -> None:
    message_id = int(details(ctx)["message_id"])
    seen = ctx.data.setdefault("delivered", [])
    if message_id in seen:  # an escalation's later round: the winner's time started at the first delivery
        return
    seen.append(message_id)
    del seen[:-50]  # a person wins rarely; the oldest notices are long settled
    win = await reach.winner_of_notice(ctx.tx, ctx.person.id, message_id)
    if win is not None:
        await reach.delivered(ctx.tx, win, ctx.now, ctx.settings.draw_winner_hours)


async def _failed(ctx: Context) -> None:
    data = details(ctx)
    message_id = int(data["message_id"])
    # "unreached" is a notice delivered but unanswered by its deadline: the win was heard of and expires as usual
    if data.get("status") == "unreached" or message_id in ctx.data.get("delivered", []):
        return
    win = await reach.winner_of_notice(ctx.tx, ctx.person.id, message_id)
    if win is not None:
        await reach.unreached(ctx.tx, win, ctx.now)


PRIZE_NOTICE = Scenario(
    name="prize_notice",
    initial=("watching",),
    needs_registration=False,
    started_by=("prize.won",),
    states=(
        State("watching", transitions=(
            on(HAPPENED, payload="prize.won", action=_told, label="a win told"),
            on(HAPPENED, payload="message.sent", guard=_about_a_win, action=_delivered, label="notice delivered"),
            on(HAPPENED, payload="message.failed", guard=_about_a_win, action=_failed, label="notice failed"),
        )),
    ),
)
