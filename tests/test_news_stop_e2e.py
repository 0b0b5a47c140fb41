"""Issue 22 §5.2 (issue 19 §3), through the real aiogram and vkbottle against their emulators: every broadcast
carries «🔕 Без новостей»; pressing it in Telegram, or ``/stop`` typed in VK, ends broadcasts for that person
(the segments no longer count them and nothing more arrives), while their winner notice still comes. ``/news``
gives the advertising consent back in the channel it is said in, and an advertising broadcast then reaches only them.
"""

from __future__ import annotations

import json
from datetime import timedelta

from core import broadcasts, campaigns
from core.draws import DrawKeeper
from core.draws.sealing import SeedSeal
from core.templates import Templates
from run import Platform
from tests import test_draws_e2e
from tests.platform import eventually
from tests.test_bots_e2e import TG_USER, VK_USER, _register_in_telegram, _register_in_vk
from tests.test_draw_freezing import AUTUMN, CLOSE, fiscal
from tests.test_draws_e2e import KEY
from tests.test_erased_not_entered_e2e import _approve_all

platform = test_draws_e2e.platform  # a platform on a hand-moved clock, drand served locally


async def _send(platform: Platform, segment_name: str, text: str, *, advertising: bool = False) -> int:
    async with platform.store.transaction() as tx:
        segment = await broadcasts.standard_segments().resolve(tx, segment_name)
    sent = await broadcasts.start(platform.store, Templates.load(), "notify.announcement", {"text": text}, segment,
                                  platform.engine.clock(), advertising=advertising)

    async def settled():  # type: ignore[no-untyped-def]
        report = await broadcasts.report(platform.store, sent.id)
        return report if report is not None and report.done else None

    await eventually(settled)
    return sent.people


async def test_stop_ends_broadcasts_but_not_a_winner_notice(platform: Platform, emulators, clock) -> None:
    telegram, vk = emulators
    await _register_in_telegram(telegram)
    await _register_in_vk(vk)
    async with platform.store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SeedSeal(bytes.fromhex(KEY)))).draws
        anna = (await tx.people.find_by_account("telegram", str(TG_USER)))[1].id  # type: ignore[arg-type, index]
    await telegram.user_text(TG_USER, fiscal(71, 12))
    await telegram.wait_for_messages(TG_USER, 6)
    await telegram.user_press(TG_USER, "receipt:yes")
    await telegram.wait_for_messages(TG_USER, 7)
    await vk.user_text(VK_USER, fiscal(72, 12))
    await vk.wait_for_messages(VK_USER, 6)
    await vk.user_press(VK_USER, '{"p": "receipt:yes"}', "Да")
    await vk.wait_for_messages(VK_USER, 7)
    await _approve_all(platform)
    await telegram.wait_for_messages(TG_USER, 8)
    await vk.wait_for_messages(VK_USER, 8)
    clock.now = clock.now.replace(hour=12)  # noon in Moscow: no quiet hours hold the notices

    participants = f"participants:{AUTUMN.code}"
    assert await _send(platform, participants, "Первая новость") == 2
    news = (await telegram.wait_for_messages(TG_USER, 9))[8]
    assert news.text == "Первая новость"
    stop = [b for row in news.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    assert [b["text"] for b in stop] == ["🔕 Без новостей"] and stop[0]["callback_data"] == "/stop"
    told = (await vk.wait_for_messages(VK_USER, 9))[8]
    assert told.text == "Первая новость" and "Без новостей" in json.dumps(told.keyboard, ensure_ascii=False)

    await telegram.user_press(TG_USER, "/stop", news.message_id)  # the button under the broadcast
    stopped = (await telegram.wait_for_messages(TG_USER, 10))[9].text
    assert "больше не пришлём" in stopped and "сообщения о выигрыше" in stopped and "/news" in stopped
    await vk.user_text(VK_USER, "/stop")
    assert "больше не пришлём" in (await vk.wait_for_messages(VK_USER, 10))[9].text

    async with platform.store.transaction() as tx:
        segment = await broadcasts.standard_segments().resolve(tx, participants)
    assert await broadcasts.recipients(platform.store, segment) == 0  # every segment respects it
    assert await _send(platform, "registered", "Вторая новость") == 0

    await vk.user_text(VK_USER, "/news")  # VK again, with a confirmation: consent to advertising there
    assert "согласие на рекламную рассылку в VK" in (await vk.wait_for_messages(VK_USER, 11))[10].text
    await vk.user_press(VK_USER, '{"p": "news:yes"}', "Да, присылайте")
    await vk.wait_for_messages(VK_USER, 12)
    assert await _send(platform, participants, "Реклама", advertising=True) == 1
    assert (await vk.wait_for_messages(VK_USER, 13))[12].text == "Реклама"

    keeper = next(service for service in platform.services if isinstance(service, DrawKeeper))
    clock.now = CLOSE + timedelta(seconds=20)
    await keeper.pass_once()
    clock.now = week.draw_at + timedelta(minutes=1)
    await keeper.pass_once()  # the TV goes to one of the two (the seed decides), the other is its reserve
    async with platform.store.transaction() as tx:
        winners = [w.person_id for w in await tx.draws.winners(week.id) if not w.reserve]
    assert len(winners) == 1  # both said /stop: a winner notice is not a broadcast and reaches either
    if winners == [anna]:
        won = (await telegram.wait_for_messages(TG_USER, 11, timeout=30))[10].text
    else:
        won = (await vk.wait_for_messages(VK_USER, 14, timeout=30))[13].text
    assert "Вы выиграли приз «Телевизор»" in won
    texts = [m.text for m in await telegram.wait_for_messages(TG_USER, 10)]
    assert "Вторая новость" not in texts and "Реклама" not in texts
    assert "Вторая новость" not in [m.text for m in await vk.wait_for_messages(VK_USER, 13)]
