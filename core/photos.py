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
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import spawn
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


MAIN_PATH_VARIABLE = "PROMO_PARENT_MAIN"


def _context() -> BaseContext:
    """forkserver where there is one: the platform process has threads, so it must never fork itself.

    The server imports this module (zxing-cpp, Pillow) once, so a replacement worker is a cheap fork
    of it rather than a fresh interpreter. A worker would still run the parent's main script again
    (``run.py``: aiogram, vkbottle, 15 s and more) — CPython 3.11's forkserver skips the preload
    of ``__main__`` (gh-98552) and each child then imports it. ``_claim_parent_main`` below tells the
    server that this is done already, so no worker ever imports the platform.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    main_path = spawn.get_preparation_data("photo-worker").get("init_main_from_path")
    if main_path:
        os.environ[MAIN_PATH_VARIABLE] = main_path
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _claim_parent_main() -> None:
    """In the fork server (whose ``__main__`` is a ``-c`` stub), take the parent's main path as our own.

    ``multiprocessing.spawn`` re-imports the main script in a child only when ``__main__.__file__``
    differs from the parent's; a child forked from here then has it already, and imports nothing.
    """
    main = sys.modules.get("__main__")
    path = os.environ.get(MAIN_PATH_VARIABLE)
    if main is not None and path and getattr(main, "__file__", None) is None:
        main.__file__ = path


_claim_parent_main()


def _decode_timed(photo: bytes, zone_name: str, use_pyzbar: bool) -> tuple[DecodeResult, float]:
    """In the worker: the decode and how long it took there (the wait for a worker not included)."""
    started = time.perf_counter()
    result = decode_photo(photo, zone_name, use_pyzbar)
    return result, time.perf_counter() - started


class PhotoReader:
    """Decodes photos in a pool of ``workers`` processes; build it once at start-up and ``close`` it at the end."""

    def __init__(self, *, workers: int, budget_seconds: float, queue_limit: int, zone: ZoneInfo,
                 use_pyzbar: bool = True, max_wait_seconds: float | None = None) -> None:
        if workers < 1 or budget_seconds <= 0 or queue_limit < 0:
            raise ValueError(f"workers={workers} budget_seconds={budget_seconds} queue_limit={queue_limit}")
        # a photo is let in while the decodes ahead of it should be done within this long
        self.max_wait_seconds = max_wait_seconds if max_wait_seconds is not None else 6 * budget_seconds
        self._typical = 0.05  # seconds one decode takes, a moving average of what they took
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
        self._waiters: set[asyncio.Future[tuple[DecodeResult, float]]] = set()
        self._pool = self._new_pool()

    @property
    def has_pyzbar(self) -> bool:
        return self._has_pyzbar

    def expected_wait(self) -> float:
        """About how long a photo let in now would wait: the decodes ahead of it, shared by the workers."""
        return self._in_flight / self.workers * self._typical

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
        if self._in_flight >= self.limit or self.expected_wait() > self.max_wait_seconds:
            log.warning("photo from %s:%s refused: %d decodes in flight, about %.0f s to wait", event.channel,
                        event.account_id, self._in_flight, self.expected_wait())
            return replace(event, qr_texts=(), attachment_error="busy")
        self._in_flight += 1
        try:
            result = await self._decode(event.photo)
        except ImageRejected as e:
            return replace(event, qr_texts=(), attachment_error=e.reason)
        except TimeoutError:
            log.warning("photo from %s:%s (%d bytes) took over %.1f s: worker killed", event.channel,
                        event.account_id, len(event.photo), self.budget_seconds)
            self._took(self.budget_seconds)
            return replace(event, qr_texts=(), attachment_error="too_slow")
        finally:
            self._in_flight -= 1
        if result is None:
            return replace(event, qr_texts=(), attachment_error="corrupt")
        return replace(event, qr_texts=tuple(result.texts),
                       attachment_error=None if result.accepted else result.reason)

    def _took(self, seconds: float) -> None:
        self._typical = 0.8 * self._typical + 0.2 * seconds

    async def _decode(self, photo: bytes) -> DecodeResult | None:
        """The decode's result, or None when its worker died under it (a crash in a decoder, the OOM killer)."""
        pool = self._pool
        try:
            future = pool.schedule(_decode_timed, args=(photo, self._zone_name, self._use_pyzbar),
                                   timeout=self.budget_seconds)
        except RuntimeError:  # pebble gives the whole pool up when a worker dies while none is decoding
            log.error("photo decoder pool was broken; starting a new one")
            pool = self._replace_pool(pool)
            future = pool.schedule(_decode_timed, args=(photo, self._zone_name, self._use_pyzbar),
                                   timeout=self.budget_seconds)
        waiter = asyncio.wrap_future(future)
        self._waiters.add(waiter)
        try:
            result, seconds = await waiter
            self._took(seconds)
            return result
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
