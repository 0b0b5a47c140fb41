"""Keeps a channel's polling alive: the libraries give up when their API cannot be reached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
MAX_DELAY = 60.0


async def poll_until_stopped(poll: Callable[[], Awaitable[object]], channel: str) -> None:
    """Run ``poll`` again, backing off, each time it fails; return when it returns (stopped on purpose)."""
    delay = 1.0
    while True:
        try:
            await poll()
            return
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("%s: polling stopped (%s); again in %.0fs", channel, e, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)
