"""The platform's composition root: ``bootstrap`` builds everything once, ``serve`` runs it, the CLI manages it.

    python run.py                  # run the bots, the outbox and the web app (the sandbox without tokens)
    python run.py --help           # managers' commands: payouts, receipts awaiting moderation, …

With no channel configured it runs the sandbox: Telegram and VK talk to built-in emulators,
and http://127.0.0.1:8080/sandbox lets you chat with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.channel import Channel, ChannelPlugin, Mode
from bots.cli import Tools, build_cli
from bots.drand import DrandRelays
from bots.proverkacheka import ProverkachekaVerifier
from bots.receipt_check import HttpReceiptVerifier
from bots.web.app import build_app
from bots.web.console import ConsoleConfig, console
from core.campaigns import seed_at_start
from core.channels import ChannelDirectory
from core.draws import DrawKeeper
from core.engine import Engine
from core.group_commit import GroupCommit
from core.heartbeat import Heartbeat, new_worker_id
from core.intake import Intake
from core.limits import InProcessLimiter, Limiter, Unlimited
from core.outbox import DeliveryPolicy, Outbox
from core.photos import PhotoReader
from core.ports import Store
from core.router import QuietHours
from core.scenarios import catalog
from core.services import Services
from core.settings import Settings, describe_error
from core.templates import Templates
from core.verification import ReceiptChecker
from storage.database import StorageError, create_engine, migrate
from storage.redis_limits import LimiterUnavailable, RedisLimiter
from storage.sql import SqlStore

if TYPE_CHECKING:
    from bots.sandbox import Sandbox

log = logging.getLogger("promo")
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConfigurationError(Exception):
    """A setting is wrong: said in one line naming it."""


class StartupError(Exception):
    """Something outside the platform stops it from starting (a port taken)."""


@dataclass
class Platform:
    """Everything ``python run.py`` runs, built by ``bootstrap``, started and stopped as one."""

    settings: Settings
    database: AsyncEngine
    store: Store
    channels: list[Channel]
    photos: PhotoReader
    engine: Engine
    outbox: Outbox
    intake: Intake
    heartbeat: Heartbeat
    checker: ReceiptChecker | None
    verifier: HttpReceiptVerifier | ProverkachekaVerifier | None
    app: web.Application
    listening: socket.socket
    web_url: str
    sandbox: Sandbox | None = None
    keeper: DrawKeeper | None = None  # runs due draws, hands prizes on at deadlines
    drand: DrandRelays | None = None
    _runner: web.AppRunner | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        await self.heartbeat.start()
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.listening).start()
        loops: list[Awaitable[None]] = [self.heartbeat.run(), self.outbox.run(), self.intake.run()]
        if self.checker is not None:
            loops.append(self.checker.run())
        if self.keeper is not None:
            loops.append(self.keeper.run())
        self._tasks = [asyncio.create_task(loop) for loop in loops]  # type: ignore[arg-type]
        for channel in self.channels:
            await channel.start(self.intake)
        log.info("platform started: %s, channels: %s, web: %s%s", self.store.kind,
                 ", ".join(c.profile.name for c in self.channels) or "none", self.web_url,
                 " (sandbox: /sandbox)" if self.sandbox else "")

    async def stop(self) -> None:
        """Stop taking updates, finish the ones taken, send what is being sent, then close."""
        for channel in self.channels:
            await channel.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if not await self.intake.stop():
            log.warning("some updates were still being processed; they are taken up at the next start")
        await self.outbox.stop()  # the sends under way end and are recorded: a graceful stop repeats nothing
        await self.outbox.limiter.close()
        for channel in self.channels:
            await channel.close()
        if self.checker is not None:
            self.checker.stop()
        if self.keeper is not None:
            self.keeper.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.heartbeat.stop()
        if self.verifier is not None:
            await self.verifier.close()
        if self.drand is not None:
            await self.drand.close()
        await self.photos.close()
        if self.sandbox is not None:
            await self.sandbox.stop()
        await self.store.close()
        await self.database.dispose()


@dataclass(frozen=True)
class Configuration:
    """Every setting, read and checked before anything starts: the platform's and each enabled channel's."""

    settings: Settings
    channels: list[tuple[ChannelPlugin, Any]]  # each enabled plugin with its own settings
    plugins: Sequence[ChannelPlugin]  # every plugin known (the sandbox may enable some)

    @property
    def sandbox(self) -> bool:
        if self.settings.sandbox is not None:
            return self.settings.sandbox
        return not self.channels


def configure(settings: Settings | None = None, plugins: Sequence[ChannelPlugin] | None = None) -> Configuration:
    """Read the environment (and ``.env``); ``ConfigurationError`` names the first wrong setting."""
    if plugins is None:
        # imported here, not at the top: the channels' libraries take seconds to import, and a manager's
        # command (``python run.py campaign list``) needs none of them
        from bots.registry import CHANNELS

        plugins = CHANNELS
    try:
        settings = settings or Settings()
    except ValidationError as e:
        raise ConfigurationError(describe_error(e)) from e
    chosen = []
    for plugin in plugins:
        try:
            own = plugin.settings()
        except ValidationError as e:
            raise ConfigurationError(describe_error(e, plugin.settings.model_config.get("env_prefix", ""))) from e
        if own.enabled:
            try:
                own.check(settings.bot_mode)
            except ValueError as e:
                raise ConfigurationError(f"configuration error: {e}") from e
            chosen.append((plugin, own))
    return Configuration(settings, chosen, plugins)


def listen(settings: Settings) -> socket.socket:
    """The web app's socket, bound first: the links the bots give out name its real address."""
    try:
        return socket.create_server((settings.web_host, settings.web_port), reuse_port=False)
    except OSError as e:
        raise StartupError(f"cannot serve on {settings.web_host}:{settings.web_port}: {e.strerror}") from e


async def shared_limiter(url: str) -> RedisLimiter:
    """The rate limits every process shares (``REDIS_URL``): Redis must answer before anything is sent."""
    limiter = RedisLimiter(url)
    try:
        await limiter.ping()
    except LimiterUnavailable as e:
        await limiter.close()
        raise StartupError(f"REDIS_URL: {e}") from e
    return limiter


async def bootstrap(configuration: Configuration, *, clock: Callable[[], datetime] = utc_now) -> Platform:
    """Build every object with everything it needs, once; nothing is assigned onto an object afterwards."""
    settings = configuration.settings
    mode: Mode = settings.bot_mode
    database = create_engine(settings.database_url)
    await migrate(database)
    store = SqlStore(database)
    chosen = configuration.channels
    sandbox = None
    if configuration.sandbox:
        from bots.sandbox import start_sandbox  # the emulators, only when they run (see ``configure``)

        sandbox = await start_sandbox()
    if sandbox is not None:  # the built-in emulators stand in for every channel that has one
        mode = "polling"
        chosen = [(plugin, own) for plugin in configuration.plugins
                  if (own := sandbox.settings_for(plugin.name)) is not None]
    channels: list[Channel] = [plugin.build(own, mode) for plugin, own in chosen]
    listening = listen(settings)
    port = listening.getsockname()[1]
    web_url = settings.public_url.rstrip("/") if settings.public_url else f"http://{settings.web_host}:{port}"
    photos = PhotoReader(workers=settings.photo_workers, budget_seconds=settings.photo_decode_seconds,
                         queue_limit=settings.photo_queue, zone=settings.zone,
                         max_wait_seconds=settings.photo_max_wait_seconds)
    if not photos.has_pyzbar:
        log.warning("the zbar library is not installed: receipts are read with zxing-cpp alone "
                    "(apt-get install libzbar0 adds pyzbar as a second reader)")
    directory = ChannelDirectory(channel.profile for channel in channels)
    services = Services(settings.campaign, photos, directory, settings.rules_url or f"{web_url}/rules",
                        web_url=web_url, verify_receipts=settings.receipt_check_enabled)
    worker_id = new_worker_id()
    committer = GroupCommit(store)
    limiter: Limiter = Unlimited()
    if settings.rate_limits:
        limiter = await shared_limiter(settings.redis_url) if settings.redis_url else InProcessLimiter()
    templates = Templates.load(default_locale=settings.locale)
    outbox = Outbox(store, templates,
                    {channel.profile.name: channel for channel in channels}, clock=clock, worker_id=worker_id,
                    committer=GroupCommit(store), limiter=limiter,  # its bookkeeping never queues before a reply
                    policy=DeliveryPolicy(settings.zone, QuietHours.parse(settings.quiet_hours)))
    engine = Engine(store, catalog(), services, settings, clock=clock, committer=committer, deliver=outbox.submit,
                    worker_id=worker_id)
    intake = Intake(store, engine, {channel.bot: channel for channel in channels}, clock=clock,
                    worker_id=worker_id, committer=committer)
    verifier: HttpReceiptVerifier | ProverkachekaVerifier | None = None
    checker = None
    if settings.receipt_check_enabled:
        token = settings.receipt_check_token.get_secret_value() if settings.receipt_check_token else ""
        verifier = (HttpReceiptVerifier(settings.receipt_check_url or "", token)
                    if settings.receipt_check_provider == "generic" else
                    ProverkachekaVerifier(token, settings.receipt_check_url))
        checker = ReceiptChecker(store, verifier, clock, timedelta(minutes=settings.receipt_check_interval_minutes),
                                 notify=outbox.wake)
    await seed_at_start(store, settings.campaign, clock())  # the CAMPAIGN_* settings seed a new platform's first
    drand = DrandRelays(settings.drand_relays)
    keeper = DrawKeeper(store, drand, clock, settings.draw_winner_hours, notify=outbox.wake)
    routes = [route for channel in channels for route in channel.routes(intake)]
    staff_console = console(ConsoleConfig(
        store, templates, directory, clock, settings.zone, settings.support_sla, outbox.wake,
        session_lifetime=timedelta(hours=settings.console_session_hours),
        secure_cookies=web_url.startswith("https://"), beacons=drand, winner_hours=settings.draw_winner_hours))
    app = build_app(settings.consent_version, [*routes, *(sandbox.routes() if sandbox else [])],
                    {"/console": staff_console})
    return Platform(settings, database, store, channels, photos, engine, outbox, intake, Heartbeat(store, worker_id,
                    clock), checker, verifier, app, listening, web_url, sandbox, keeper=keeper, drand=drand)


def settle_heap() -> None:
    """Keep what startup built (modules, the libraries' models, templates: millions of objects) out of the
    collector's way: a full collection of them stalls the event loop for a third of a second, every send and
    reply of that moment with it. Only what is created later is traversed from now on."""
    gc.collect()
    gc.freeze()
    log.info("startup heap settled: %d objects kept out of the garbage collector's walks", gc.get_freeze_count())


async def serve(configuration: Configuration) -> None:
    platform = await bootstrap(configuration)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await platform.start()
        settle_heap()
        print(f"ready: {platform.web_url}" + (f"  sandbox: {platform.web_url}/sandbox" if platform.sandbox else ""),
              flush=True)
        await stop.wait()
    finally:
        log.info("stopping")
        await platform.stop()


# the command line --------------------------------------------------------------------------


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as e:
        print(describe_error(e), file=sys.stderr)
        raise typer.Exit(2) from e


def with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    """Run a manager's command against the configured database (migrated first), one clear line on failure."""
    settings = _settings()

    async def run() -> T:
        database = create_engine(settings.database_url)
        try:
            await migrate(database)
            store = SqlStore(database)
            try:
                return await work(store)
            finally:
                await store.close()
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except StorageError as e:
        print(f"start-up error: {e}", file=sys.stderr)
        raise typer.Exit(1) from e


def run_platform() -> None:
    try:
        configuration = configure()
    except ConfigurationError as e:
        print(e, file=sys.stderr)
        raise typer.Exit(2) from e
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    vkbottle_log = logging.getLogger("vkbottle")
    vkbottle_log.handlers.clear()  # vkbottle adds its own console handler at import: log once, through ours
    vkbottle_log.setLevel(logging.WARNING)
    try:
        asyncio.run(serve(configuration))
    except (StorageError, StartupError) as e:
        print(f"start-up error: {e}", file=sys.stderr)
        raise typer.Exit(1) from e


cli = build_cli(Tools(with_store, utc_now), run_platform)

if __name__ == "__main__":
    cli()
