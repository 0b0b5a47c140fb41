"""Support from any channel: a ticket from a description and an optional photo, later words joining it,
staff answers on the ticket's channel, closing and rating; /forget; undoing a merge."""

from __future__ import annotations

import io

from PIL import Image

from core.engine import Engine
from core.events import EventKind, InboundEvent
from core.ports.personal_data import ERASED
from core.ports.staff import StaffRole
from core.ports.tickets import TicketEventKind, TicketStatus
from core.support import tickets as support
from core.support.identity import CannotUndo, undo_merge
from promo import ledger
from promo.ledger import LedgerAccount
from tests.chat import Chat


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    return buffer.getvalue()


async def _ticket(store, person_id: int):
    async with store.transaction() as tx:
        return (await tx.tickets.of_person(person_id))[0]


async def _person(store, channel: str, account: str) -> int:
    async with store.transaction() as tx:
        found = await tx.people.find_by_account(channel, account)
    assert found is not None
    return found[1].id


async def test_a_person_describes_the_problem_attaches_a_photo_and_gets_the_number(telegram: Chat, store) -> None:
    await telegram.register()
    assert await telegram.send("/support") == ["support.describe"]
    assert await telegram.send("Не пришёл кешбэк за чек от 12 ноября") == ["support.photo"]
    said = await telegram.send_photo(_png())
    assert said == ["support.photo_added", "support.open"]
    ticket = await _ticket(store, await _person(store, "telegram", "1001"))
    assert telegram.param("ticket") == ticket.id and ticket.status is TicketStatus.NEW
    assert ticket.subject == "Не пришёл кешбэк за чек от 12 ноября" and ticket.channel == "telegram"
    async with store.transaction() as tx:
        events = await tx.tickets.events(ticket.id)
        photo = await tx.photos.get(ticket.person_id, events[1].photo_sha256)
    assert [e.kind for e in events] == [TicketEventKind.PERSON, TicketEventKind.PERSON]
    assert photo == _png()


async def test_support_needs_no_registration_and_the_word_works_from_the_middle_of_anything(telegram: Chat) -> None:
    await telegram.send("/start")
    assert await telegram.send("Поддержка") == ["support.describe"]
    assert await telegram.send("Не могу зарегистрироваться") == ["support.photo"]
    assert await telegram.press("support:skip") == ["support.open"]


async def test_later_words_join_the_open_ticket_even_after_other_commands(telegram: Chat, store) -> None:
    await telegram.register()
    await telegram.send("/support")
    await telegram.send("Вопрос про баланс")
    await telegram.press("support:skip")
    assert await telegram.send("И ещё: чек из Пятёрочки") == ["support.added"]
    await telegram.send("/me")  # another scenario runs meanwhile
    assert await telegram.send("Жду ответа") == ["support.added"]  # idle again: the words still join the ticket
    ticket = await _ticket(store, await _person(store, "telegram", "1001"))
    async with store.transaction() as tx:
        bodies = [e.body for e in await tx.tickets.events(ticket.id)]
    assert bodies == ["Вопрос про баланс", "И ещё: чек из Пятёрочки", "Жду ответа"]


async def test_staff_answer_goes_to_the_tickets_channel_and_the_person_can_close_and_rate(
        telegram: Chat, store, clock) -> None:
    await telegram.register()
    await telegram.send("/support")
    await telegram.send("Где мой кешбэк?")
    await telegram.press("support:skip")
    person = await _person(store, "telegram", "1001")
    ticket = await _ticket(store, person)
    async with store.transaction() as tx:
        staff = await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, "x", clock())
        answer = await support.reply(tx, await tx.tickets.get(ticket.id), staff.id, "<b>Проверим</b> за день", clock())
    assert (answer.message.channel, answer.message.account_id) == ("telegram", "1001")
    async with store.transaction() as tx:
        sent = await tx.messages.entries(person, template="support.reply")
        assert (await tx.tickets.get(ticket.id)).status is TicketStatus.WAITING
    assert sent[0].params == {"ticket": ticket.id, "text": "<b>Проверим</b> за день"}
    await telegram.send("Спасибо, жду")
    assert (await _ticket(store, person)).status is TicketStatus.OPEN
    assert await telegram.press("support:close") == ["support.rate"]
    assert await telegram.press(f"support:rate:{ticket.id}:5") == ["support.thanks"]
    rated = await _ticket(store, person)
    assert rated.status is TicketStatus.CLOSED and rated.rating == 5


async def test_staff_closing_asks_for_a_rating_that_works_from_idle(telegram: Chat, store, clock) -> None:
    await telegram.register()
    await telegram.send("/support")
    await telegram.send("Вопрос")
    await telegram.press("support:skip")
    await telegram.send("/me")  # something else meanwhile (/cancel would close the ticket itself)
    person = await _person(store, "telegram", "1001")
    ticket = await _ticket(store, person)
    async with store.transaction() as tx:
        staff = await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, "x", clock())
        assert await support.set_status(tx, await tx.tickets.get(ticket.id), TicketStatus.CLOSED, clock(),
                                        staff_id=staff.id)
        told = await tx.messages.entries(person, template="support.closed_by_staff")
    assert told and told[0].account_id == "1001"
    assert await telegram.press(f"support:rate:{ticket.id}:4") == ["support.thanks"]
    assert (await _ticket(store, person)).rating == 4
    # a rating button naming no ticket of theirs starts no new one (it used to ask to describe a problem)
    assert await telegram.press(f"support:rate:{ticket.id + 100}:1") == ["support.ticket_unknown"]


async def test_one_persons_tickets_are_one_list_across_channels(engine: Engine, store) -> None:
    telegram, vk = Chat.telegram(engine, "1001"), Chat.vk(engine, "2001")
    await telegram.register()
    await telegram.send("/link")
    code = str(telegram.param("code"))
    await vk.send(f"/link {code}")
    await telegram.press(f"/link_approve {vk.param('attempt')}")
    for chat, text in ((telegram, "Из телеграма"), (vk, "Из ВК")):
        await chat.send("/support")
        await chat.send(text)
        await chat.press("support:skip")
        await chat.press("support:close")
        await chat.press("support:norate")
    async with store.transaction() as tx:
        person = await tx.people.find_by_account("telegram", "1001")
        tickets = await tx.tickets.of_person(person[1].id)
    assert [(t.subject, t.channel) for t in tickets] == [("Из ВК", "vk"), ("Из телеграма", "telegram")]


async def test_forget_erases_after_confirmation_and_the_bot_no_longer_knows_the_person(
        telegram: Chat, store) -> None:
    await telegram.register(name="Анна Петрова")
    person = await _person(store, "telegram", "1001")
    assert await telegram.send("/forget") == ["forget.confirm"]
    assert await telegram.press("forget:no") == ["forget.kept"]
    await telegram.send("/forget")
    assert await telegram.press("forget:yes") == ["forget.done"]
    assert telegram.last[0].account_id == "1001" and "Анна" not in str(telegram.last[0].params)
    async with store.transaction() as tx:
        erased = await tx.people.get(person)
        assert (erased.name, erased.phone, erased.email) == (None, None, None)
        assert all(m.body == ERASED for m in await tx.messages.inbound(person))
        assert await tx.people.find_by_account("telegram", "1001") is None
    assert await telegram.send("/start") == ["registration.consent"]  # a stranger now
    assert await _person(store, "telegram", "1001") != person


async def test_undoing_a_merge_gives_each_person_back_their_rows_and_money_and_tells_both(
        engine: Engine, store, clock) -> None:
    telegram, vk = Chat.telegram(engine, "1001"), Chat.vk(engine, "2001")
    await telegram.register(email=None)
    await vk.register(name="Борис Иванов", phone="+79990001122", email="boris@example.ru")
    first, second = await _person(store, "telegram", "1001"), await _person(store, "vk", "2001")
    async with store.transaction() as tx:
        await tx.ledger.post(ledger.accrual(first, 1_000), clock())
        await tx.ledger.post(ledger.accrual(second, 250), clock())
        before = (await tx.ledger.balances(first), await tx.ledger.balances(second))
    await telegram.send("/link")
    await vk.send(f"/link {telegram.param('code')}")
    await vk.press("merge:yes")
    await telegram.press(f"/link_approve {vk.param('attempt')}")
    async with store.transaction() as tx:
        assert (await tx.ledger.balances(first))[LedgerAccount.PENDING] == 1_250
        assert (await tx.people.get(first)).email == "boris@example.ru"  # the survivor had none: it took his
        assert (await tx.people.get(second)).phone is None
        merge = (await tx.people.merges(first))[-1]
        undone = await undo_merge(tx, first, merge.id, None, clock())
    assert undone.rows >= 3
    async with store.transaction() as tx:
        assert (await tx.ledger.balances(first), await tx.ledger.balances(second)) == before
        survivor, absorbed = await tx.people.get(first), await tx.people.get(second)
        assert absorbed.merged_into_id is None
        assert (absorbed.name, absorbed.phone, absorbed.email) == ("Борис Иванов", "+79990001122", "boris@example.ru")
        assert (survivor.name, survivor.phone, survivor.email) == ("Анна Петрова", "+79123456789", None)
        assert [m.person_id for m in await tx.messages.entries(template="support.unmerged")] == [first, second]
    assert await vk.send("/me") == ["profile.card"] and vk.param("channels") == "VK"
    try:
        async with store.transaction() as tx:
            await undo_merge(tx, first, merge.id, None, clock())
    except CannotUndo as e:
        assert e.reason == "already_undone"
    else:
        raise AssertionError("a merge was undone twice")


async def test_undoing_a_merge_gives_back_a_verified_number_and_keeps_what_the_survivor_changed_since(
        engine: Engine, store, clock) -> None:
    vk, telegram = Chat.vk(engine, "2001"), Chat.telegram(engine, "1001")
    await vk.register(name="Анна Петрова", phone="+79990001122", email=None)
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Борис Иванов")
    await telegram.share_contact("+79123456789")  # proved by Telegram
    await telegram.send("boris@example.ru")
    owner, requester = await _person(store, "vk", "2001"), await _person(store, "telegram", "1001")
    await vk.send("/link")
    await telegram.send(f"/link {vk.param('code')}")
    await telegram.press("merge:yes")
    await vk.press(f"/link_approve {telegram.param('attempt')}")
    async with store.transaction() as tx:
        survivor = await tx.people.get(owner)
        assert (survivor.phone, survivor.email) == ("+79990001122", "boris@example.ru")
        assert (await tx.people.get(requester)).merged_into_id == owner
        survivor.email = "anna@example.ru"  # her own address, given after the merge
        await tx.people.save(survivor)
        merge = (await tx.people.merges(owner))[-1]
        await undo_merge(tx, owner, merge.id, None, clock())
    async with store.transaction() as tx:
        survivor, absorbed = await tx.people.get(owner), await tx.people.get(requester)
    assert (absorbed.phone, absorbed.phone_verified, absorbed.email) == ("+79123456789", True, "boris@example.ru")
    assert (survivor.phone, survivor.email) == ("+79990001122", "anna@example.ru")
    assert await telegram.send("/me") == ["profile.card"]
    assert (telegram.param("phone"), telegram.param("email")) == ("+7 912 345-67-89", "boris@example.ru")


async def test_a_photo_before_any_words_is_kept_until_the_words_come(telegram: Chat, store) -> None:
    await telegram.register()
    await telegram.send("/support")
    said = await telegram.deliver(InboundEvent(telegram.channel, "1001", EventKind.PHOTO, photo=_png(),
                                               update_id="photo-first"))
    assert said == ["support.photo_kept", "support.describe"]  # it used to be refused and thrown away
    assert await telegram.send("Вот скриншот ошибки") == ["support.photo_added", "support.open"]
    ticket = await _ticket(store, await _person(store, "telegram", "1001"))
    async with store.transaction() as tx:
        (opened,) = await tx.tickets.events(ticket.id)
    assert (opened.body, opened.photo_sha256 is not None) == ("Вот скриншот ошибки", True)


async def test_a_photo_with_a_caption_opens_the_ticket_with_both(telegram: Chat, store) -> None:
    await telegram.register()
    await telegram.send("/support")
    said = await telegram.deliver(InboundEvent(telegram.channel, "1001", EventKind.PHOTO, photo=_png(),
                                               text="Кешбэк не пришёл, вот чек", update_id="captioned"))
    assert said == ["support.photo_added", "support.open"]
    ticket = await _ticket(store, await _person(store, "telegram", "1001"))
    assert ticket.subject == "Кешбэк не пришёл, вот чек"
    async with store.transaction() as tx:
        (opened,) = await tx.tickets.events(ticket.id)
        assert await tx.photos.get(ticket.person_id, opened.photo_sha256) == _png()
    assert opened.body == "Кешбэк не пришёл, вот чек"


async def test_a_photo_that_could_not_be_read_still_asks_for_words(telegram: Chat) -> None:
    await telegram.register()
    await telegram.send("/support")
    said = await telegram.deliver(InboundEvent(telegram.channel, "1001", EventKind.PHOTO,
                                               attachment_error="download_failed", update_id="broken"))
    assert said == ["support.describe_in_words", "support.describe"]
