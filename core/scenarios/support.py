"""Support, from every state and every channel: describe the problem -> an optional photo -> the ticket number.

While a ticket is open, what the person writes joins it (the support scenario stays where it
was, and an idle person's text returns to it); answers come back on the channel they last
wrote from. The person can close the ticket and rate the answer 1–5 (or /cancel it: closed,
unrated); staff closing it ask for the rating too. One person's tickets are one list, whatever
channel they wrote from.
"""

from __future__ import annotations

from core.context import Context
from core.dispatch import keep_photo
from core.errors import Reject
from core.events import EventKind
from core.machine import Scenario, State, on
from core.ports.tickets import Ticket, TicketStatus
from core.scenarios.registration import said_skip
from core.scenarios.webchat import offers_web_chat
from core.support import tickets as support

TEXT, PHOTO, BUTTON, COMMAND = EventKind.TEXT, EventKind.PHOTO, EventKind.BUTTON, EventKind.COMMAND
SUPPORT = support.CONVERSATION  # the state named support.LISTENING is where words join the ticket
RATE_PREFIX = "support:rate:"  # support:rate:<ticket>:<1-5>
KEPT_PHOTO = "photo"  # a photo sent before the words, kept in the scenario's data until they come
MAX_TEXT = 4000


def _rating(payload: str) -> tuple[int, int] | None:
    ticket, _, stars = payload.removeprefix(RATE_PREFIX).partition(":")
    if not payload.startswith(RATE_PREFIX) or not ticket.isdigit() or stars not in {"1", "2", "3", "4", "5"}:
        return None
    return int(ticket), int(stars)


def is_rating(ctx: Context) -> bool:
    if ctx.event.kind is BUTTON:
        return _rating(ctx.event.payload) is not None
    return ctx.event.text.strip() in {"1", "2", "3", "4", "5"}


def continues(ctx: Context) -> bool:
    """An idle person's text while their ticket was open, and any support button, come back here."""
    if ctx.event.kind is BUTTON:
        return ctx.event.payload.startswith("support:")
    state = ctx.states.get(SUPPORT)
    return state is not None and state.state == "open"


async def _own_ticket(ctx: Context, ticket_id: int) -> Ticket | None:
    try:
        ticket = await ctx.tx.tickets.get(ticket_id)
    except LookupError:
        return None
    return ticket if ticket.person_id == ctx.person.id else None


async def resume(ctx: Context) -> str:
    """An open ticket's conversation goes on; a closed one can still be rated; otherwise a new one begins — when
    asked for: an old button of a closed ticket («✅ Вопрос решён») says so and starts nothing."""
    ctx.data["site_chat"] = "1" if offers_web_chat(ctx) else ""  # its button only where the web chat runs
    current = await ctx.tx.tickets.current_of(ctx.person.id)
    if current is not None:
        ctx.data["ticket"] = current.id
        return "open"
    rating = _rating(ctx.event.payload) if ctx.event.kind is BUTTON else None
    if rating is not None and (ticket := await _own_ticket(ctx, rating[0])) is not None:
        if not await support.may_rate(ctx.tx, ticket, ctx.now, ctx.services.rating_change):
            ctx.say("support.rating_stale", ticket=ticket.id)  # an old button: the score given stays
            return "gone"
        ctx.data["ticket"] = ticket.id
        return "rate"
    if ctx.event.kind is BUTTON:
        ctx.say("support.ticket_unknown" if rating is not None else "support.ticket_closed")
        return "gone"
    return "describe"


def _text(ctx: Context) -> str:
    text = ctx.event.text.strip()
    if not text:
        raise Reject("support.describe_in_words")
    return text[:MAX_TEXT]


async def _kept_photo(ctx: Context) -> str | None:
    """The event's photo as kept in ``tx.photos`` (its hash); None when it came unusable or too large to keep."""
    if ctx.event.kind is not PHOTO or ctx.event.photo is None:
        return None
    return (await keep_photo(ctx)).photo_ref


async def describe(ctx: Context) -> str | None:
    """The first words open the ticket. A photo sent with them (its caption) is the ticket's attachment, so the
    photo step is skipped; a photo with no words is kept for the words to come (it used to be thrown away)."""
    photo = await _kept_photo(ctx)
    if ctx.event.kind is PHOTO and not ctx.event.text.strip():
        if photo is None:
            raise Reject("support.describe_in_words")
        ctx.data[KEPT_PHOTO] = photo
        raise Reject("support.photo_kept")
    photo = photo or ctx.data.pop(KEPT_PHOTO, None)
    ticket = await support.open_ticket(ctx.tx, ctx.person.id, ctx.services.campaign.code, ctx.event.channel,
                                       ctx.event.account_id, _text(ctx), ctx.now, photo_sha256=photo)
    ctx.data["ticket"] = ticket.id
    if photo is not None:
        ctx.say("support.photo_added", ticket=ticket.id)
        return "open"
    if ctx.event.kind is PHOTO:  # words with a photo we could not keep: ask for it again at the photo step
        ctx.say("support.photo_unusable")
    return None


async def _current(ctx: Context) -> Ticket | None:
    ticket = await _own_ticket(ctx, int(ctx.data.get("ticket") or 0))
    return ticket if ticket is not None and ticket.is_open else None


async def attach_photo(ctx: Context) -> None:
    if ctx.event.photo is None:
        raise Reject("support.photo_unusable")
    event = await keep_photo(ctx)
    if event.photo_ref is None:  # bigger than we keep
        raise Reject("support.photo_unusable")
    ticket = await _current(ctx)
    if ticket is None:
        raise Reject("support.ticket_closed")
    await support.person_wrote(ctx.tx, ticket, ctx.now, text=ctx.event.text.strip()[:MAX_TEXT],  # its caption
                               photo_sha256=event.photo_ref, channel=ctx.event.channel, account_id=ctx.event.account_id)
    ctx.say("support.photo_added", ticket=ticket.id)


async def add_text(ctx: Context) -> str | None:
    """More words for the open ticket; when staff closed it meanwhile, these words open a new one."""
    ticket = await _current(ctx)
    if ticket is None:
        await describe(ctx)
        return "photo"
    await support.person_wrote(ctx.tx, ticket, ctx.now, text=_text(ctx), channel=ctx.event.channel,
                               account_id=ctx.event.account_id)
    if ctx.current is not None and ctx.current.state == "open":
        ctx.say("support.added", ticket=ticket.id)
    return None


async def close(ctx: Context) -> None:
    ticket = await _current(ctx)
    if ticket is not None:
        await support.set_status(ctx.tx, ticket, TicketStatus.CLOSED, ctx.now)


async def withdraw(ctx: Context) -> str | None:
    """/cancel with a ticket open closes it: leaving alone would still send the person's next words to it."""
    ticket = await _current(ctx)
    if ticket is None:  # staff closed it meanwhile
        return "left"
    await support.set_status(ctx.tx, ticket, TicketStatus.CLOSED, ctx.now)
    return None


async def rate(ctx: Context) -> str | None:
    """Rate a ticket; an old button of a ticket rated already says so and leaves the conversation where it was."""
    if ctx.event.kind is BUTTON:
        ticket_id, stars = _rating(ctx.event.payload) or (0, 0)
    else:
        ticket_id, stars = int(ctx.data.get("ticket") or 0), int(ctx.event.text.strip())
    ticket = await _own_ticket(ctx, ticket_id)
    if ticket is None:
        raise Reject("support.ticket_unknown")
    if not await support.may_rate(ctx.tx, ticket, ctx.now, ctx.services.rating_change):
        ctx.say("support.rating_stale", ticket=ticket.id)
        return ctx.current.state if ctx.current is not None and ctx.current.state in ("open", "rate") else "done"
    if ticket.is_open:
        await support.set_status(ctx.tx, ticket, TicketStatus.CLOSED, ctx.now)
    await support.rate(ctx.tx, ticket, stars, ctx.now, ctx.services.rating_change)
    return None


SUPPORT_SCENARIO = Scenario(
    name=SUPPORT,
    commands=("/support",),
    words=("поддержка", "служба поддержки", "оператор", "написать в поддержку", "support", "operator",
           "contact support"),
    needs_registration=False,
    initial=("describe", "open", "rate", "gone"),
    entry=resume,
    starts_on=frozenset({TEXT, BUTTON}),
    starts_when=continues,
    states=(
        State("describe", prompt="support.describe", transitions=(
            on(TEXT, action=describe, to="photo", also=("open",), label="problem"),
            on(PHOTO, action=describe, to="photo", also=("open",), label="photo first"),
        )),
        State("photo", prompt="support.photo", transitions=(
            on(PHOTO, action=attach_photo, to="open"),
            on(BUTTON, payload="support:skip", to="open"),
            on(TEXT, guard=said_skip, to="open", label="skip"),
            on(TEXT, action=add_text, to="open", also=("photo",), label="more words"),
            on(COMMAND, payload="/cancel", action=withdraw, to="withdrawn", also=("left",)),
        )),
        State("open", prompt="support.open", transitions=(
            on(TEXT, action=add_text, also=("photo",), label="more words"),
            on(PHOTO, action=attach_photo),
            on(BUTTON, payload="support:close", action=close, to="rate"),
            on(BUTTON, guard=is_rating, action=rate, to="done", also=("open",), label="rating"),
            on(COMMAND, payload="/cancel", action=withdraw, to="withdrawn", also=("left",)),
        )),
        State("rate", prompt="support.rate", transitions=(
            on(BUTTON, TEXT, guard=is_rating, action=rate, to="done", also=("rate",), label="rating"),
            on(BUTTON, payload="support:norate", to="done"),
        )),
        State("done", prompt="support.thanks", final=True),
        State("withdrawn", prompt="support.withdrawn", final=True),
        State("left", prompt="common.cancelled", final=True),
        State("gone", final=True),  # ``resume`` said why
    ),
)
