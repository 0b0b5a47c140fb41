"""Issue 22 §5.1: the ``entrants:DRAW`` segment counts the draw's frozen list only, without erased people or those
who said ``/stop``; the confirmation, in the console (Russian and English) and on the command line, says how many
people it reaches and shows the rendered text before anything is queued."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient

from core import broadcasts, campaigns
from core.support.personal_data import erase_person
from core.templates import Templates
from storage.database import create_engine, migrate
from storage.sql import SqlStore
from tests.test_broadcasts import cli, people
from tests.test_console_manager import _create_and_activate, _login, http  # noqa: F401 (the fixture)
from tests.test_draw_freezing import AUTUMN, CLOSE, SEAL
from tests.test_routing import TELEGRAM

NOW = datetime(2023, 9, 13, 9, 0, tzinfo=UTC)


async def test_entrants_are_the_frozen_list_without_the_erased_and_the_stopped(store, clock) -> None:
    clock.now = NOW
    async with store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SEAL)).draws
        ids = []
        for n in range(5):
            person = await tx.people.create("ru", clock())
            person.registered_at = clock()
            await tx.people.save(person)
            await tx.people.add_account(person.id, TELEGRAM, str(3000 + n), "", clock())
            ids.append(person.id)
        kept, erased, stopped, outsider = ids[:2], ids[2], ids[3], ids[4]
        await tx.draws.keep_list(week.id, b"participant,entries,barred\n", [*kept, erased, stopped])
        await tx.draws.save(replace(week, frozen_at=CLOSE, entries_hash="0" * 64, participants=4))
        await erase_person(tx, erased, clock())
        await tx.people.record_advertising(stopped, TELEGRAM, False, "/stop", clock())
    async with store.transaction() as tx:
        segment = await broadcasts.standard_segments().resolve(tx, f"entrants:{week.id}")
    assert await broadcasts.recipients(store, segment) == 2  # not the outsider registered beside them either
    started = await broadcasts.start(store, Templates.load(), "notify.announcement", {"text": "Итоги скоро"},
                                     segment, clock())
    async with store.transaction() as tx:
        queued = sorted(e.person_id for e in await tx.messages.entries(broadcast_id=started.id))
    assert queued == kept and outsider not in queued


async def test_the_console_confirmation_counts_and_shows_the_text_in_its_language(http: TestClient,  # noqa: F811
                                                                                   store, clock) -> None:
    clock.now = datetime(2023, 9, 1, 6, 0, tzinfo=UTC)
    await people(store, clock)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    listing = await (await http.get("/console/broadcasts")).text()
    assert f"entrants:{draw.id} — участники розыгрыша №{draw.id} final (autumn)" in listing
    assert "participants:autumn — участники акции (принятый чек): Осенний кешбэк" in listing
    choice = {"csrf": csrf, "template": "notify.announcement", "segment": "registered", "params": "text=Скоро итоги",
              "answer_within_hours": "", "deadline_hours": "72"}
    page = await (await http.post("/console/broadcasts/confirm", data=choice)).text()
    assert "<strong>3</strong>" in page and "(registered — все зарегистрированные)" in page
    assert re.search(r'<pre class="preview">Скоро итоги</pre>', page), page
    async with store.transaction() as tx:
        assert await tx.broadcasts.recent() == []  # shown, not sent

    assert (await http.post("/console/language", data={"csrf": csrf})).status == 200
    listing = await (await http.get("/console/broadcasts")).text()
    assert f"entrants:{draw.id} — entrants of draw №{draw.id} final (autumn)" in listing
    assert "участники" not in listing
    page = await (await http.post("/console/broadcasts/confirm", data=choice)).text()
    assert "<strong>3</strong>" in page and "(registered — everyone registered)" in page
    assert '<pre class="preview">Скоро итоги</pre>' in page


async def test_the_command_line_confirmation_prints_the_count_and_the_text(tmp_path: Path, clock) -> None:
    database = tmp_path / "promo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    store = SqlStore(engine)
    await people(store, clock)
    await store.close()
    await engine.dispose()

    refused = cli(database, "send", "notify.announcement", "--segment", "registered", "--param", "text=Скоро итоги")
    assert refused.returncode == 1  # no answer on stdin: not confirmed, nothing queued
    said = refused.stdout
    assert "notify.announcement to registered (everyone registered), not advertising: 3 people now (ru 3)" in said
    assert "--- ru ---\nСкоро итоги\n" in said and "Send it to these 3 people?" in said
    assert "no broadcasts yet" in cli(database, "list").stdout
