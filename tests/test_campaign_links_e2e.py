"""A pack's link over the real vkbottle and aiogram: VK's ``ref`` and Telegram's ``/start <code>``."""

from __future__ import annotations

from dataclasses import replace

from core import campaigns
from tests.test_bots_e2e import TG_USER, VK_USER, _account, platform  # noqa: F401 (fixture)
from tests.test_campaigns import KEFIR


async def _open_kefir(platform) -> None:  # noqa: F811
    async with platform.store.transaction() as tx:
        kefir = replace(KEFIR, ends_on=KEFIR.ends_on.replace(year=2099))
        await campaigns.create(tx, kefir, platform.outbox.clock())
        await campaigns.activate(tx, kefir.code, platform.outbox.clock())


async def test_vk_ref_and_telegram_start_payload_enter_the_packs_campaign(platform, emulators) -> None:  # noqa: F811
    telegram, vk = emulators
    await _open_kefir(platform)
    await vk.user_start(VK_USER, "kefir")
    entered, _consent = await vk.wait_for_messages(VK_USER, 2)
    assert "Кефир" in entered.text
    await telegram.user_text(TG_USER, "/start kefir")
    entered, _consent = await telegram.wait_for_messages(TG_USER, 2)
    assert "Кефир" in entered.text
    for channel, user in (("vk", VK_USER), ("telegram", TG_USER)):
        _, person = await _account(platform, channel, user)
        async with platform.store.transaction() as tx:
            (membership,) = await tx.campaigns.memberships(person.id)
        assert (membership.campaign, membership.source) == ("kefir", "link")
