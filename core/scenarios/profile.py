"""Authorization: a known person, in any of their linked channels, sees their own profile."""

from __future__ import annotations

from core.context import Context
from core.machine import Scenario, State

CHANNEL_NAMES = {"telegram": "Telegram", "vk": "VK", "email": "E-mail", "sms": "SMS", "web": "Web"}


async def show_profile(ctx: Context) -> None:
    person = ctx.person
    accounts = await ctx.tx.accounts_of(person.id)
    registered = person.registered_at.astimezone(ctx.settings.zone) if person.registered_at else None
    ctx.data.update(
        phone=person.phone or "—",
        email=person.email or "—",
        channels=", ".join(sorted({CHANNEL_NAMES.get(a.channel, a.channel) for a in accounts})),
        registered=registered.strftime("%d.%m.%Y") if registered else "—",
    )


PROFILE = Scenario(
    name="profile",
    commands=("/me", "/profile"),
    initial=("shown",),
    states=(State("shown", prompt="profile.card", on_enter=show_profile, final=True),),
)
