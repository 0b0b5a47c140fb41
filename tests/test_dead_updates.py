"""Updates the platform gives up on: never dropped. One that fails ``DEAD_AFTER`` times is set aside as dead, its
sender is asked (in their channel, through the outbox) to send it again, staff see it in the console and retry it;
a step that crashes sets its update aside at once, with an apology. The dashboard counts them.

The whole platform runs against the Telegram emulator (aiogram over HTTP); the fault is the store's, injected for
one text only, so everything around it is real.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bots.web.console.auth import hash_password
from core import intake as intake_module
from core.context import Context
from core.dispatch import Dispatcher
from core.events import InboundEvent
from core.ports import NewUpdate
from core.ports.staff import StaffRole
from storage.sql.messages import SqlMessages
from tests.contract.helpers import NOW, at
from tests.platform import eventually, platform_settings, started
from tests.test_console import PASSWORD, XSS, _login, console_client

USER = 5101
POISON = "это сообщение не сохранить"


class Fault:
    """The message log refuses one text: the step and its apology fail alike, as a poison update's do."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls, self.on = 0, True
        original = SqlMessages.log_inbound

        async def log_inbound(repo: SqlMessages, person_id: int, event: InboundEvent, now: datetime) -> None:
            if self.on and event.text == POISON:
                self.calls += 1
                raise RuntimeError("the message log refuses this text")
            await original(repo, person_id, event, now)

        monkeypatch.setattr(SqlMessages, "log_inbound", log_inbound)


@pytest.fixture
async def platform(tmp_path, emulators, monkeypatch):
    monkeypatch.setattr(intake_module, "RETRY_AFTER", timedelta(0))  # the attempts follow one another at once
    running = await started(platform_settings(tmp_path), emulators[1])
    async with running.store.transaction() as tx:
        await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, hash_password(PASSWORD), NOW)
    yield running
    await running.stop()


async def _dead(platform):
    async with platform.store.transaction() as tx:
        return await tx.inbox.dead(10)


async def _dead_soon(platform) -> list:
    async def found():
        platform.intake.wake()  # the recovery loop looks every 2 s; here at once
        return await _dead(platform)

    return await eventually(found)


async def _signed_in(platform) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(platform.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True))  # an IP address
    answer = await http.post("/console/login", data={"username": "olga", "password": PASSWORD},
                             allow_redirects=False)
    assert answer.status == 302
    page = await (await http.get("/console/updates")).text()
    return http, re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


async def test_an_update_that_always_fails_ends_dead_and_is_processed_once_retried(platform, emulators,
                                                                                   monkeypatch) -> None:
    telegram, _ = emulators
    fault = Fault(monkeypatch)
    await telegram.user_text(USER, POISON)
    [dead] = await _dead_soon(platform)
    assert fault.calls == 2 * intake_module.DEAD_AFTER  # each attempt: the step, then its apology
    assert dead.attempts == intake_module.DEAD_AFTER and "refuses this text" in dead.error
    assert dead.raw["message"]["text"] == POISON and dead.account_id == str(USER)
    (told,) = await telegram.wait_for_messages(USER, 1)
    assert "не смогли прочитать это сообщение" in told.text and "ещё раз" in told.text
    async with platform.store.transaction() as tx:
        assert await tx.inbox.pending() == 0  # set aside: nothing takes it up by itself any more
    platform.intake.wake()
    assert await platform.intake.drained(5) and fault.calls == 2 * intake_module.DEAD_AFTER

    http, csrf = await _signed_in(platform)
    try:
        page = await (await http.get("/console/updates")).text()
        assert f'id="update-{dead.id}"' in page and POISON in page and "refuses this text" in page
        assert 'href="/console/updates"' in page  # in the navigation
        refused = await http.post(f"/console/updates/{dead.id}/retry", data={})
        assert refused.status == 403 and [d.id for d in await _dead(platform)] == [dead.id]
        fault.on = False  # the bug is fixed
        retried = await http.post(f"/console/updates/{dead.id}/retry", data={"csrf": csrf}, allow_redirects=False)
        assert retried.status == 302 and retried.headers["Location"] == f"/console/updates?retried={dead.id}"
        platform.intake.wake()
        _, consent = await telegram.wait_for_messages(USER, 2)
        assert "согласие" in consent.text  # processed as if it had just come: the person's first message
        assert await _dead(platform) == []
        async with platform.store.transaction() as tx:
            assert await tx.inbox.pending() == 0
            [entry] = await tx.staff.audit_log(target=f"update:{dead.id}")
            assert entry.action == "update_retry"
        again = await http.post(f"/console/updates/{dead.id}/retry", data={"csrf": csrf})
        assert again.status == 404  # processed: nothing to retry
    finally:
        await http.close()


async def test_a_crashing_step_sets_its_update_aside_at_once_with_an_apology(platform, emulators,
                                                                             monkeypatch) -> None:
    telegram, _ = emulators
    route = Dispatcher.route

    async def crashing(self: Dispatcher, ctx: Context) -> None:
        if ctx.event.text == POISON:
            raise ZeroDivisionError("a bug in a step")
        await route(self, ctx)

    monkeypatch.setattr(Dispatcher, "route", crashing)
    await telegram.user_text(USER, POISON)
    (apology,) = await telegram.wait_for_messages(USER, 1)
    assert "Что-то пошло не так" in apology.text
    [dead] = await _dead(platform)
    assert dead.attempts == 1 and "a bug in a step" in dead.error and dead.raw["message"]["text"] == POISON


# the console page, over the console app alone ----------------------------------------------------------------

async def _bury(store, raw: dict, bot: str = "telegram:1", account: str | None = "1001") -> int:
    async with store.transaction() as tx:
        [entry] = await tx.inbox.add(bot, [NewUpdate(str(len(str(raw))), account, raw)], "gone", NOW,
                                     lease_until=at(minutes=1))
        await tx.inbox.bury(entry.id, f"ValueError({XSS!r})", at(seconds=1))
    return entry.id


@pytest.fixture
async def http(store, clock):
    client = await console_client(store, clock)
    yield client
    await client.close()


async def test_every_role_sees_dead_updates_as_text_and_a_retry_needs_the_csrf_token(http: TestClient, store,
                                                                                     clock) -> None:
    async with store.transaction() as tx:
        person = await tx.people.create("ru", clock())
        await tx.people.add_account(person.id, "telegram", "1001", "", clock())
    known = await _bury(store, {"message": {"text": XSS + " \ud800"}})  # what made it fail, shown all the same
    stranger = await _bury(store, {"x": 1}, bot="nowhere:1", account=None)
    for name in ("olga", "ivan", "admin"):
        csrf = await _login(http, name)
        page = await (await http.get("/console/updates")).text()
        assert f'id="update-{known}"' in page and f'id="update-{stranger}"' in page, name
        assert XSS not in page and "&lt;script&gt;" in page
        assert f'href="/console/people/{person.id}"' in page  # the sender's person, where the channel is known
        await http.post("/console/logout", data={"csrf": csrf})
    csrf = await _login(http, "olga")
    forged = await http.post(f"/console/updates/{known}/retry", data={"csrf": csrf + "x"})
    assert forged.status == 403
    done = await http.post(f"/console/updates/{known}/retry", data={"csrf": csrf})
    assert done.status == 200 and f"№{known}" in await done.text()
    async with store.transaction() as tx:
        assert [d.id for d in await tx.inbox.dead(10)] == [stranger] and await tx.inbox.pending() == 1
        assert [e.action for e in await tx.staff.audit_log(target=f"update:{known}")] == ["update_retry"]
    assert (await http.post("/console/updates/abc/retry", data={"csrf": csrf})).status == 404


async def test_the_dashboard_counts_dead_updates(http: TestClient, store) -> None:
    await _login(http, "ivan")
    assert "Непрочитанные сообщения: 0" in await (await http.get("/console/dashboard")).text()
    await _bury(store, {"a": 1})
    await _bury(store, {"b": 22})
    body = await (await http.get("/console/dashboard")).text()
    assert "Непрочитанные сообщения: 2" in body and 'href="/console/updates"' in body
