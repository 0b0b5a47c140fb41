"""``python run.py broadcast …``: one template to a segment, sent by the outbox as bulk notices, and its report."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bots.email import EMAIL
from core import broadcasts
from core.broadcasts import BroadcastError
from core.channels import ChannelProfile, TextFormat
from core.outbox import Outbox
from core.templates import Templates
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from tests.conftest import Clock
from tests.test_routing import BLOCKED, TELEGRAM, VK, StandIn, VkStandIn

ROOT = Path(__file__).parents[1]
TELEGRAM_PROFILE = ChannelProfile(TELEGRAM, "Telegram", TextFormat.HTML, max_text=4096)
VK_PROFILE = ChannelProfile(VK, "VK", TextFormat.PLAIN, max_text=4096)
REGISTERED = broadcasts.standard_segments().find("registered")


def cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "broadcast", *args], cwd=database.parent,
                          env=environment, capture_output=True, text=True, timeout=120)


async def people(store: SqlStore, clock: Clock) -> list[int]:
    """Three registered people: one in Telegram and VK, one only in VK, one with nothing we can write to."""
    made = []
    async with store.transaction() as tx:
        for accounts in ([(TELEGRAM, "1001"), (VK, "2001")], [(VK, "2002")], [(EMAIL, "typed@example.ru")]):
            person = await tx.people.create("ru", clock())
            person.registered_at = clock()
            await tx.people.save(person)
            for channel, address in accounts:
                await tx.people.add_account(person.id, channel, address, "", clock())
            made.append(person.id)
        unregistered = await tx.people.create("ru", clock())
        await tx.people.add_account(unregistered.id, TELEGRAM, "1009", "", clock())
    return made


async def test_a_broadcast_goes_to_its_segment_and_reports_channels_fallbacks_and_failures(tmp_path, clock) -> None:
    database = tmp_path / "promo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    store = SqlStore(engine)
    await people(store, clock)
    await store.close()

    refused = cli(database, "send", "notify.announcement", "--segment", "registered", "--yes")
    assert refused.returncode == 2 and "--param text" in refused.stderr
    unknown = cli(database, "send", "notify.announcement", "--segment", "nobody", "--param", "text=x", "--yes")
    assert unknown.returncode == 2 and "registered" in unknown.stderr
    queued = cli(database, "send", "notify.announcement", "--segment", "registered", "--param", "text=Новый розыгрыш",
                 "--yes", "--no-follow")
    assert queued.returncode == 0, queued.stderr
    assert "broadcast 1: 3 notices queued" in queued.stdout

    store = SqlStore(engine)
    clock.now = datetime.now(UTC) + timedelta(minutes=1)  # the command queued them at the real time
    channels = {TELEGRAM: StandIn(TELEGRAM_PROFILE), VK: VkStandIn(VK_PROFILE)}
    channels[TELEGRAM].answers["1001"] = BLOCKED
    outbox = Outbox(store, Templates.load(), channels, clock=clock, worker_id="w")  # type: ignore[arg-type]
    while await outbox.claim_due():
        assert await outbox.drained(10)
    assert [a for a, _ in channels[VK].sent] == ["2001", "2002"] and not channels[TELEGRAM].sent
    assert all(m.text == "Новый розыгрыш" for _, m in channels[VK].sent)
    await store.close()
    await engine.dispose()

    report = cli(database, "report", "1")
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    assert lines[0].startswith("broadcast 1: notify.announcement to registered (3 people)")
    assert "delivered by channel: vk 2" in lines
    assert "fallbacks taken: 1" in lines  # the first person had blocked the bot in Telegram
    assert any("1  unreachable: email: channel not running" in line for line in lines), report.stdout
    following = cli(database, "send", "notify.announcement", "--segment", "pending-receipt", "--param", "text=x",
                    "--yes")
    assert following.returncode == 0 and "broadcast 2: 0 notices queued" in following.stdout
    assert "pending-receipt  0" in cli(database, "list").stdout.splitlines()[0]


async def test_segments_page_through_everyone_once(store, clock) -> None:
    async with store.transaction() as tx:
        for _ in range(5):
            person = await tx.people.create("en", clock())
            person.registered_at = clock()
            await tx.people.save(person)
    seen: list[int] = []
    original = broadcasts.PAGE
    broadcasts.PAGE = 2
    try:
        started = await broadcasts.start(store, Templates.load(), "notify.announcement", {"text": "hi"}, REGISTERED,
                                         clock(), progress=seen.append)
    finally:
        broadcasts.PAGE = original
    assert started.people == 5 and seen == [2, 2, 1]
    async with store.transaction() as tx:
        entries = await tx.messages.entries(broadcast_id=started.id)
    assert len({e.person_id for e in entries}) == 5 and all(e.params == {"text": "hi"} for e in entries)


async def test_an_unknown_template_is_refused_before_anything_is_queued(store, clock) -> None:
    try:
        await broadcasts.start(store, Templates.load(), "notify.nope", {}, REGISTERED, clock())
    except BroadcastError as e:
        assert "notify.nope" in str(e)
    else:
        raise AssertionError("queued a broadcast of an unknown template")
    async with store.transaction() as tx:
        assert await tx.broadcasts.recent() == []
