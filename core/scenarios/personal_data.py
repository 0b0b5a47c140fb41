"""``/forget``: a person's data erased on request (152-FZ), after they confirm it.

What identifies them goes (name, phone, e-mail, the ids messengers know them by, what they
wrote, their photos); the pseudonymous id and every amount stay, so the ledger balances and
draws stay verifiable. Nothing can be undone afterwards: the question says so.
"""

from __future__ import annotations

from core.context import Context
from core.events import EventKind
from core.machine import Scenario, State, on
from core.support.personal_data import erase_person

BUTTON = EventKind.BUTTON


async def erase(ctx: Context) -> None:
    await erase_person(ctx.tx, ctx.person.id, ctx.now)
    # what this step still holds in memory is written after us: it must not bring anything back
    ctx.person.name = ctx.person.phone = ctx.person.email = None
    ctx.sender.display_name = ""
    for state in ctx.states.values():
        state.data.clear()


FORGET = Scenario(
    name="forget",
    commands=("/forget",),
    words=("удалить мои данные", "забудьте меня", "удалите мои данные", "forget me", "delete my data"),
    needs_registration=False,
    initial=("confirm",),
    states=(
        State("confirm", prompt="forget.confirm", transitions=(
            on(BUTTON, payload="forget:yes", action=erase, to="erased"),
            on(BUTTON, payload="forget:no", to="kept"),
        )),
        State("erased", prompt="forget.done", final=True),
        State("kept", prompt="forget.kept", final=True),
    ),
)
