"""``/forget``: a person's data erased on request (152-FZ), after they confirm it.

What identifies them goes (name, phone, e-mail, the ids messengers know them by, what they
wrote, their photos); the pseudonymous id and every amount stay, so the ledger balances and
draws stay verifiable. Nothing can be undone afterwards: the question says so, and says what
money is theirs — it is paid only to their verified phone, which erasure blanks. A payout
already requested to that phone is settled first: the person waits for it or takes it back.
Their accounts in the other messengers are forgotten too, and each is told so.
"""

from __future__ import annotations

from core.channels import Identity
from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.identity import ChannelAccount, format_phone
from core.machine import Scenario, State, on
from core.payouts import money_of, take_back
from core.settings import kopecks
from core.support.personal_data import erase_person
from promo import ledger

BUTTON = EventKind.BUTTON


async def weigh(ctx: Context) -> str:
    """What the question says: the money that is theirs; a requested payout is settled before anything else."""
    money = await money_of(ctx.tx, ctx.person.id)
    requested = sum(p.amount_kopecks for p in money.requested_payouts)
    ctx.data.update(available=ledger.format_roubles(money.available), pending=ledger.format_roubles(money.pending),
                    requested=ledger.format_roubles(requested), phone=format_phone(ctx.person.phone),
                    money="1" if money.available or money.pending else "", owed=money.owed,
                    can_withdraw="1" if money.available >= max(kopecks(ctx.settings.payout_min), 1) else "")
    return "payout_first" if money.requested_payouts else "confirm"


async def cancel_payouts(ctx: Context) -> str:
    """The person takes their requested payout back: the money is available again, and asked about anew."""
    money = await money_of(ctx.tx, ctx.person.id)
    taken = [p for p in money.requested_payouts if await take_back(ctx.tx, p, ctx.now, "person")]
    if taken:
        ctx.say("forget.payout_cancelled", amount=ledger.format_roubles(sum(p.amount_kopecks for p in taken)))
    return await weigh(ctx)  # paid meanwhile: nothing to take back, and the question says what is left


async def erase(ctx: Context) -> str | None:
    shown = ctx.data.get("owed")
    if await weigh(ctx) == "payout_first":  # requested meanwhile, from another of their accounts
        return "payout_first"
    if ctx.data["owed"] != shown:  # the money changed since they were asked: they confirm what is true now
        raise Reject("forget.money_changed")
    told = [a for a in await ctx.tx.people.accounts_of(ctx.person.id) if _told_of_erasure(ctx, a)]
    await erase_person(ctx.tx, ctx.person.id, ctx.now)
    # what this step still holds in memory is written after us: it must not bring anything back
    ctx.person.name = ctx.person.phone = ctx.person.email = None
    ctx.sender.display_name = ""
    for state in ctx.states.values():
        state.data.clear()
    for account in told:  # addressed by the ids read before they were blanked; the name is gone from the params
        ctx.notify(ctx.person.id, "forget.done_elsewhere", locale=ctx.person.locale, via=account,
                   channel=ctx.services.channel_title(ctx.event.channel))
    return None


def _told_of_erasure(ctx: Context, account: ChannelAccount) -> bool:
    """The person's other messenger accounts that still reach them (not the one asking, not a number or an
    address: a text or a letter about it would be more data sent out, after they asked us to stop)."""
    profile = ctx.services.channels.get(account.channel)
    return (profile is not None and profile.identity is Identity.ACCOUNT and account.unreachable_since is None
            and (account.channel, account.external_id) != (ctx.event.channel, ctx.event.account_id))


FORGET = Scenario(
    name="forget",
    commands=("/forget",),
    words=("удалить мои данные", "забудьте меня", "удалите мои данные", "forget me", "delete my data"),
    needs_registration=False,
    initial=("confirm", "payout_first"),
    entry=weigh,
    states=(
        State("confirm", prompt="forget.confirm", transitions=(
            on(BUTTON, payload="forget:yes", action=erase, to="erased", also=("payout_first",)),
            on(BUTTON, payload="forget:no", to="kept"),
        )),
        State("payout_first", prompt="forget.payout_first", transitions=(
            on(BUTTON, payload="forget:wait", to="waiting"),
            on(BUTTON, payload="forget:cancel_payout", action=cancel_payouts, to="confirm", also=("payout_first",)),
        )),
        State("erased", prompt="forget.done", final=True),
        State("kept", prompt="forget.kept", final=True),
        State("waiting", prompt="forget.waiting", final=True),
    ),
)
