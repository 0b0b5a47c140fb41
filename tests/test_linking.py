"""Linking accounts is a handshake: the code's owner approves before anything is joined or shown."""

from __future__ import annotations

import itertools

from core.engine import Engine
from core.ports.link_codes import LinkOutcome
from tests.chat import Chat


async def _code_from(chat: Chat) -> str:
    assert await chat.send("/link") == ["link.code_issued"]
    code = str(chat.param("code"))
    assert len(code) == 8 and code.isdigit()
    return code


async def _enter(chat: Chat, code: str) -> list[str]:
    said = await chat.send(f"/link {code}")
    if "link.approve" in said:
        chat.asked = chat.param("attempt")
    return said


async def _approve(owner: Chat, asker: Chat) -> list[str]:
    """The owner presses "yes" on the question the asker's code raised (its id is in the asker's replies)."""
    return await owner.press(f"/link_approve {asker.asked}")


async def _persons(store) -> set[int]:
    """Who the Telegram and the VK test accounts belong to."""
    async with store.transaction() as tx:
        found = [await tx.people.find_by_account(channel, account)
                 for channel, account in (("telegram", "1001"), ("vk", "2001"))]
    return {person.id for _, person in filter(None, found)}


async def test_a_right_code_only_asks_the_owner_and_joins_after_yes(telegram: Chat, vk: Chat, store) -> None:
    await telegram.register(name="Анна")
    code = await _code_from(telegram)
    assert await _enter(vk, code) == ["link.approve", "link.waiting"]
    ask, waiting = vk.last
    assert (ask.channel, ask.account_id) == ("telegram", "1001") and ask.params["channel"] == "VK"
    assert waiting.params["approver_channel"] == "Telegram"
    assert "Анна" not in str(waiting.params.values()) and "+7" not in str(waiting.params.values())
    assert await vk.send("/me") == ["common.register_first", "registration.consent"]  # nothing joined yet
    assert len(await _persons(store)) == 2
    assert await _approve(telegram, vk) == ["link.done_elsewhere", "link.done"]
    here, there = telegram.last
    assert (here.channel, there.channel, there.account_id) == ("telegram", "vk", "2001")
    assert await vk.send("/me") == ["profile.card"]
    assert vk.param("channels") == "Telegram, VK" and vk.param("name") == "Анна"
    assert len(await _persons(store)) == 1


async def test_the_owner_can_refuse_and_nothing_is_joined(telegram: Chat, vk: Chat, store) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    await _enter(vk, code)
    assert await telegram.press(f"/link_refuse {vk.asked}") == ["link.refused_here", "link.refused"]
    assert telegram.last[1].account_id == "2001"
    assert len(await _persons(store)) == 2
    assert await _approve(telegram, vk) == ["link.request_gone"]  # a refused request cannot be approved later
    async with store.transaction() as tx:
        outcomes = [a.outcome for a in await tx.link_codes.attempts()]
    assert LinkOutcome.REFUSED in outcomes and LinkOutcome.REQUESTED in outcomes


async def test_nobody_but_the_owner_can_approve(engine: Engine, telegram: Chat, vk: Chat, store) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    await _enter(vk, code)
    intruder = Chat.telegram(engine, "666")
    await intruder.register(phone="+79990001122")
    assert await intruder.send(f"/link_approve {vk.asked}") == ["link.request_gone"]
    assert len(await _persons(store)) == 2


async def test_guest_mid_registration_can_link_by_button_then_code(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    await vk.send("привет")
    assert await vk.press("/link") == ["link.ask_code"]
    assert await _enter(vk, code[:4] + " " + code[4:]) == ["link.approve", "link.waiting"]
    await _approve(telegram, vk)
    assert await vk.send("/start") == ["common.welcome_back"]


async def test_wrong_code_says_how_many_tries_are_left(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    wrong = f"{(int(code) + 1) % 100_000_000:08d}"
    assert await _enter(vk, wrong) == ["link.wrong_code", "link.ask_code"]
    assert vk.param("left") == 4


async def test_five_wrong_codes_lock_linking_even_for_the_right_code(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    wrong = f"{(int(code) + 1) % 100_000_000:08d}"
    await vk.send("/link")
    answers = [await vk.send(wrong) for _ in range(5)]
    assert answers[:4] == [["link.wrong_code", "link.ask_code"]] * 4
    assert answers[4] == ["link.locked", "link.ask_code"]
    assert await vk.send(code) == ["link.locked", "link.ask_code"]
    clock.advance(minutes=11)
    fresh = await _code_from(telegram)
    assert await vk.send(fresh) == ["link.approve", "link.waiting"]


async def test_expired_code_is_refused(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    clock.advance(minutes=10, seconds=1)
    assert await _enter(vk, code) == ["link.expired_code", "link.ask_code"]


async def test_code_works_once(engine: Engine, telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    await _enter(vk, code)
    await _approve(telegram, vk)
    stranger = Chat.vk(engine, "666")
    assert await _enter(stranger, code) == ["link.used_code", "link.ask_code"]


async def test_new_code_replaces_the_old_one(telegram: Chat, vk: Chat) -> None:
    await telegram.register()
    old = await _code_from(telegram)
    new = await _code_from(telegram)
    if old != new:
        assert await _enter(vk, old) == ["link.expired_code", "link.ask_code"]
    assert (await vk.send(new))[-1] == "link.waiting"


async def test_own_code_in_the_same_profile_is_refused(telegram: Chat) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    assert await telegram.send(code) == ["link.own_code", "link.code_issued"]


async def test_two_registered_profiles_join_only_when_both_say_yes(telegram: Chat, vk: Chat, store) -> None:
    await telegram.register(name="Анна", phone="+79123456789")
    await vk.register(name="Анна", phone="+79990001122")
    vk_person = vk.last[0].person_id
    code = await _code_from(telegram)
    await vk.send("/link")
    assert await vk.press("link:enter") == ["link.ask_code"]
    assert await vk.send(code) == ["link.confirm_merge"]
    assert "there_name" not in vk.last[0].params  # the other profile stays unknown until its owner agrees
    assert await vk.press("merge:yes") == ["link.approve", "link.waiting"]
    vk.asked = vk.param("attempt")
    assert await _approve(telegram, vk) == ["link.done_elsewhere", "link.done"]
    async with store.transaction() as tx:
        (merge,) = await tx.people.merges()
        survivor = await tx.people.get(merge.survivor_id)
    assert (merge.survivor_id, merge.absorbed_id) == (telegram.last[0].person_id, vk_person)
    assert len(merge.moved["channel_accounts"]) == 2  # the VK chat, and the number typed there as an SMS account
    assert survivor.phone == "+79123456789"


async def test_declining_the_join_keeps_profiles_apart(telegram: Chat, vk: Chat) -> None:
    await telegram.register(phone="+79123456789")
    await vk.register(phone="+79990001122")
    code = await _code_from(telegram)
    assert await _enter(vk, code) == ["link.confirm_merge"]
    assert await vk.press("merge:no") == ["link.merge_declined"]
    assert vk.last[0].person_id != telegram.last[0].person_id


async def test_code_expiring_while_confirmation_is_asked_is_refused(telegram: Chat, vk: Chat, clock) -> None:
    await telegram.register(phone="+79123456789")
    await vk.register(phone="+79990001122")
    code = await _code_from(telegram)
    await _enter(vk, code)
    clock.advance(minutes=11)
    assert await vk.press("merge:yes") == ["link.expired_code", "link.confirm_merge"]


async def test_an_approval_after_the_code_expired_joins_nothing(telegram: Chat, vk: Chat, store, clock) -> None:
    await telegram.register()
    code = await _code_from(telegram)
    await _enter(vk, code)
    clock.advance(minutes=11)
    assert await _approve(telegram, vk) == ["link.request_gone"]
    assert len(await _persons(store)) == 2


async def test_thousands_of_guesses_from_hundreds_of_fresh_accounts_join_and_reveal_nothing(
        engine: Engine, telegram: Chat, store, settings) -> None:
    await telegram.register(name="Секретная Анна", phone="+79123456789")
    live = await _code_from(telegram)
    guesses = (f"{n:08d}" for n in itertools.count(10_000_000, 7919) if f"{n:08d}" != live)
    replies = []
    for account in range(300):
        guesser = Chat.vk(engine, str(500_000 + account))
        await guesser.send("/link")
        for _ in range(8):
            await guesser.send(next(guesses))
            replies.extend(guesser.last)
    said = " ".join(str(r.params) for r in replies)
    assert "Секретная" not in said and "912" not in said
    assert {r.template for r in replies} <= {"link.wrong_code", "link.locked", "link.busy", "link.ask_code"}
    async with store.transaction() as tx:
        attempts = await tx.link_codes.attempts(limit=10_000)
        assert await tx.people.merges() == []
        owner = await tx.people.find_by_account("telegram", "1001")
    failures = [a for a in attempts if a.outcome is LinkOutcome.WRONG]
    assert len(failures) <= settings.link_code_max_failures_per_hour  # the platform-wide limit held
    assert sum(a.outcome is LinkOutcome.THROTTLED for a in attempts) > 1000  # the rest were not even looked at
    assert owner is not None and owner[1].name == "Секретная Анна"
    assert telegram.last[0].template == "link.code_issued"  # the owner was never asked
