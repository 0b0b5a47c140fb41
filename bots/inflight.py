"""Counts events being applied, so a shutdown can wait for them instead of cutting them off."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class InFlight:
    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self, work: Awaitable[T]) -> T:
        self._count += 1
        self._idle.clear()
        try:
            return await work
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def drained(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
