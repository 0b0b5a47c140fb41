"""Issue 22 §2, through the real aiogram against the Telegram emulator and the console over HTTP: a Telegram-only
winner who blocked the bot is never told, so their win is ``unreached`` — no deadline runs, the console names the
channel tried and what it said — and the manager passes the prize to the reserve, who is told and whose time starts
when their notice is delivered; the reason is in the audit log.

The draw's outcome is worked out from the frozen list, the sealed seed (the test holds DRAW_SEED_KEY) and the
recorded drand round before the draw, so the winner, whoever it is, is the one who blocks the bot.
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
from core.ports.draws import WinnerStatus
from core.ports.staff import StaffRole
from promo import draws as algorithm
from run import Platform
from tests import test_draws_e2e
from tests.platform import eventually
from tests.test_console import PASSWORD
from tests.test_draw_freezing import AUTUMN, CLOSE, fiscal
from tests.test_draws_e2e import KEY

platform = test_draws_e2e.platform  # the fixture: a platform on a hand-moved clock, drand served locally

ANNA, BORIS = 1001, 1002


async def _register(telegram, user: int, name: str, phone: str) -> None:
    await telegram.user_text(user, "/start")
    await telegram.wait_for_messages(user, 1)
    await telegram.user_press(user, "consent:yes")
    await telegram.wait_for_messages(user, 2)
    await telegram.user_text(user, name)
    await telegram.wait_for_messages(user, 3)
    await telegram.user_contact(user, phone)
    await telegram.wait_for_messages(user, 4)
    await telegram.user_press(user, "email:skip")
    await telegram.wait_for_messages(user, 5)


async def _sends_a_receipt(platform: Platform, telegram, user: int, number: int) -> None:
    await telegram.user_text(user, fiscal(number, 12))
    await telegram.wait_for_messages(user, 6)
    await telegram.user_press(user, "receipt:yes")
    await telegram.wait_for_messages(user, 7)
    async with platform.store.transaction() as tx:
        for receipt in await tx.receipts.with_status(ReceiptStatus.MODERATION):
            await moderation.approve(tx, receipt.id, platform.engine.clock())
    await telegram.wait_for_messages(user, 8)


async def _winner_to_be(platform: Platform, keeper: DrawKeeper, draw_id: int) -> int:
    """Whom the draw will pick first, worked out as anyone can once the seed and the round are out."""
    async with platform.store.transaction() as tx:
        draw = await tx.draws.get(draw_id)
        data = await tx.draws.entry_list(draw_id)
        entrants = await tx.draws.entrants(draw_id)
    assert data is not None and draw.beacon_chain and draw.beacon_round and keeper.beacons is not None
    seed = SeedSeal(bytes.fromhex(KEY)).open(draw.sealed_seed or "", draw.campaign, draw.code, draw.commitment)
    beacon = await keeper.beacons.fetch(draw.beacon_chain, draw.beacon_round)
    assert beacon is not None
    entries = algorithm.parse_entry_list(data)
    picks = algorithm.choose(entries, draw.entries_hash or "",
                             algorithm.draw_key(seed, bytes.fromhex(beacon.randomness)), draw.tiers)
    return dict(zip((e.participant for e in entries), entrants, strict=True))[picks[0].participant]


async def _manager(platform: Platform, draw_id: int) -> tuple[aiohttp.ClientSession, str, str]:
    async with platform.store.transaction() as tx:
        await tx.staff.add_user("ivan", "Иван", StaffRole.MANAGER, hash_password(PASSWORD), platform.engine.clock())
    http = aiohttp.ClientSession(platform.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    answer = await http.post("/console/login", data={"username": "ivan", "password": PASSWORD},
                             allow_redirects=False)
    assert answer.status == 302, await answer.text()
    page = await (await http.get(f"/console/draws/{draw_id}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return http, csrf, page


async def test_a_blocked_telegram_only_winner_is_unreached_with_the_reason_and_the_manager_passes_it_on(
        platform: Platform, emulators, clock) -> None:
    telegram, _ = emulators
    await _register(telegram, ANNA, "Анна Петрова", "+79123456789")
    await _register(telegram, BORIS, "Борис Иванов", "+79123450000")
    async with platform.store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SeedSeal(bytes.fromhex(KEY)))).draws
    await _sends_a_receipt(platform, telegram, ANNA, 51)
    await _sends_a_receipt(platform, telegram, BORIS, 52)
    async with platform.store.transaction() as tx:
        users = {(await tx.people.find_by_account("telegram", str(u)))[1].id: u for u in (ANNA, BORIS)}  # type: ignore

    keeper = next(service for service in platform.services if isinstance(service, DrawKeeper))
    clock.now = CLOSE + timedelta(seconds=20)
    await keeper.pass_once()  # the list is frozen
    first = await _winner_to_be(platform, keeper, week.id)
    blocked, reserve_user = users[first], next(u for p, u in users.items() if p != first)
    telegram.block(blocked)  # the winner-to-be blocked the bot: Telegram answers 403
    reserve_seen = 8  # registration, the receipt, its approval

    clock.now = week.draw_at + timedelta(minutes=1)
    await keeper.pass_once()  # drawn; the notice goes out and fails

    async def unreached():  # type: ignore[no-untyped-def]
        async with platform.store.transaction() as tx:
            winner = (await tx.draws.winners(week.id))[0]
        return winner if winner.status is WinnerStatus.UNREACHED else None

    winner = await eventually(unreached)
    assert winner.person_id == first and winner.deadline is None  # nobody heard of it: no time runs out
    clock.now += timedelta(hours=73)  # past what would have been the deadline: the prize does not pass on by itself
    await keeper.pass_once()
    async with platform.store.transaction() as tx:
        assert [w.status for w in await tx.draws.winners(week.id)] == [WinnerStatus.UNREACHED, WinnerStatus.RESERVE]

    http, csrf, page = await _manager(platform, week.id)
    try:
        assert "не доставлено — срок не идёт" in page and "уведомлён" not in page
        assert "telegram: unreachable" in page and "blocked" in page  # the channel tried and what it said
        assert f'action="/console/winners/{winner.id}/pass"' in page
        refused = await http.post(f"/console/winners/{winner.id}/pass", data={"csrf": csrf, "reason": " "})
        assert refused.status == 409  # a reason is needed
        passed = await http.post(f"/console/winners/{winner.id}/pass",
                                 data={"csrf": csrf, "reason": "заблокировала бота, других контактов нет"},
                                 allow_redirects=False)
        assert passed.status == 302, await passed.text()
        page = await (await http.get(f"/console/draws/{week.id}")).text()
        assert "не дозвались — приз передан резерву" in page
    finally:
        await http.close()

    told = await telegram.wait_for_messages(reserve_user, reserve_seen + 1)
    assert "Телевизор" in told[-1].text
    delivered_at = clock()

    async def reserve_told():  # type: ignore[no-untyped-def]
        async with platform.store.transaction() as tx:
            _, reserve = await tx.draws.winners(week.id)
        return reserve if reserve.status is WinnerStatus.NOTIFIED and reserve.deadline is not None else None

    reserve = await eventually(reserve_told)
    assert reserve.deadline == delivered_at + timedelta(hours=72)
    async with platform.store.transaction() as tx:
        (audited,) = await tx.staff.audit_log(target=f"winner:{winner.id}")
        statuses = [w.status for w in await tx.draws.winners(week.id)]
    assert audited.action == "prize_passed_on" and audited.detail["reason"].startswith("заблокировала")
    assert statuses == [WinnerStatus.PASSED, WinnerStatus.NOTIFIED]
