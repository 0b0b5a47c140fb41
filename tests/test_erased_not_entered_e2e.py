"""Issue 22 §3, through the real vkbottle and aiogram against their emulators: someone who erased their data
(``/forget`` in VK) withdrew consent, so a draw whose list is frozen afterwards leaves them out, their approved
receipt's entries included, and a broadcast neither counts nor reaches them; the person who did not is in both.
"""

from __future__ import annotations

from datetime import timedelta

from core import broadcasts, campaigns, moderation
from core.draws import DrawKeeper
from core.draws.sealing import SeedSeal
from core.ports import ReceiptStatus
from core.templates import Templates
from promo import draws as algorithm
from run import Platform
from tests import test_draws_e2e
from tests.platform import eventually
from tests.test_bots_e2e import TG_USER, VK_USER, _register_in_telegram, _register_in_vk
from tests.test_draw_freezing import AUTUMN, CLOSE, fiscal
from tests.test_draws_e2e import KEY

platform = test_draws_e2e.platform  # the fixture: a platform on a hand-moved clock, drand served locally

async def _approve_all(platform: Platform) -> None:
    async with platform.store.transaction() as tx:
        for receipt in await tx.receipts.with_status(ReceiptStatus.MODERATION):
            await moderation.approve(tx, receipt.id, platform.engine.clock())


async def test_someone_who_erased_their_data_is_in_no_later_draw_and_no_broadcast(
        platform: Platform, emulators, clock) -> None:
    telegram, vk = emulators
    await _register_in_telegram(telegram)
    await _register_in_vk(vk)
    async with platform.store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SeedSeal(bytes.fromhex(KEY)))).draws
        anna = (await tx.people.find_by_account("telegram", str(TG_USER)))[1].id  # type: ignore[arg-type, index]
        petr = (await tx.people.find_by_account("vk", str(VK_USER)))[1].id  # type: ignore[arg-type, index]
    await telegram.user_text(TG_USER, fiscal(61, 12))
    await telegram.wait_for_messages(TG_USER, 6)
    await telegram.user_press(TG_USER, "receipt:yes")
    await telegram.wait_for_messages(TG_USER, 7)
    await vk.user_text(VK_USER, fiscal(62, 12))
    await vk.wait_for_messages(VK_USER, 6)
    await vk.user_press(VK_USER, '{"p": "receipt:yes"}', "Да")
    await vk.wait_for_messages(VK_USER, 7)
    await _approve_all(platform)
    await vk.wait_for_messages(VK_USER, 8)
    segment = broadcasts.standard_segments().find("registered")
    assert await broadcasts.recipients(platform.store, segment) == 2

    await vk.user_text(VK_USER, "/forget")
    await vk.wait_for_messages(VK_USER, 9)
    await vk.user_press(VK_USER, '{"p": "forget:yes"}', "Да, удалить")
    await vk.wait_for_messages(VK_USER, 10)
    async with platform.store.transaction() as tx:
        assert (await tx.people.get(petr)).name is None  # erased
        assert [r.status for r in await tx.receipts.of_person(petr)] == [ReceiptStatus.ACCEPTED]  # the receipt stays

    keeper = next(service for service in platform.services if isinstance(service, DrawKeeper))
    clock.now = CLOSE + timedelta(seconds=20)
    await keeper.pass_once()
    async with platform.store.transaction() as tx:
        frozen = await tx.draws.get(week.id)
        listed = (await tx.draws.entry_list(week.id) or b"").decode()
    key = bytes.fromhex(week.participant_key)
    assert (frozen.participants, frozen.entries) == (1, 5)
    assert algorithm.pseudonym(key, anna) in listed and algorithm.pseudonym(key, petr) not in listed

    clock.now = week.draw_at + timedelta(hours=2)  # 16:30 in Moscow: not quiet hours
    assert await broadcasts.recipients(platform.store, segment) == 1
    sent = await broadcasts.start(platform.store, Templates.load(), "notify.announcement", {"text": "Новая акция!"},
                                  segment, clock())
    assert sent.people == 1
    told = await telegram.wait_for_messages(TG_USER, 9)
    assert any("Новая акция!" in m.text for m in told)

    async def settled():  # type: ignore[no-untyped-def]
        report = await broadcasts.report(platform.store, sent.id)
        return report if report is not None and report.done else None

    report = await eventually(settled)
    assert report.settled == 1 and len(await vk.wait_for_messages(VK_USER, 10)) == 10  # nothing more to the erased
