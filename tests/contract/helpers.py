"""What the contract tests share: a clock's worth of times, fresh people, and the conflict and rollback checks.

Everything goes through ``store.transaction()`` and the ports: no SQL, no sessions, no
attributes of one implementation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.channels import ChannelName
from core.errors import ConflictError
from core.ports import Store, UnitOfWork

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TELEGRAM = ChannelName("telegram")
VK = ChannelName("vk")

Action = Callable[[UnitOfWork], Awaitable[Any]]


def at(**delta: float) -> datetime:
    """A time relative to ``NOW``: ``at(minutes=-5)``."""
    return NOW + timedelta(**delta)


class Abandoned(Exception):
    """Raised inside a unit of work to end it without committing."""


async def new_person(store: Store, locale: str = "ru", now: datetime = NOW) -> int:
    """A person committed in a unit of their own; their id."""
    async with store.transaction() as tx:
        return (await tx.people.create(locale, now)).id


async def new_people(store: Store, count: int) -> list[int]:
    async with store.transaction() as tx:
        return [(await tx.people.create("ru", NOW)).id for _ in range(count)]


async def conflicts(store: Store, action: Action) -> None:
    """The action itself raises ``ConflictError`` (inside the step, not later at commit); the unit is then dropped."""
    with pytest.raises(Abandoned):
        async with store.transaction() as tx:
            with pytest.raises(ConflictError):
                await action(tx)
            raise Abandoned


async def abandon(store: Store, action: Action) -> Any:
    """Run the action, then let the unit of work fail: nothing it did may remain. What the action returned."""
    result: Any = None
    with pytest.raises(Abandoned):
        async with store.transaction() as tx:
            result = await action(tx)
            raise Abandoned
    return result


async def read(store: Store, action: Action) -> Any:
    """The action's answer in a fresh unit of work (so only what was committed is seen)."""
    async with store.transaction() as tx:
        return await action(tx)
