"""Shared fixtures: every store test runs in memory, on a real SQLite file and, where present, real PostgreSQL.

``store`` is parametrized over all three (``database``); ``database_url`` over the two SQL ones
(``sql_database``). PostgreSQL is looked for at ``TEST_POSTGRES_URL`` (default: 127.0.0.1:5432,
database ``test``). When it answers, its tests must run: a run that skipped or deselected them fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from bots.emulators.drand_api import DrandEmulator
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.registry import CHANNELS as REGISTERED
from bots.telegram import PROFILE as TELEGRAM_PROFILE
from bots.vk import PROFILE as VK_PROFILE
from core.channels import ChannelDirectory
from core.engine import Engine
from core.photos import PhotoReader
from core.scenarios import catalog
from core.services import Services
from core.settings import Settings
from storage.database import create_engine, migrate
from storage.memory import MemoryStore
from storage.sql import SqlStore
from storage.tables import metadata
from tests.chat import Chat
from tests.platform import Launch, platform_settings, point_channels_at, started

pytest_plugins = ["tests.redis_guard"]  # the real Redis, like PostgreSQL: its tests must run where it answers

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _postgres_answers() -> bool:
    parts = urlsplit(POSTGRES_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_PRESENT = _postgres_answers()
_postgres_tests = {"candidates": 0, "selected": 0, "skipped": 0}


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect anything: deselecting them is not running them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgresql" in (callspec.params.get("database"),
                                                     callspec.params.get("sql_database")):
            item.add_marker(pytest.mark.postgres)
            _postgres_tests["candidates"] += 1


def pytest_collection_finish(session: pytest.Session) -> None:
    _postgres_tests["selected"] = sum(1 for item in session.items if item.get_closest_marker("postgres"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgres" in report.keywords:
        _postgres_tests["skipped"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    counts = _postgres_tests
    if not POSTGRES_PRESENT or counts["candidates"] == 0:
        return  # no PostgreSQL here, or a run of tests that have no PostgreSQL variant
    if counts["skipped"] or counts["selected"] < counts["candidates"]:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"FAILED: PostgreSQL answers at {POSTGRES_URL} but not all of its tests ran "
            f"({counts['candidates']} collected, {counts['selected']} selected, {counts['skipped']} skipped)",
            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throw-away database for this run, migrated once; tests empty its tables."""
    if not POSTGRES_PRESENT:
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    name = f"promo_test_{uuid.uuid4().hex[:10]}"
    admin_url = POSTGRES_URL

    async def admin(sql: str) -> None:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(sql))
        await engine.dispose()

    async def prepare(url: str) -> None:
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(prepare(url))
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test is slower)."""
    path = tmp_path_factory.mktemp("template") / "promo.db"

    async def prepare() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    asyncio.run(prepare())
    return path


def _fresh_database(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        target = tmp_path / "promo.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url = str(request.getfixturevalue("postgres_database"))
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)

    async def empty() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(empty())
    return url


@pytest.fixture
def database_url(sql_database: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQL database (SQLite file, or emptied PostgreSQL) for tests of SQL itself."""
    return _fresh_database(sql_database, request, tmp_path)


@pytest.fixture
async def db_engine(database_url: str):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store_url(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    return None if database == "memory" else _fresh_database(database, request, tmp_path)


@pytest.fixture
async def store(store_url: str | None):
    """The store under test: in memory, SQLite or PostgreSQL (one contract, three implementations)."""
    if store_url is None:
        yield MemoryStore()
        return
    engine = create_engine(store_url)
    sql_store = SqlStore(engine)
    yield sql_store
    await sql_store.close()
    await engine.dispose()


class Clock:
    """A hand-moved clock, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def photo_reader() -> Iterator[PhotoReader]:
    """One pool of decoding processes for the whole run (starting processes per test is slow)."""
    reader = PhotoReader(workers=1, budget_seconds=20.0, queue_limit=32, zone=Settings(_env_file=None).zone)
    yield reader
    asyncio.run(reader.close())


# the chats run; every registered channel is known (a verified phone is an account of the phone channel)
CHANNELS = ChannelDirectory([TELEGRAM_PROFILE, VK_PROFILE], known=[plugin.profile for plugin in REGISTERED])


def services_for(settings: Settings, photos: PhotoReader) -> Services:
    return Services(settings.campaign, photos, CHANNELS, "https://promo.example/rules",
                    verify_receipts=settings.receipt_check_enabled,
                    rating_change=timedelta(minutes=settings.support_rating_change_minutes))


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)


@pytest.fixture
def engine(store, settings: Settings, clock: Clock, photo_reader: PhotoReader) -> Engine:
    return Engine(store, catalog(), services_for(settings, photo_reader), settings, clock=clock)


@pytest.fixture
def telegram(engine: Engine) -> Chat:
    return Chat.telegram(engine, "1001")


@pytest.fixture
def vk(engine: Engine) -> Chat:
    return Chat.vk(engine, "2001")


@pytest.fixture
async def emulators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TelegramEmulator,
                                                                                              VkEmulator]]:
    """Our Telegram and VK API servers, with every channel's settings pointed at them (end-to-end tests)."""
    monkeypatch.chdir(tmp_path)
    telegram, vk = TelegramEmulator(), VkEmulator()
    await telegram.start()
    await vk.start()
    point_channels_at(monkeypatch, telegram, vk)
    yield telegram, vk
    await telegram.stop()
    await vk.stop()


@pytest.fixture
async def relay() -> AsyncIterator[DrandEmulator]:
    """A drand relay serving recorded rounds."""
    emulator = DrandEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def launch(tmp_path: Path, emulators: tuple[TelegramEmulator, VkEmulator]) -> AsyncIterator[Launch]:
    """Start the whole platform against the emulators, with settings overridden; stopped after the test."""
    running = []

    async def start(**overrides: object):  # type: ignore[no-untyped-def]
        platform = await started(platform_settings(tmp_path, **overrides), emulators[1])
        running.append(platform)
        return platform

    yield start
    for platform in running:
        await platform.stop()
