"""A ticket's rating is given once: an old rating button pressed later (a replayed callback) changes no score and
says it is no longer current — through the real aiogram against the Telegram emulator, and in the engine; a
setting may leave a short window to change one's mind."""

from __future__ import annotations

import pytest

from core.engine import Engine
from core.ports.tickets import TicketEventKind
from core.scenarios import catalog
from core.settings import Settings
from tests.chat import Chat
from tests.conftest import services_for
from tests.platform import platform_settings, started
from tests.test_bots_e2e import TG_USER, _register_in_telegram


async def _tickets(store, channel: str, account: str):
    async with store.transaction() as tx:
        _, person = await tx.people.find_by_account(channel, account)
        return await tx.tickets.of_person(person.id)


async def test_a_replayed_rating_button_changes_no_score_in_telegram(tmp_path, emulators) -> None:
    telegram, vk = emulators
    platform = await started(platform_settings(tmp_path), vk)
    try:
        await _register_in_telegram(telegram)
        for step in ("/support", "Не пришёл кешбэк"):
            count = len(telegram.messages_to(TG_USER))
            await telegram.user_text(TG_USER, step)
            await telegram.wait_for_messages(TG_USER, count + 1)
        count = len(telegram.messages_to(TG_USER))
        await telegram.user_press(TG_USER, "support:skip")
        await telegram.wait_for_messages(TG_USER, count + 1)
        count = len(telegram.messages_to(TG_USER))
        await telegram.user_press(TG_USER, "support:close")
        asked = (await telegram.wait_for_messages(TG_USER, count + 1))[-1]
        buttons = {b["text"]: b["callback_data"] for row in asked.reply_markup["inline_keyboard"] for b in row}
        four, one = (next(data for data in buttons.values() if data.endswith(f":{n}")) for n in (4, 1))
        count = len(telegram.messages_to(TG_USER))
        await telegram.user_press(TG_USER, four, asked.message_id)
        await telegram.wait_for_messages(TG_USER, count + 1)
        (ticket,) = await _tickets(platform.store, "telegram", str(TG_USER))
        assert ticket.rating == 4
        count = len(telegram.messages_to(TG_USER))
        await telegram.user_press(TG_USER, one, asked.message_id)  # the same old message's button, later
        answer = (await telegram.wait_for_messages(TG_USER, count + 1))[-1]
        assert "неактуальна" in answer.text and f"№{ticket.id}" in answer.text
        (ticket,) = await _tickets(platform.store, "telegram", str(TG_USER))
        assert ticket.rating == 4
        async with platform.store.transaction() as tx:
            ratings = [e.body for e in await tx.tickets.events(ticket.id) if e.kind is TicketEventKind.RATING]
        assert ratings == ["4"]
    finally:
        await platform.stop()


async def _rated(chat: Chat, stars: int) -> int:
    await chat.send("/support")
    await chat.send("Вопрос")
    await chat.press("support:skip")
    assert await chat.press("support:close") == ["support.rate"]
    ticket = int(chat.param("ticket"))
    assert await chat.press(f"support:rate:{ticket}:{stars}") == ["support.thanks"]
    return ticket


async def test_an_old_button_pressed_while_another_ticket_is_open_leaves_both_alone(telegram: Chat, store) -> None:
    await telegram.register()
    old = await _rated(telegram, 4)
    await telegram.send("/support")
    await telegram.send("Ещё вопрос")
    await telegram.press("support:skip")
    said = await telegram.press(f"support:rate:{old}:1")
    assert said[0] == "support.rating_stale" and "support.thanks" not in said
    first, second = sorted(await _tickets(store, "telegram", "1001"), key=lambda t: t.id)
    assert (first.rating, second.rating, second.is_open) == (4, None, True)
    assert await telegram.send("И ещё слова") == ["support.added"]  # the open ticket's conversation goes on


class TestWithAWindow:
    @pytest.fixture
    def engine(self, store, clock, photo_reader) -> Engine:
        settings = Settings(_env_file=None, support_rating_change_minutes=5)
        return Engine(store, catalog(), services_for(settings, photo_reader), settings, clock=clock)

    async def test_a_rating_may_change_within_the_window_only(self, telegram: Chat, store, clock) -> None:
        await telegram.register()
        ticket = await _rated(telegram, 4)
        clock.advance(minutes=2)
        assert await telegram.press(f"support:rate:{ticket}:5") == ["support.thanks"]
        clock.advance(minutes=4)  # six minutes after the first rating
        assert (await telegram.press(f"support:rate:{ticket}:1"))[0] == "support.rating_stale"
        (rated,) = await _tickets(store, "telegram", "1001")
        assert rated.rating == 5
