"""Issue 22 §5.2, through the real aiogram against the Telegram emulator: a broadcast already in the outbox (held
by the quiet hours, not yet sent) to someone who then says ``/stop`` is not sent to them. The advertising gate
rules when it goes, not when it was queued: the message ends with the gate's reason on its outbox row and in its
routing decision, while the winner notice (transactional) to the same person still arrives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core import broadcasts, campaigns
from core.delivery import MessageStatus
from core.domain_events import Happened
from core.draws import DrawKeeper
from core.draws.sealing import SeedSeal
from core.gates import Reason
from core.templates import Templates
from run import Platform
from tests import test_draws_e2e
from tests.platform import eventually
from tests.test_bots_e2e import TG_USER, _register_in_telegram
from tests.test_draw_freezing import AUTUMN, CLOSE, fiscal
from tests.test_draws_e2e import KEY
from tests.test_erased_not_entered_e2e import _approve_all

platform = test_draws_e2e.platform  # a platform on a hand-moved clock, drand served locally


async def test_a_queued_broadcast_is_not_sent_after_stop_but_the_winner_notice_is(platform: Platform, emulators,
                                                                                  clock) -> None:
    telegram, _ = emulators
    await _register_in_telegram(telegram)
    async with platform.store.transaction() as tx:
        await campaigns.create(tx, AUTUMN, clock())
        (week, _) = (await campaigns.activate(tx, AUTUMN.code, clock(), SeedSeal(bytes.fromhex(KEY)))).draws
    await telegram.user_text(TG_USER, fiscal(81, 12))
    await telegram.wait_for_messages(TG_USER, 6)
    await telegram.user_press(TG_USER, "receipt:yes")
    await telegram.wait_for_messages(TG_USER, 7)
    await _approve_all(platform)
    await telegram.wait_for_messages(TG_USER, 8)

    clock.now = datetime(2023, 9, 13, 20, 0, tzinfo=UTC)  # 23:00 in Moscow: the broadcast waits for the morning
    async with platform.store.transaction() as tx:
        segment = await broadcasts.standard_segments().resolve(tx, f"participants:{AUTUMN.code}")
    sent = await broadcasts.start(platform.store, Templates.load(), "notify.announcement", {"text": "Ночная новость"},
                                  segment, clock())
    assert sent.people == 1

    async def held():  # type: ignore[no-untyped-def]
        async with platform.store.transaction() as tx:
            (entry,) = await tx.messages.entries(broadcast_id=sent.id)
        return entry if entry.status is MessageStatus.PENDING and entry.last_error else None

    assert "quiet hours" in (await eventually(held)).last_error  # queued, routed once, not sent

    await telegram.user_text(TG_USER, "/stop")  # a reply: quiet hours do not hold it
    assert "больше не пришлём" in (await telegram.wait_for_messages(TG_USER, 9))[8].text

    clock.now = datetime(2023, 9, 14, 9, 0, tzinfo=UTC)  # noon in Moscow: the quiet hours are over

    async def settled():  # type: ignore[no-untyped-def]
        async with platform.store.transaction() as tx:
            (entry,) = await tx.messages.entries(broadcast_id=sent.id)
        return entry if entry.status.is_final else None

    entry = await eventually(settled, timeout=30)
    assert entry.status is MessageStatus.UNREACHABLE, entry
    assert entry.last_error.startswith(f"telegram: {Reason.NEWS_STOPPED.value} ("), entry.last_error
    async with platform.store.transaction() as tx:
        decision = (await tx.routes.decisions(message_id=entry.id))[0]  # the newest
    assert decision.channel is None and decision.outcome == "undeliverable"
    skipped = {c.channel: (c.dropped or "").split(" (")[0] for c in decision.candidates}
    assert skipped["telegram"] == Reason.NEWS_STOPPED.value  # (and the phone given at registration: no SMS here)
    async with platform.store.transaction() as tx:
        failed = [e for e in await tx.events.of_person(entry.person_id) if e.kind == Happened.MESSAGE_FAILED
                  and e.data.get("message_id") == entry.id]
    assert [e.data["reason"].split(" (")[0] for e in failed] == [f"telegram: {Reason.NEWS_STOPPED.value}"]
    assert "Ночная новость" not in [m.text for m in await telegram.wait_for_messages(TG_USER, 9)]

    keeper = next(service for service in platform.services if isinstance(service, DrawKeeper))
    clock.now = CLOSE + timedelta(seconds=20)
    await keeper.pass_once()
    clock.now = week.draw_at + timedelta(minutes=1)
    await keeper.pass_once()  # the only entrant wins the TV
    told = [m.text for m in await telegram.wait_for_messages(TG_USER, 10, timeout=30)]
    assert "Вы выиграли приз «Телевизор»" in told[9] and "Ночная новость" not in told
