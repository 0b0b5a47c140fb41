"""One lifecycle for everything the platform runs: a service starts, runs, and stops.

``bootstrap`` (``run.py``) returns the services in the order they depend on each other; the
platform starts them in that order, runs each one's loop as a task, and stops them in reverse:
what takes work in stops before what does the work, which stops before what it writes to.
A new worker (a timer scheduler, a webhook sender, a prober) is one more service in that list.

``Periodic`` is the loop most workers are: one pass now and then, a failed pass logged and
tried again at the next interval, ended at once by ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    async def start(self) -> None:
        """Be ready (quick: connections, first reads); the services after this one may rely on it."""
        ...

    async def run(self) -> None:
        """The service's loop, until ``stop`` (returns at once for a service that has none)."""
        ...

    async def stop(self) -> None:
        """Finish what is under way and let go; the services before this one are still running."""
        ...


class Periodic:
    """A pass every ``seconds`` (from the start of the one before), until stopped."""

    def __init__(self, name: str, step: Callable[[], Awaitable[Any]], seconds: float, *, first_at_once: bool = True,
                 close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.step = step
        self.seconds = seconds
        self.first_at_once = first_at_once
        self.close = close
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        if not self.first_at_once:
            await self._pause()
        while not self._stopping.is_set():
            try:
                await self.step()
            except Exception:  # the loop must outlive one bad pass
                log.exception("%s: a pass failed", self.name)
            await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.seconds)

    async def stop(self) -> None:
        self._stopping.set()
        if self.close is not None:
            await self.close()


class Resource:
    """Something with nothing to run that must be let go at the end (a connection pool, an emulator)."""

    def __init__(self, name: str, close: Callable[[], Awaitable[None]],
                 open_: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self._close = close
        self._open = open_

    async def start(self) -> None:
        if self._open is not None:
            await self._open()

    async def run(self) -> None:
        return None

    async def stop(self) -> None:
        await self._close()


class Lifecycle:
    """Services started in order, each one's loop run as a task, stopped in reverse."""

    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self._running: list[tuple[Service, asyncio.Task[None]]] = []

    async def start(self) -> None:
        try:
            for service in self.services:
                await service.start()
                self._running.append((service, asyncio.create_task(service.run(), name=service.name)))
        except BaseException:
            await self.stop()  # what did start is let go: a failed start leaves nothing running
            raise

    async def stop(self, settle: float = 2.0) -> None:
        while self._running:
            service, loop = self._running.pop()
            try:
                await service.stop()
            except Exception:  # the rest must still stop
                log.exception("%s did not stop cleanly", service.name)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(loop), settle)
            if not loop.done():
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await loop
