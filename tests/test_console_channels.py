"""The console's channel page: a manager marks Telegram down with a reason (audited, shown, heeded by the
router's health), lifts it; wrong marks are explained; the page escapes what it shows; CSRF and roles hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from core.health import ChannelHealth
from core.health_watch import HealthWatch
from core.ports.channel_health import ChannelState, HealthChange
from tests.test_console import PASSWORD, console_client

XSS = '<script>alert("x")</script>'


@pytest.fixture
async def http(store, clock):
    clock.now = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    client = await console_client(store, clock)
    yield client
    await client.close()


async def login(client, name: str = "ivan") -> str:
    answer = await client.post("/console/login", data={"username": name, "password": PASSWORD},
                               allow_redirects=False)
    assert answer.status == 302
    page = await client.get("/console/tickets" if name == "olga" else "/console/channels")
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]


def row(page: str, channel: str) -> str:
    found = re.search(rf'<tr id="channel-{channel}"[^>]*>(.*?)</tr>', page, re.DOTALL)
    assert found, channel
    return found.group(1)


async def test_a_manager_marks_a_channel_down_and_up_and_every_process_heeds_it(http, store, clock) -> None:
    csrf = await login(http)
    page = await (await http.get("/console/channels")).text()
    assert "работает" in row(page, "telegram") and "Отметить недоступным" in row(page, "telegram")
    marked = await http.post("/console/channels", data={"csrf": csrf, "channel": "telegram", "state": "down",
                                                         "reason": "блокировка в РФ с 10:00"}, allow_redirects=False)
    assert marked.status == 302
    page = await (await http.get("/console/channels")).text()
    telegram = row(page, "telegram")
    assert "недоступен" in telegram and "блокировка в РФ с 10:00" in telegram and "console:ivan" in telegram
    assert "Снять отметку" in telegram and "работает" in row(page, "vk")
    dashboard = await (await http.get("/console/dashboard")).text()
    assert re.search(r'class="status channel-down"[^>]*>Telegram: недоступен<', dashboard)

    health = ChannelHealth(clock)  # another process's view: its health watch reads the mark from the store
    await HealthWatch(store, health, clock, wake_outbox=lambda: None).pass_once()
    assert health.down() == {"telegram": "блокировка в РФ с 10:00"}

    assert (await http.post("/console/channels", data={"csrf": csrf, "channel": "telegram", "state": "up"},
                            allow_redirects=False)).status == 302
    await HealthWatch(store, health, clock, wake_outbox=lambda: None).pass_once()
    assert health.down() == {}
    async with store.transaction() as tx:
        audit = await tx.staff.audit_log(target="channel:telegram")
    assert [(e.action, e.detail["reason"]) for e in reversed(audit)] == [
        ("channel_down", "блокировка в РФ с 10:00"), ("channel_up", "marked up")]


async def test_wrong_marks_are_explained_and_change_nothing(http, store) -> None:
    csrf = await login(http)
    for data, words in ((({"channel": "telegram", "state": "down", "reason": " "}), "say why"),
                        ({"channel": "nosuch", "state": "down", "reason": "x"}, "unknown channel"),
                        ({"channel": "vk", "state": "up"}, "not marked"),
                        ({"channel": "vk", "state": "sideways"}, "down or up"),
                        ({"channel": "vk", "state": "down", "reason": "x" * 600}, "longer than")):
        answer = await http.post("/console/channels", data={"csrf": csrf, **data})
        assert answer.status == 400 and words in await answer.text(), data
    async with store.transaction() as tx:
        assert await tx.channel_health.history() == []


async def test_what_the_page_shows_is_escaped_and_measured_changes_are_listed(http, store, clock) -> None:
    async with store.transaction() as tx:
        await tx.channel_health.record(HealthChange("vk", ChannelState.DOWN, f"5 of 5 sends failed {XSS}",
                                                    "measured", clock(), manual=False))
    csrf = await login(http)
    await http.post("/console/channels", data={"csrf": csrf, "channel": "telegram", "state": "down", "reason": XSS})
    page = await (await http.get("/console/channels")).text()
    assert XSS not in page and "&lt;script&gt;" in page
    assert "по замерам" in row(page, "vk") and "недоступен" in row(page, "vk")


async def test_support_cannot_see_or_mark_and_a_post_without_csrf_is_refused(http, store) -> None:
    csrf = await login(http, "olga")
    assert (await http.get("/console/channels")).status == 403
    assert (await http.post("/console/channels", data={"csrf": csrf, "channel": "telegram", "state": "down",
                                                       "reason": "x"})).status == 403
    await http.post("/console/logout", data={"csrf": csrf})
    await login(http)
    refused = await http.post("/console/channels", data={"channel": "telegram", "state": "down", "reason": "x"})
    assert refused.status == 403
    async with store.transaction() as tx:
        assert await tx.channel_health.history() == []
