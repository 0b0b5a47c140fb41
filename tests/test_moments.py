"""Times shown to people say their zone (issue 17, point 12): МСК, or the campaign's own as an offset from it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.moments import shown_time
from tests.chat import Chat
from tests.test_draws_flow import fiscal, participant, run_at_its_time
from tests.test_draws_flow import spring as spring  # the fixture, asked for by name

NOON_UTC = datetime(2026, 3, 15, 9, 42, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "locale", "shown"), [
    ("Europe/Moscow", "ru", "15.03.2026 12:42 МСК"),
    ("Asia/Novosibirsk", "ru", "15.03.2026 16:42 МСК+4"),
    ("Europe/Kaliningrad", "ru", "15.03.2026 11:42 МСК-1"),
    ("Asia/Kolkata", "ru", "15.03.2026 15:12 МСК+2:30"),
    ("Europe/Moscow", "en", "15.03.2026 12:42 UTC+3"),
    ("UTC", "en", "15.03.2026 09:42 UTC"),
])
def test_a_time_says_its_zone(zone: str, locale: str, shown: str) -> None:
    assert shown_time(NOON_UTC, ZoneInfo(zone), locale) == shown


def test_a_time_of_today_is_just_the_hour_and_its_zone() -> None:
    zone = ZoneInfo("Europe/Moscow")
    assert shown_time(NOON_UTC, zone, "ru", today=date(2026, 3, 15)) == "12:42 МСК"
    assert shown_time(NOON_UTC, zone, "ru", today=date(2026, 3, 14), year=False) == "15.03 12:42 МСК"


async def test_the_winners_deadline_and_the_next_draw_say_their_zone(engine, store, clock, spring) -> None:
    people = [await participant(engine, f"20{i}", [fiscal(10 * i + 1)], store, clock) for i in range(2)]
    await run_at_its_time(store, clock, spring["week"])
    async with store.transaction() as tx:
        (winner, *_) = await tx.draws.winners(spring["week"].id)
        (notice,) = await tx.messages.entries(template="draw.won")
    assert notice.params["deadline"].endswith(" МСК"), notice.params
    chat = Chat.telegram(engine, f"20{people.index(winner.person_id)}")
    assert await chat.send(f"/prize {winner.id}") == ["prize.offer"]
    assert str(chat.param("deadline")).endswith(" МСК")
    assert await chat.send("/draws") == ["draws.summary", "prize.offer"]
    assert "Следующий розыгрыш: 01.12.2026 12:00 МСК" in str(chat.param("summary")), chat.param("summary")
