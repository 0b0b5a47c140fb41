"""Talking about channels with the bot: /channel chooses where important messages go; an answer (a button or any
reply) acknowledges a notice; /phone and /email say plainly when their channel does not run here."""

from __future__ import annotations

from datetime import datetime, timedelta

from bots.sms import SMS
from core.channels import ChannelName
from core.delivery import MessageStatus
from core.events import OutgoingMessage
from core.ports import Outcome
from tests.chat import Chat

VK = ChannelName("vk")


async def preference(store, person_id: int):
    async with store.transaction() as tx:
        return (await tx.routes.preferences([person_id])).get(person_id)


async def test_channel_offers_only_where_the_person_can_be_reached_and_keeps_the_choice(telegram: Chat, vk: Chat,
                                                                                      store) -> None:
    await telegram.register(phone="+79123456789")
    person_id = telegram.last[0].person_id
    assert await telegram.send("/channel") == ["channel.choose"]
    offered = telegram.last[0].params
    assert [choice["channel"] for choice in offered["reachable"]] == ["telegram"]  # not VK, SMS or e-mail: none
    assert await telegram.press("channel:vk") == ["channel.unavailable"]  # an old or forged button
    assert await telegram.send("куда писать") == ["channel.choose"]  # the words reach it too
    assert await telegram.press("channel:telegram") == ["channel.chosen"]
    assert (await preference(store, person_id)).channel == "telegram"
    assert await telegram.send("/channel") == ["channel.choose"] and telegram.param("current") == "Telegram"
    assert await telegram.press("channel:auto") == ["channel.auto"]
    assert (await preference(store, person_id)).channel is None


async def test_a_verified_phone_is_an_sms_account_the_router_can_use(telegram: Chat, store) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    await telegram.share_contact("+79123456789")
    await telegram.press("email:skip")
    async with store.transaction() as tx:
        accounts = await tx.people.accounts_of(telegram.last[0].person_id)
    sms = next(a for a in accounts if a.channel == SMS)
    assert sms.external_id == "+79123456789" and sms.verified


async def test_a_typed_phone_is_an_sms_account_not_yet_verified(vk: Chat, store) -> None:
    await vk.register(phone="+79990001122", email=None)
    async with store.transaction() as tx:
        accounts = await tx.people.accounts_of(vk.last[0].person_id)
    sms = next(a for a in accounts if a.channel == SMS)
    assert not sms.verified


async def awaiting_answer(store, person_id: int, now: datetime) -> int:
    """A notice delivered in Telegram an hour ago, awaiting the person's answer."""
    async with store.transaction() as tx:
        queued = tx.messages.enqueue(OutgoingMessage(person_id, "notify.please_answer", {"text": "Вы выиграли!"},
                                                     "ru", ack_window_seconds=3600), now)
    async with store.transaction() as tx:
        await tx.messages.record([Outcome(queued.id, MessageStatus.AWAITING_ACK, ChannelName("telegram"), "1001",
                                          retry_at=now + timedelta(hours=1))], now)
    return queued.id


async def status(store, message_id: int) -> MessageStatus:
    async with store.transaction() as tx:
        return next(e.status for e in await tx.messages.entries() if e.id == message_id)


async def test_any_reply_answers_a_notice_that_awaited_one(telegram: Chat, store, clock) -> None:
    await telegram.register()
    message = await awaiting_answer(store, telegram.last[0].person_id, clock())
    await telegram.send("/balance")
    assert await status(store, message) is MessageStatus.ACKNOWLEDGED


async def test_the_got_it_button_thanks_and_answers(telegram: Chat, store, clock) -> None:
    await telegram.register()
    message = await awaiting_answer(store, telegram.last[0].person_id, clock())
    assert await telegram.press(f"/ack {message}") == ["notify.thanks_for_answer"]
    assert await status(store, message) is MessageStatus.ACKNOWLEDGED


async def test_phone_and_email_codes_say_so_when_their_channel_does_not_run(vk: Chat) -> None:
    await vk.register(phone="+79990001122", email=None)
    assert await vk.send("/phone") == ["verify.no_sms"]
    assert await vk.send("/email") == ["verify.no_email"]
    assert await vk.send("/payout") == ["payout.too_little"]
