"""The person's money: ``/balance`` shows it, ``/payout`` asks for it to be paid to the verified phone."""

from __future__ import annotations

from core.context import Context
from core.errors import Reject
from core.events import EventKind
from core.identity import format_phone
from core.machine import Scenario, State, on
from core.payouts import money_of
from core.scenarios.contacts import phone_ways
from core.settings import kopecks
from promo import ledger
from promo.ledger import LedgerAccount

BUTTON = EventKind.BUTTON


async def show_balance(ctx: Context) -> None:
    money = await money_of(ctx.tx, ctx.person.id)
    ctx.data.update(available=ledger.format_roubles(money.available), pending=ledger.format_roubles(money.pending),
                    requested=ledger.format_roubles(money.requested), paid=ledger.format_roubles(money.paid))
    ctx.data["can_withdraw"] = "1" if money.available >= max(kopecks(ctx.settings.payout_min), 1) else ""


async def choose_payout_start(ctx: Context) -> str:
    money = await money_of(ctx.tx, ctx.person.id)
    available = money.available
    minimum = kopecks(ctx.settings.payout_min)
    ctx.data.update(amount=ledger.format_roubles(available), minimum=ledger.format_roubles(minimum),
                    phone=format_phone(ctx.person.phone), amount_kopecks=available,
                    # said only when there is some: "0,00 available" alone hides money still being checked
                    pending=ledger.format_roubles(money.pending) if money.pending else "")
    if available < max(minimum, 1):
        return "too_little"
    if not (ctx.person.phone and ctx.person.phone_verified):
        ctx.data.update(phone_ways(ctx))
        return "phone_unverified"
    return "confirm"


async def request_payout(ctx: Context) -> None:
    balances = await ctx.tx.ledger.balances(ctx.person.id)
    amount = int(ctx.data["amount_kopecks"])
    available = balances.get(LedgerAccount.AVAILABLE, 0)
    if amount > available or not ctx.person.phone:  # spent meanwhile from another account of theirs
        raise Reject("payout.changed")
    payout = await ctx.tx.ledger.add_payout(ctx.person.id, amount, ctx.person.phone, ctx.now)
    await ctx.tx.ledger.post(ledger.payout_request(ctx.person.id, amount, available), ctx.now, payout_id=payout.id)


BALANCE = Scenario(
    name="balance",
    commands=("/balance",),
    words=("баланс", "мой баланс", "кешбэк", "кэшбэк", "balance", "cashback"),
    aside=True,
    initial=("shown",),
    states=(State("shown", prompt="cashback.balance", on_enter=show_balance, final=True),),
)

PAYOUT = Scenario(
    name="payout",
    commands=("/payout",),
    words=("вывести", "вывод", "выплата", "payout", "withdraw"),
    initial=("confirm", "too_little", "phone_unverified"),
    entry=choose_payout_start,
    states=(
        State("confirm", prompt="payout.confirm", transitions=(
            on(BUTTON, payload="payout:yes", action=request_payout, to="requested"),
            on(BUTTON, payload="payout:no", to="declined"),
        )),
        State("too_little", prompt="payout.too_little", final=True),
        State("phone_unverified", prompt="payout.phone_unverified", final=True),
        State("requested", prompt="payout.requested", final=True),
        State("declined", prompt="common.cancelled", final=True),
    ),
)
