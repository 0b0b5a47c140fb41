"""A whole channel dark: marked down by a manager, or timing out on every call. A winner's notice for someone with
Telegram and MAX (or VK) reaches the other messenger within seconds, and the stored routing decision says why."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.emulators.max_api import MaxEmulator
from core import broadcasts
from core.channel_marks import mark_channel
from core.channels import ChannelName
from core.events import OutgoingMessage
from core.ports.channel_health import ChannelState, HealthChange
from core.queueing import enqueue
from core.templates import Templates
from tests.platform import eventually, platform_settings, started

TG_USER, VK_USER, MAX_USER = 1001, 2001, 3001
TELEGRAM, VK, MAX = ChannelName("telegram"), ChannelName("vk"), ChannelName("max")


@pytest.fixture
async def max_emulator(emulators, monkeypatch) -> AsyncIterator[MaxEmulator]:
    running = MaxEmulator()
    await running.start()
    running.set_user(MAX_USER, "Анна")  # she has a dialog with the bot (she registered there)
    monkeypatch.setenv("MAX_BOT_TOKEN", running.token)
    monkeypatch.setenv("MAX_API_BASE", running.base_url)
    yield running
    await running.stop()


@pytest.fixture
async def platform(tmp_path, emulators, max_emulator):
    running = await started(platform_settings(tmp_path, quiet_hours="off"), emulators[1])
    await eventually(lambda: max_emulator.polling)
    yield running
    await running.stop()


@pytest.fixture(params=["max", "vk"])
def other(request, emulators, max_emulator) -> tuple[ChannelName, int, Any]:
    """The person's other messenger: its name, their id there, and its emulator."""
    return (MAX, MAX_USER, max_emulator) if request.param == "max" else (VK, VK_USER, emulators[1])


async def two_messenger_person(platform, other) -> int:
    """Someone registered in Telegram (seen last there: the router's first choice) and in another messenger."""
    channel, user, _ = other
    now = platform.engine.clock()
    async with platform.store.transaction() as tx:
        person = await tx.people.create("ru", now)
        person.name, person.registered_at = "Анна", now
        await tx.people.save(person)
        second = await tx.people.add_account(person.id, channel, str(user), "Анна", now)
        telegram = await tx.people.add_account(person.id, TELEGRAM, str(TG_USER), "Анна", now)
        second.last_seen_at = now.replace(year=now.year - 1)
        telegram.last_seen_at = now
        await tx.people.touch_account(second)
        await tx.people.touch_account(telegram)
    return person.id


async def tell_winner(platform, person_id: int) -> int:
    now = platform.engine.clock()
    async with platform.store.transaction() as tx:
        queued = enqueue(tx, OutgoingMessage(person_id, "notify.announcement", {"text": "Вы выиграли приз!"}, "ru",
                                             bulk=True, ack_window_seconds=3600), now)
    return queued.id


def decision_of(platform, message_id: int):
    async def latest():  # type: ignore[no-untyped-def]
        async with platform.store.transaction() as tx:
            decisions = await tx.routes.decisions(message_id=message_id)
        return decisions[-1] if decisions else None
    return latest


async def test_a_channel_marked_down_is_skipped_with_the_reason_and_the_notice_goes_to_the_next(
        platform, emulators, other) -> None:
    telegram, (channel, user, second) = emulators[0], other
    person_id = await two_messenger_person(platform, other)
    async with platform.store.transaction() as tx:
        await tx.channel_health.record(HealthChange(TELEGRAM, ChannelState.DOWN, "national block since 10:00", "olga",
                                                    platform.engine.clock(), manual=True))
    await eventually(lambda: TELEGRAM in platform.outbox.health.down(), timeout=5)  # read by the health watch
    started_at = time.monotonic()
    message_id = await tell_winner(platform, person_id)
    (notice,) = await second.wait_for_messages(user, 1, timeout=10)
    assert "Вы выиграли приз!" in notice.text and time.monotonic() - started_at < 10
    assert telegram.messages_to(TG_USER) == []
    decision = await eventually(decision_of(platform, message_id))
    skipped = {c.channel: c.dropped for c in decision.candidates}
    assert decision.channel == channel and skipped["telegram"] == "channel down: national block since 10:00"


async def test_replies_to_someone_writing_from_a_channel_marked_down_are_still_tried(platform, emulators) -> None:
    telegram, _ = emulators
    async with platform.store.transaction() as tx:
        await tx.channel_health.record(HealthChange(TELEGRAM, ChannelState.DOWN, "blocked", "olga",
                                                    platform.engine.clock(), manual=True))
    await eventually(lambda: TELEGRAM in platform.outbox.health.down(), timeout=5)
    await telegram.user_text(TG_USER, "/start")
    (greeting,) = await telegram.wait_for_messages(TG_USER, 1)
    assert "согласие" in greeting.text  # a reply goes back where the person wrote, whatever the mark says


async def test_a_channel_timing_out_goes_down_by_itself_and_the_notice_reaches_the_next_within_seconds(
        platform, emulators, other) -> None:
    telegram, (channel, user, second) = emulators[0], other
    person_id = await two_messenger_person(platform, other)
    telegram.stall(30)  # every Bot API call hangs: the sends time out
    try:
        started_at = time.monotonic()
        message_id = await tell_winner(platform, person_id)
        (notice,) = await second.wait_for_messages(user, 1, timeout=10)
        assert "Вы выиграли приз!" in notice.text and time.monotonic() - started_at < 10
        decision = await eventually(decision_of(platform, message_id))
        tried = {c.channel: c.outcome for c in decision.candidates}
        assert decision.channel == channel and tried["telegram"].startswith("retry")  # it timed out, then the other
    finally:
        telegram.stall(None)


async def test_a_broadcast_while_a_channel_is_marked_down_counts_what_went_past_it(platform, emulators) -> None:
    vk = emulators[1]
    await two_messenger_person(platform, (VK, VK_USER, vk))
    async with platform.store.transaction() as tx:
        await mark_channel(tx, TELEGRAM, ChannelState.DOWN, "national block", "console:ivan",
                           platform.engine.clock(), ("telegram", "vk"))
    await eventually(lambda: TELEGRAM in platform.outbox.health.down(), timeout=5)
    started = await broadcasts.start(platform.store, Templates.load(), "notify.announcement", {"text": "Итоги"},
                                     broadcasts.standard_segments().find("registered"), platform.engine.clock())
    await vk.wait_for_messages(VK_USER, 1, timeout=10)

    async def settled():  # type: ignore[no-untyped-def]
        found = await broadcasts.report(platform.store, started.id)
        return found if found and found.done and found.delivered_by_channel else None

    found = await eventually(settled)
    assert found.delivered_by_channel == {"vk": 1} and found.past_down_channels == {"telegram": 1}
