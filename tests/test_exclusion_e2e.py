"""Issue 22 §3, through the real aiogram against the Telegram emulator and the console over HTTP: re-sending someone
else's receipt raises a flag, and a flag alone leaves nobody out; a moderator decides on it from the receipt's page,
for that campaign, with a reason. The person is told, ``/draws`` says so instead of promising chances, the draw's page
lists them with the reason and the published protocol lists their pseudonym with the reason code.
"""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp

from bots.web.console.auth import hash_password
from core import campaigns, moderation
from core.draws import DrawKeeper
from core.draws.sealing import SeedSeal
from core.ports import ReceiptStatus
from core.ports.staff import StaffRole
from promo import draws as algorithm
from run import Platform
from tests import test_draws_e2e
from tests.test_console import PASSWORD
from tests.test_draw_freezing import AUTUMN, CLOSE, fiscal
from tests.test_draws_e2e import KEY
from tests.test_unreached_winners_e2e import _register

platform = test_draws_e2e.platform  # the fixture: a platform on a hand-moved clock, drand served locally
ANNA, BORIS = 1001, 1002


async def _says(telegram, user: int, text: str | None = None, press: str | None = None) -> str:
    """What the bot answers next (the emulator keeps every message each user got)."""
    seen = len(await telegram.wait_for_messages(user, 0))
    if press is not None:
        await telegram.user_press(user, press)
    else:
        await telegram.user_text(user, text or "")
    return (await telegram.wait_for_messages(user, seen + 1))[-1].text


async def _draws(telegram, user: int) -> str:
    """``/draws``, and its answer (a reply still on its way to an earlier message may come first)."""
    seen = len(await telegram.wait_for_messages(user, 0))
    await telegram.user_text(user, "/draws")
    for count in range(seen + 1, seen + 4):
        replies = await telegram.wait_for_messages(user, count)
        found = [m.text for m in replies[seen:] if "«Осенний кешбэк»" in m.text and "Ваши розыгрыши" in m.text]
        if found:
            return found[-1]
    raise AssertionError("no answer to /draws")


async def _approve_all(platform: Platform) -> None:
    async with platform.store.transaction() as tx:
        for receipt in await tx.receipts.with_status(ReceiptStatus.MODERATION):
            await moderation.approve(tx, receipt.id, platform.engine.clock())


async def test_a_flagged_person_is_left_out_only_by_a_moderator_is_told_and_listed(platform: Platform, emulators,
                                                                                  clock) -> None:
    telegram, _ = emulators
    await _register(telegram, ANNA, "Анна Петрова", "+79123456789")
    await _register(telegram, BORIS, "Борис Иванов", "+79123450000")
    async with platform.store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SeedSeal(bytes.fromhex(KEY)))).draws
        boris = (await tx.people.find_by_account("telegram", str(BORIS)))[1].id  # type: ignore[arg-type, index]
    await _says(telegram, ANNA, fiscal(81, 12))
    await _says(telegram, ANNA, press="receipt:yes")
    await _says(telegram, BORIS, fiscal(82, 12))  # his own receipt
    await _says(telegram, BORIS, press="receipt:yes")
    await _approve_all(platform)
    await telegram.wait_for_messages(BORIS, 8)
    await _says(telegram, BORIS, fiscal(81, 12))  # Anna's receipt, sent again
    await _says(telegram, BORIS, press="receipt:yes")
    async with platform.store.transaction() as tx:
        (anna_receipt,) = [r for r in await tx.receipts.with_status(ReceiptStatus.ACCEPTED) if r.person_id != boris]
        assert [f.person_id for f in await tx.receipts.flags(anna_receipt.id)] == [boris]
    assert "Ваши шансы: 5" in await _draws(telegram, BORIS)  # a flag alone excludes nobody

    async with platform.store.transaction() as tx:
        await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, hash_password(PASSWORD), clock())
        await tx.staff.add_user("ivan", "Иван", StaffRole.MANAGER, hash_password(PASSWORD), clock())
    http = aiohttp.ClientSession(platform.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    manager = aiohttp.ClientSession(platform.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        answer = await http.post("/console/login", data={"username": "olga", "password": PASSWORD},
                                 allow_redirects=False)
        assert answer.status == 302  # a moderator decides; a manager (below, once the list is frozen) runs draws
        page = await (await http.get(f"/console/receipts/{anna_receipt.id}")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert f'action="/console/receipts/{anna_receipt.id}/exclude"' in page
        seen = len(await telegram.wait_for_messages(BORIS, 0))
        excluded = await http.post(f"/console/receipts/{anna_receipt.id}/exclude", allow_redirects=False, data={
            "csrf": csrf, "person_id": str(boris), "reason": "sent_by_another_person",
            "note": "прислал чек Анны Петровой"})
        assert excluded.status == 302, await excluded.text()
        told = (await telegram.wait_for_messages(BORIS, seen + 1))[-1].text
        assert "исключены из розыгрышей акции «Осенний кешбэк»" in told and "отправлен чужой чек" in told
        draws_now = await _draws(telegram, BORIS)
        assert "Вы исключены из розыгрышей этой акции решением модератора: отправлен чужой чек" in draws_now
        assert "Ваши шансы" not in draws_now

        keeper = next(service for service in platform.services if isinstance(service, DrawKeeper))
        clock.now = CLOSE + timedelta(seconds=20)
        await keeper.pass_once()
        pseudonym = algorithm.pseudonym(bytes.fromhex(week.participant_key), boris)
        async with platform.store.transaction() as tx:
            frozen = await tx.draws.get(week.id)
            listed = (await tx.draws.entry_list(week.id) or b"").decode()
        assert (frozen.participants, frozen.excluded) == (1, 1) and pseudonym not in listed
        answer = await manager.post("/console/login", data={"username": "ivan", "password": PASSWORD},
                                    allow_redirects=False)
        assert answer.status == 302
        page = await (await manager.get(f"/console/draws/{week.id}")).text()
        assert f"#{boris}</a> <code>{pseudonym}</code>: <code>sent_by_another_person</code>" in page
        assert "прислал чек Анны Петровой" in page

        clock.now = week.draw_at + timedelta(minutes=1)
        await keeper.pass_once()
        async with aiohttp.ClientSession() as public:
            protocol = await (await public.get(f"{platform.web_url}/draws/{week.id}/protocol.html")).text()
        assert f"<code>{pseudonym}</code></td><td><code>sent_by_another_person</code>" in protocol
        assert "Анны" not in protocol and "Борис" not in protocol
    finally:
        await http.close()
        await manager.close()
