"""Authorization: a known person, in any of their linked channels, sees their own profile."""

from __future__ import annotations

from core.channels import Identity
from core.context import Context
from core.identity import format_phone
from core.machine import Scenario, State


async def show_profile(ctx: Context) -> None:
    person = ctx.person
    accounts = await ctx.tx.people.accounts_of(person.id)
    registered = person.registered_at.astimezone(ctx.settings.zone) if person.registered_at else None
    ctx.data.update(
        phone=format_phone(person.phone),
        email=person.email or "—",
        channels=", ".join(sorted({ctx.services.channel_title(a.channel) for a in accounts
                                   if ctx.services.channels.identity_of(a.channel) is Identity.ACCOUNT})),
        # numbers and addresses are shown as the phone and the e-mail
        registered=registered.strftime("%d.%m.%Y") if registered else "—",
    )


PROFILE = Scenario(
    name="profile",
    commands=("/me", "/profile"),
    words=("профиль", "мой профиль", "кто я", "profile", "my profile", "me"),
    aside=True,
    initial=("shown",),
    states=(State("shown", prompt="profile.card", on_enter=show_profile, final=True),),
)
