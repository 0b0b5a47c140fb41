"""Issue 22, through the real aiogram against the Telegram emulator: ``/draws`` tells a participant their pseudonym
before the list closes, the list's hash and link once it is frozen, and after the draw what it gave them with the
link to the published protocol; anyone then re-checks the draw with ``promo draw verify`` on the published files
alone, exactly as the protocol says.

The platform runs on a hand-moved clock in September 2023 so the drand emulator serves the round the activation
names (``tests/test_draw_freezing.py``); its draw keeper freezes and draws as it does in production.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import os
import re
import secrets
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import PIPE

import aiohttp
import pytest

from core import campaigns, moderation
from core.draws import DrawKeeper
from core.draws.sealing import SeedSeal
from core.ports import ReceiptStatus
from promo import draws as algorithm
from run import Platform, bootstrap, configure
from tests.platform import platform_settings
from tests.test_bots_e2e import TG_USER, _account, _register_in_telegram
from tests.test_draw_freezing import AUTUMN, CLOSE, fiscal

ROOT = Path(__file__).parents[1]
KEY = secrets.token_hex(32)


@pytest.fixture
async def platform(tmp_path, emulators, relay, clock):
    clock.now = datetime(2023, 9, 13, 9, 0, tzinfo=UTC)
    settings = platform_settings(tmp_path, draw_seed_key=KEY, drand_urls=relay.base_url,
                                 campaign_starts_on="2023-01-01", campaign_ends_on="2023-01-31")
    running = await bootstrap(configure(settings), clock=clock)
    emulators[1].polling.clear()
    await running.start()
    await asyncio.wait_for(emulators[1].polling.wait(), 10)
    yield running
    await running.stop()


async def _ask_draws(telegram, seen: int) -> str:
    await telegram.user_text(TG_USER, "/draws")
    replies = await telegram.wait_for_messages(TG_USER, seen + 1)
    return next(m.text for m in replies[seen:] if "псевдоним" in m.text)


async def _fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, (url, response.status)
        return await response.read()


async def test_draws_gives_the_pseudonym_before_and_the_result_and_protocol_after(platform: Platform, emulators,
                                                                                  clock, tmp_path) -> None:
    telegram, _ = emulators
    await _register_in_telegram(telegram)
    _, person = await _account(platform, "telegram", TG_USER)
    async with platform.store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SeedSeal(bytes.fromhex(KEY)))).draws
    await telegram.user_text(TG_USER, fiscal(41, 12))
    await telegram.wait_for_messages(TG_USER, 6)
    await telegram.user_press(TG_USER, "receipt:yes")
    await telegram.wait_for_messages(TG_USER, 7)
    async with platform.store.transaction() as tx:
        (receipt,) = await tx.receipts.with_status(ReceiptStatus.MODERATION)
        await moderation.approve(tx, receipt.id, clock())
    await telegram.wait_for_messages(TG_USER, 8)  # "your receipt is approved"
    pseudonym = algorithm.pseudonym(bytes.fromhex(week.participant_key), person.id)

    before = await _ask_draws(telegram, 8)
    assert f"Ваш псевдоним в розыгрыше week-1: {pseudonym}" in before and week.commitment in before
    assert "Список участников закроется 15.09.2023 00:00" in before and f"раунд drand №{week.beacon_round}" in before

    keeper = next(service for service in platform.services if isinstance(service, DrawKeeper))
    clock.now = CLOSE + timedelta(seconds=20)
    await keeper.pass_once()
    frozen = await _ask_draws(telegram, 9)
    link = re.search(r"Найдите себя в нём: (\S+)", frozen).group(1)  # type: ignore[union-attr]
    listed = await _fetch(link)
    assert link == f"{platform.web_url}/draws/{week.id}/entries.csv" and f"{pseudonym},5,\n".encode() in listed
    assert f"его SHA-256: {algorithm.list_hash(listed)}" in frozen

    clock.now = week.draw_at + timedelta(minutes=1)  # the round is out; the keeper draws
    await keeper.pass_once()
    await telegram.wait_for_messages(TG_USER, 11)  # the winner's notice
    after = await _ask_draws(telegram, 11)
    assert "Розыгрыш week-1 проведён 15.09.2023 14:31 МСК: вы выиграли «Телевизор»! Подтвердите: /prize" in after
    assert f"Ваш псевдоним: {pseudonym}" in after
    protocol_url = re.search(r"Протокол, список и победители: (\S+)", after).group(1)  # type: ignore[union-attr]
    assert protocol_url == f"{platform.web_url}/draws/{week.id}/protocol.html"

    # an outsider: the published files alone, and the command the protocol gives
    folder = tmp_path / "published"
    folder.mkdir()
    protocol = (await _fetch(protocol_url)).decode()
    for name in ("entries.csv", "winners.csv"):  # the protocol's own links, relative to it
        assert f'href="{name}"' in protocol
        (folder / name).write_bytes(await _fetch(protocol_url.rsplit("/", 1)[0] + "/" + name))
    assert (folder / "entries.csv").read_bytes() == listed
    found = re.search(r"<code>(promo draw verify [^<]+)</code>", protocol)
    assert found is not None
    command = html.unescape(found.group(1))
    assert "--commitment " + week.commitment in command and "--beacon " in command
    checked = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "run.py"), *command.split()[1:],
                                                   cwd=folder, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(checked.communicate(), 120)
    assert checked.returncode == 0, err.decode()
    said = out.decode()
    assert f"entries.csv SHA-256 {algorithm.list_hash(listed)}" in said and "commitment" in said and "matches" in said
    picks = [line.split("\t") for line in said.splitlines() if line.startswith(("tv\t", "cert\t"))]
    published = [[r["tier"], r["position"], r["reserve"], r["participant"]]
                 for r in csv.DictReader(io.StringIO((folder / "winners.csv").read_text()))]
    assert picks == published and picks[0][3] == pseudonym

    # what a manager exports (promo draw export) is byte for byte what is published
    exported = tmp_path / "exported"
    export = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "draw", "export", str(week.id), "--folder", str(exported),
        cwd=tmp_path, stdout=PIPE, stderr=PIPE, env={**os.environ, "DATABASE_URL": platform.settings.database_url})
    _, err = await asyncio.wait_for(export.communicate(), 120)
    assert export.returncode == 0, err.decode()
    assert [(exported / n).read_bytes() for n in ("entries.csv", "winners.csv")] == [
        (folder / n).read_bytes() for n in ("entries.csv", "winners.csv")]
    assert (exported / "protocol.html").read_text() == protocol
