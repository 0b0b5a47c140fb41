"""Photo -> QR texts in worker processes of their own, each decode under a time budget, with a bound on waiting.

Why processes: a crafted picture (a huge, tiny PNG tiled with QR finder patterns) keeps zxing-cpp busy
for minutes. A thread cannot be stopped, and six such decodes filled asyncio's default executor, so
everything else that went through it waited behind them. A process can be killed: pebble ends the
worker when the budget runs out and starts a fresh one, and the person hears "too_slow".

Why a bound: with every worker busy and ``queue_limit`` photos already waiting, the next photo is
answered "busy" at once. A queued photo's own budget starts only when a worker takes it, so the
longest wait is about ``(queue_limit // workers + 1) * budget_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing.context import BaseContext
from zoneinfo import ZoneInfo

from pebble import ProcessExpired, ProcessPool

from core.events import InboundEvent
from promo.qr import DecodeResult, ImageRejected, QrReader, decode_photo

log = logging.getLogger(__name__)

WORKER_NICENESS = 10  # the event loop's process keeps the CPU when decodes compete with it


class PhotoReaderClosed(RuntimeError):
    """The reader was closed (the platform is stopping) before or while this photo was decoded."""


def _start_worker() -> None:
    # pebble's SIGTERM handler is Python code, which runs only once zxing's C++ returns: a killed
    # worker would live on for pebble's 3 s grace period and block its manager thread meanwhile.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # pebble treats a worker that exits while idle as a broken pool, so a failing nice must not kill it.
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


def _context() -> BaseContext:
    """forkserver where there is one: the platform process has threads, so it must never fork itself.

    The server imports this module (zxing-cpp, Pillow) once, so a replacement worker is a cheap fork
    of it rather than a fresh interpreter; the preload list is global and keeps the default ``__main__``.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", __name__])
    return context


class PhotoReader:
    """Decodes photos in a pool of ``workers`` processes; build it once at start-up and ``close`` it at the end."""

    def __init__(self, *, workers: int, budget_seconds: float, queue_limit: int, zone: ZoneInfo,
                 use_pyzbar: bool = True) -> None:
        if workers < 1 or budget_seconds <= 0 or queue_limit < 0:
            raise ValueError(f"workers={workers} budget_seconds={budget_seconds} queue_limit={queue_limit}")
        if zone.key is None:  # the workers get the zone by name
            raise ValueError("the zone must be built from its name, e.g. ZoneInfo('Europe/Moscow')")
        self.workers = workers
        self.budget_seconds = budget_seconds
        self.limit = workers + queue_limit
        self._zone_name = zone.key
        self._use_pyzbar = use_pyzbar
        self._has_pyzbar = use_pyzbar and QrReader(use_pyzbar).has_pyzbar
        self._in_flight = 0
        self._closed = False
        self._waiters: set[asyncio.Future[DecodeResult]] = set()
        self._pool = self._new_pool()

    @property
    def has_pyzbar(self) -> bool:
        return self._has_pyzbar

    @property
    def in_flight(self) -> int:
        """Photos being decoded or waiting for a worker."""
        return self._in_flight

    async def read(self, event: InboundEvent) -> InboundEvent:
        """The photo's QR texts (or why there are none); other events, and events already read, as they are."""
        if event.photo is None or event.qr_texts is not None or event.attachment_error is not None:
            return event
        if self._closed:
            raise PhotoReaderClosed()
        if self._in_flight >= self.limit:
            log.warning("photo from %s:%s refused: %d decodes in flight", event.channel, event.account_id,
                        self._in_flight)
            return replace(event, qr_texts=(), attachment_error="busy")
        self._in_flight += 1
        try:
            result = await self._decode(event.photo)
        except ImageRejected as e:
            return replace(event, qr_texts=(), attachment_error=e.reason)
        except TimeoutError:
            log.warning("photo from %s:%s (%d bytes) took over %.1f s: worker killed", event.channel,
                        event.account_id, len(event.photo), self.budget_seconds)
            return replace(event, qr_texts=(), attachment_error="too_slow")
        finally:
            self._in_flight -= 1
        if result is None:
            return replace(event, qr_texts=(), attachment_error="corrupt")
        return replace(event, qr_texts=tuple(result.texts),
                       attachment_error=None if result.accepted else result.reason)

    async def _decode(self, photo: bytes) -> DecodeResult | None:
        """The decode's result, or None when its worker died under it (a crash in a decoder, the OOM killer)."""
        pool = self._pool
        try:
            future = pool.schedule(decode_photo, args=(photo, self._zone_name, self._use_pyzbar),
                                   timeout=self.budget_seconds)
        except RuntimeError:  # pebble gives the whole pool up when a worker dies while none is decoding
            log.error("photo decoder pool was broken; starting a new one")
            pool = self._replace_pool(pool)
            future = pool.schedule(decode_photo, args=(photo, self._zone_name, self._use_pyzbar),
                                   timeout=self.budget_seconds)
        waiter = asyncio.wrap_future(future)
        self._waiters.add(waiter)
        try:
            return await waiter
        except (ImageRejected, TimeoutError, PhotoReaderClosed):
            raise
        except Exception as e:
            if self._closed:  # pebble may abort the tasks it drops on stop as a broken pool
                raise PhotoReaderClosed() from e
            if isinstance(e, ProcessExpired):
                log.error("photo decoder died (exit code %s); a new worker takes its place", e.exitcode)
            elif isinstance(e, BrokenProcessPool):
                log.error("photo decoder pool broke; starting a new one")
                self._replace_pool(pool)
            else:  # a bug in a decoder: the person still gets an answer
                log.exception("photo decoder failed")
        finally:
            self._waiters.discard(waiter)
        return None

    def _new_pool(self) -> ProcessPool:
        pool = ProcessPool(max_workers=self.workers, initializer=_start_worker, context=_context())
        pool.schedule(len, args=((),))  # starts the workers now rather than on the first photo
        return pool

    def _replace_pool(self, broken: ProcessPool) -> ProcessPool:
        """A working pool; concurrent decodes that all saw ``broken`` fail replace it only once."""
        if self._pool is broken and not self._closed:
            self._pool = self._new_pool()
            broken.stop()
            threading.Thread(target=broken.join, name="photo-pool-join", daemon=True).start()
        return self._pool

    async def close(self) -> None:
        """Stops the workers and waits until they are gone; a decode under way raises ``PhotoReaderClosed``."""
        if self._closed:
            return
        self._closed = True
        self._pool.stop()
        loop = asyncio.get_running_loop()
        joined = loop.create_future()

        def join() -> None:
            try:
                self._pool.join()
            finally:
                loop.call_soon_threadsafe(joined.set_result, None)

        # a thread of its own: the default executor may be the very thing that is congested
        threading.Thread(target=join, name="photo-pool-join", daemon=True).start()
        await joined
        # a stopped pebble pool never settles the futures of the tasks it dropped
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PhotoReaderClosed())
