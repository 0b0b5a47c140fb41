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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError

from bots.channel import Channel, ChannelPlugin, Connections, Mode, Receiving
from bots.cli import Tools, build_cli
from bots.drand import DrandRelays
from bots.mini_apps import offered_by
from bots.proverkacheka import ProverkachekaVerifier
from bots.receipt_check import HttpReceiptVerifier
from bots.web.app import build_app
from bots.web.console import ConsoleConfig, console
from bots.web.console.throttling import networks
from bots.web.draws_public import public_draw_routes
from bots.web.scanner import scanner_routes
from bots.web.serving import WebServer
from core.broadcasts import Capping
from core.bus import Bus, PublishingStore
from core.campaigns import seed_at_start
from core.channels import ChannelDirectory
from core.draws import DrawKeeper, SeedSeal
from core.draws.sealing import SANDBOX_KEY, parse_key
from core.engine import Engine
from core.event_feed import EventFeed
from core.gates.caps import FrequencyCaps
from core.gates.quiet_hours import QuietHours
from core.gates.standard import standard_policy
from core.group_commit import GroupCommit
from core.health import ChannelHealth
from core.health_watch import HealthWatch
from core.heartbeat import Heartbeat, new_worker_id
from core.intake import Intake
from core.limits import InProcessLimiter, Limiter, Unlimited
from core.outbox import Outbox
from core.photos import PhotoReader
from core.ports import Store
from core.scenarios import catalog
from core.service import Lifecycle, Resource, Service
from core.services import Services
from core.settings import Settings, describe_error
from core.templates import Templates
from core.timekeeper import Timekeeper
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
    """Everything ``python run.py`` runs, built by ``bootstrap``: its services, started in order, stopped in
    reverse (``core.service``); the named parts are what the tools and the tests reach for."""

    settings: Settings
    store: Store
    channels: list[Channel]
    photos: PhotoReader
    engine: Engine
    outbox: Outbox
    intake: Intake
    web_url: str
    services: list[Service]
    sandbox: Sandbox | None = None
    _lifecycle: Lifecycle | None = None

    async def start(self) -> None:
        self._lifecycle = Lifecycle(self.services)
        await self._lifecycle.start()
        log.info("platform started: %s, channels: %s, web: %s%s", self.store.kind,
                 ", ".join(c.profile.name for c in self.channels) or "none", self.web_url,
                 " (sandbox: /sandbox)" if self.sandbox else "")

    async def stop(self) -> None:
        """Stop taking updates, finish the ones taken, send what is being sent, then close."""
        await (self._lifecycle or Lifecycle(self.services)).stop()


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


async def bootstrap(configuration: Configuration, *, clock: Callable[[], datetime] = utc_now,
                    listening: socket.socket | None = None) -> Platform:
    """Build every object with everything it needs, once; nothing is assigned onto an object afterwards.

    The services are listed in the order they depend on each other: the database first, what takes
    updates in last (``Platform.stop`` goes the other way). ``listening``: the web app's socket, when the
    caller bound it already (``run_platform`` does, to report a busy port at once)."""
    settings = configuration.settings
    mode: Mode = settings.bot_mode
    services: list[Service] = []
    database = create_engine(settings.database_url)
    try:
        await migrate(database)
    except BaseException:
        if listening is not None:
            listening.close()
        raise
    log.info("start-up: database ready")
    bus = Bus()
    store = PublishingStore(SqlStore(database), bus)

    async def close_database() -> None:
        await store.close()
        await database.dispose()

    services.append(Resource("database", close_database))
    listening = listening or listen(settings)
    port = listening.getsockname()[1]
    web_url = settings.public_url.rstrip("/") if settings.public_url else f"http://{settings.web_host}:{port}"
    chosen = configuration.channels
    sandbox = None
    if configuration.sandbox:
        from bots.sandbox import start_sandbox  # the emulators, only when they run (see ``configure``)

        try:
            sandbox = await start_sandbox(configuration.plugins, web_url)
        except BaseException:
            listening.close()
            raise
        services.append(Resource("sandbox emulators", sandbox.stop))
        log.info("start-up: sandbox emulators running")
        mode = "polling"  # the built-in emulators stand in for every channel that has one
        chosen = [(plugin, own) for plugin in configuration.plugins
                  if (own := sandbox.settings_for(plugin.name)) is not None]
    channels: list[Channel] = [plugin.build(own, mode) for plugin, own in chosen]
    photos = PhotoReader(workers=settings.photo_workers, budget_seconds=settings.photo_decode_seconds,
                         queue_limit=settings.photo_queue, zone=settings.zone,
                         max_wait_seconds=settings.photo_max_wait_seconds)
    services.append(Resource("photo readers", photos.close))
    if not photos.has_pyzbar:
        log.warning("the zbar library is not installed: receipts are read with zxing-cpp alone "
                    "(apt-get install libzbar0 adds pyzbar as a second reader)")
    directory = ChannelDirectory((channel.profile for channel in channels),
                                 known=(plugin.profile for plugin in configuration.plugins))
    engine_services = Services(settings.campaign, photos, directory, settings.rules_url or f"{web_url}/rules",
                               web_url=web_url, verify_receipts=settings.receipt_check_enabled,
                               rating_change=timedelta(minutes=settings.support_rating_change_minutes))
    relays = settings.drand_relays
    seal = SeedSeal(parse_key(settings.draw_seed_key.get_secret_value())) if settings.draw_seed_key else None
    if configuration.sandbox:  # practice draws: the local drand relay, and the sandbox's published seed key
        from bots.emulators.drand_api import DrandEmulator

        drand_emulator = DrandEmulator()
        relays = [await drand_emulator.start()]
        services.append(Resource("drand emulator", drand_emulator.stop))
        seal = seal or SeedSeal(SANDBOX_KEY)
    elif seal is None:
        log.warning("DRAW_SEED_KEY is not set: campaigns with draws cannot be activated nor their draws run")
    drand = DrandRelays(relays)  # a production platform asks the real relays; one down leaves a draw waiting
    services.append(Resource("drand relays", drand.close))
    verifier: HttpReceiptVerifier | ProverkachekaVerifier | None = None
    if settings.receipt_check_enabled:
        token = settings.receipt_check_token.get_secret_value() if settings.receipt_check_token else ""
        verifier = (HttpReceiptVerifier(settings.receipt_check_url or "", token)
                    if settings.receipt_check_provider == "generic" else
                    ProverkachekaVerifier(token, settings.receipt_check_url))
    worker_id = new_worker_id()
    services.append(Heartbeat(store, worker_id, clock))
    services.append(Connections(channels))
    limiter: Limiter = Unlimited()
    if settings.rate_limits:
        limiter = await shared_limiter(settings.redis_url) if settings.redis_url else InProcessLimiter()
    services.append(Resource("rate limiter", limiter.close))
    templates = Templates.load(default_locale=settings.locale)
    committer = GroupCommit(store)
    health = ChannelHealth(clock)
    outbox = Outbox(store, templates,
                    {channel.profile.name: channel for channel in channels}, clock=clock, worker_id=worker_id,
                    committer=GroupCommit(store), limiter=limiter,  # its bookkeeping never queues before a reply
                    policy=standard_policy(settings.zone, QuietHours.parse(settings.quiet_hours),
                                           FrequencyCaps.parse(settings.frequency_caps)), bus=bus,
                    health=health)
    engine = Engine(store, catalog(), engine_services, settings, clock=clock, committer=committer,
                    deliver=outbox.submit, worker_id=worker_id)
    intake = Intake(store, engine, {channel.bot: channel for channel in channels}, clock=clock,
                    worker_id=worker_id, committer=committer)
    services += [HealthWatch(store, health, clock, wake_outbox=outbox.wake), outbox, intake,
                 Timekeeper(store, engine, clock, worker_id), EventFeed(store, engine, clock, bus=bus)]
    if verifier is not None:
        services.append(ReceiptChecker(store, verifier, clock,
                                       timedelta(minutes=settings.receipt_check_interval_minutes),
                                       close=verifier.close))
    await seed_at_start(store, settings.campaign, clock())  # the CAMPAIGN_* settings seed a new platform's first
    services.append(DrawKeeper(store, drand, clock, settings.draw_winner_hours, seal=seal))
    routes = [route for channel in channels for route in channel.routes(intake)]
    routes += public_draw_routes(store)  # the published lists and protocols the bot's /draws links to
    routes += scanner_routes(intake, offered_by(channels), photos, clock)  # the Mini Apps' QR scanner page
    staff_console = console(ConsoleConfig(
        store, templates, directory, clock, settings.zone, settings.support_sla,
        session_lifetime=timedelta(hours=settings.console_session_hours),
        secure_cookies=web_url.startswith("https://"), beacons=drand, winner_hours=settings.draw_winner_hours,
        seal=seal, caps=FrequencyCaps.parse(settings.frequency_caps),
        trusted_proxies=networks(settings.console_trusted_proxies),
        staff_networks=networks(settings.console_staff_networks)))
    app = build_app(settings.consent_version, [*routes, *(sandbox.routes() if sandbox else [])],
                    {"/console": staff_console})
    services.append(WebServer(app, listening))
    services += [Receiving(channel, intake) for channel in channels]
    return Platform(settings, store, channels, photos, engine, outbox, intake, web_url, services, sandbox)


def settle_heap() -> None:
    """Keep what startup built (modules, the libraries' models, templates: millions of objects) out of the
    collector's way: a full collection of them stalls the event loop for a third of a second, every send and
    reply of that moment with it. Only what is created later is traversed from now on."""
    gc.collect()
    gc.freeze()
    log.info("startup heap settled: %d objects kept out of the garbage collector's walks", gc.get_freeze_count())


async def serve(configuration: Configuration, listening: socket.socket | None = None) -> None:
    platform = await bootstrap(configuration, listening=listening)
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
    settings = _settings()
    try:  # before the channels' libraries take their seconds to import: a busy port is said at once
        listening = listen(settings)
    except StartupError as e:
        print(f"start-up error: {e}", file=sys.stderr)
        raise typer.Exit(1) from e
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host, port = listening.getsockname()[:2]
    log.info("start-up: %s:%d is free and held for the web app; loading the channels (their libraries take a few "
             "seconds)", host, port)
    try:
        configuration = configure(settings)
    except ConfigurationError as e:
        listening.close()
        print(e, file=sys.stderr)
        raise typer.Exit(2) from e
    names = ", ".join(plugin.name for plugin, _ in configuration.channels) or "none"
    log.info("start-up: %s", "the sandbox: every channel against its built-in emulator" if configuration.sandbox
             else f"channels configured: {names}")
    for plugin in configuration.plugins:
        for name in plugin.quiet_loggers:
            chatty = logging.getLogger(name)
            chatty.handlers.clear()  # some add their own console handler at import: log once, through ours
            chatty.setLevel(logging.WARNING)
    try:
        asyncio.run(serve(configuration, listening))
    except (StorageError, StartupError) as e:
        print(f"start-up error: {e}", file=sys.stderr)
        raise typer.Exit(1) from e


def capping(now: datetime) -> Capping:
    settings = _settings()
    return Capping(FrequencyCaps.parse(settings.frequency_caps), now, settings.zone)


cli = build_cli(Tools(with_store, utc_now, capping=capping), run_platform)

if __name__ == "__main__":
    cli()
