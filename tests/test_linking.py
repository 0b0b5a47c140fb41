from __future__ import annotations

from sqlalchemy import select

from core.engine import Engine
from storage.models import ChannelAccountRow, PersonMergeRow
from tests.chat import Chat


async def _code_from(chat: Chat) -> str:
    assert await chat.send("/link") == ["link.code_issued"]
    code = str(chat.param("code"))
    assert len(code) == 6 and code.isdigit()
    return code


async def test_code_from_telegram_entered_in_vk_gives_one_person(telegram: Chat, vk: Chat, store) -> None:
    await telegram.register(name="Анна")
    code = await _code_from(telegram)
    assert await vk.send(f"/link {code}") == ["link.done_elsewhere", "link.done"]
    notice, done = vk.last
    assert done.channel == "vk" and notice.channel == "telegram" and notice.account_id == "1001"
    assert done.person_id == notice.person_id == telegram.last[0].person_id
    assert await vk.send("/me") == ["profile.card"]
    assert vk.param("channels") == "Telegram, VK" and vk.param("name") == "Анна"
    async with store.transaction() as tx:
        owners = {row.person_id for row in await tx.session.scalars(select(ChannelAccountRow))}
    assert owners == {done.person_id}


async def test_guest_mid_registration_can_link_by_button_then_code(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    await vk.send("привет")
    assert await vk.press("/link") == ["link.ask_code"]
    assert await vk.send(code) == ["link.done_elsewhere", "link.done"]
    assert await vk.send("/start") == ["common.welcome_back"]


async def test_wrong_code_says_how_many_tries_are_left(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert await vk.send(f"/link {wrong}") == ["link.wrong_code", "link.ask_code"]
    assert vk.param("left") == 4


async def test_five_wrong_codes_lock_linking_even_for_the_right_code(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await vk.send("/link")
    answers = [await vk.send(wrong) for _ in range(5)]
    assert answers[:4] == [["link.wrong_code", "link.ask_code"]] * 4
    assert answers[4] == ["link.locked", "link.ask_code"]
    assert await vk.send(code) == ["link.locked", "link.ask_code"]
    clock.advance(minutes=11)
    fresh = await _code_from(telegram)
    assert await vk.send(fresh) == ["link.done_elsewhere", "link.done"]


async def test_expired_code_is_refused(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    clock.advance(minutes=10, seconds=1)
    assert await vk.send(f"/link {code}") == ["link.expired_code", "link.ask_code"]


async def test_code_works_once(engine: Engine, telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    assert (await vk.send(f"/link {code}"))[-1] == "link.done"
    stranger = Chat.vk(engine, "666")
    assert await stranger.send(f"/link {code}") == ["link.used_code", "link.ask_code"]


async def test_new_code_replaces_the_old_one(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    old = await _code_from(telegram)
    new = await _code_from(telegram)
    if old != new:
        assert await vk.send(f"/link {old}") == ["link.expired_code", "link.ask_code"]
    assert (await vk.send(new))[-1] == "link.done"


async def test_own_code_in_the_same_profile_is_refused(telegram: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    assert await telegram.send(code) == ["link.own_code", "link.code_issued"]


async def test_two_registered_profiles_join_only_on_confirmation(telegram: Chat, vk: Chat, store) -> None:
    await telegram.register(name="Анна", phone="+79123456789")
    await vk.register(name="Анна", phone="+79990001122")
    vk_person = vk.last[0].person_id
    code = await _code_from(telegram)
    await vk.send("/link")
    assert await vk.press("link:enter") == ["link.ask_code"]
    assert await vk.send(code) == ["link.confirm_merge"]
    assert await vk.press("merge:yes") == ["link.done_elsewhere", "link.done"]
    assert vk.last[-1].person_id == telegram.last[0].person_id != vk_person
    async with store.transaction() as tx:
        merge = (await tx.session.scalars(select(PersonMergeRow))).one()
        survivor = await tx.get_person(merge.survivor_id)
    assert (merge.survivor_id, merge.absorbed_id) == (telegram.last[0].person_id, vk_person)
    assert merge.moved["channel_accounts"] == 1
    assert survivor.phone == "+79123456789"


async def test_declining_the_join_keeps_profiles_apart(telegram: Chat, vk: Chat) -> None:
    await telegram.register(phone="+79123456789")
    await vk.register(phone="+79990001122")
    code = await _code_from(telegram)
    assert await vk.send(f"/link {code}") == ["link.confirm_merge"]
    assert await vk.press("merge:no") == ["link.merge_declined"]
    assert vk.last[0].person_id != telegram.last[0].person_id


async def test_code_expiring_while_confirmation_is_asked_is_refused(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register(phone="+79123456789")
    await vk.register(phone="+79990001122")
    code = await _code_from(telegram)
    await vk.send(f"/link {code}")
    clock.advance(minutes=11)
    assert await vk.press("merge:yes") == ["link.expired_code", "link.confirm_merge"]
