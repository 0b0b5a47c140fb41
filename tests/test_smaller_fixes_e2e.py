"""The smaller points of issue 17 (section 4), through the real aiogram and vkbottle bots over HTTP.

A limit already reached is said before a receipt is typed in, with the time's zone; ``/channel`` says who
chooses the way it is, and names the channel chosen; ``/help`` names every command a person can use; a photo
is called "another receipt" only once read; and after registering, the receipt sent before is checked
without first asking for a photo.
"""

from __future__ import annotations

import pytest

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.scenarios import catalog
from core.templates import Templates
from tests.images import receipt_photo
from tests.platform import Launch, link_code_in
from tests.test_journey_e2e import PHONE, TG_USER, VK_USER, TgUser, VkUser, fiscal, tg_buttons

# commands a person is never asked to type: buttons send them (/ack, /link_approve…), or they are another's
# name for one that is listed (/check, /profile), or only a channel that has them offers them (/chat…)
NOT_IN_HELP = {"/start", "/help", "/ack", "/link_approve", "/link_refuse", "/check", "/profile", "/prize", "/chat",
               "/chat_login", "/chat_email"}



@pytest.fixture
def tg(emulators: tuple[TelegramEmulator, VkEmulator]) -> TgUser:
    return TgUser(emulators[0], TG_USER)


@pytest.fixture
def vk(emulators: tuple[TelegramEmulator, VkEmulator]) -> VkUser:
    return VkUser(emulators[1], VK_USER)


# 12. a limit reached, before five questions; times with their zone -------------------------------------


async def test_typing_a_receipt_in_says_the_limit_reached_before_the_first_question(launch: Launch,
                                                                                   tg: TgUser) -> None:
    await launch(campaign_receipts_per_hour=1)
    await tg.register()
    await tg.says(fiscal(48213))
    (accepted,) = await tg.presses("receipt:yes")
    assert "Чек принят" in accepted.text
    (ask,) = await tg.says("/receipt")
    assert any(b["callback_data"] == "receipt:manual" for b in tg_buttons(ask))
    (limit,) = await tg.presses("receipt:manual")
    assert "не больше 1 чеков" in limit.text and "Дата и время" not in limit.text, limit.text
    assert " МСК" in limit.text, limit.text  # whose 18:42 it is
    (menu_answer,) = await tg.says("баланс")  # the manual chain is not waiting for a date
    assert "Ваш кешбэк" in menu_answer.text


# 13. /channel ------------------------------------------------------------------------------------------


async def test_channel_says_we_choose_and_names_the_channel_chosen(launch: Launch, tg: TgUser, vk: VkUser) -> None:
    await launch()
    await tg.register()
    (issued,) = await tg.says("/link")
    asked_before = len(tg.messages)
    await vk.says(f"/link {link_code_in(issued.text)}")
    asked = (await tg.api.wait_for_messages(tg.id, asked_before + 1))[-1]
    await tg.presses(tg_buttons(asked)[0]["callback_data"])  # "Да, это я"

    (choose,) = await tg.says("/channel")
    assert "выбираем мы" in choose.text and "выбираете вы" not in choose.text, choose.text
    (chosen,) = await tg.presses("channel:vk")
    assert "через VK" in chosen.text and "сюда" not in chosen.text, chosen.text
    (again,) = await tg.says("/channel")
    assert "Сейчас: <b>VK</b>" in again.text, again.text


# 14. /help, "another receipt", after registration -----------------------------------------------------


def test_help_names_every_command_a_person_can_type() -> None:
    commands = {c for scenario in catalog() for c in scenario.commands} - NOT_IN_HELP
    assert {"/draws", "/channel", "/forget", "/campaigns", "/phone", "/email"} <= commands
    help_entry = Templates.load().entries["common.help"]
    for locale in ("ru", "en"):
        missing = {c for c in commands if f"{c} —" not in help_entry[locale]}
        assert not missing, (locale, sorted(missing))
        without_email = help_entry["if_empty"][locale]  # where e-mail does not run
        assert {c for c in commands - {"/email"} if f"{c} —" not in without_email} == set()
        assert "/email" not in without_email


async def test_help_in_the_bot_lists_the_commands_it_missed(launch: Launch, tg: TgUser) -> None:
    await launch()
    await tg.register()
    (shown, *_) = await tg.says("/help")
    for command in ("/draws", "/channel", "/forget", "/campaigns", "/phone"):
        assert f"{command} —" in shown.text, (command, shown.text)
    assert "/email" not in shown.text and "SMS" not in shown.text  # neither e-mail nor SMS runs here: not offered


async def test_a_photo_is_called_another_receipt_only_once_it_is_read(launch: Launch, tg: TgUser) -> None:
    await launch()
    await tg.register()
    (confirm,) = await tg.says(fiscal(48213))
    assert "Всё верно?" in confirm.text
    no_qr, asked_again = await tg.sends_photo(receipt_photo(), replies=2)  # a receipt-like photo with no code
    assert "ещё один чек" not in no_qr.text and "QR-код" in no_qr.text, no_qr.text
    assert "Всё верно?" in asked_again.text and "48213" in asked_again.text
    (another,) = await tg.sends_photo(receipt_photo(fiscal(48214, sign=1964503817)))
    assert "ещё один чек" in another.text  # a receipt it is


async def test_after_registering_the_kept_receipt_is_checked_without_asking_for_a_photo(launch: Launch,
                                                                                      tg: TgUser) -> None:
    await launch()
    await tg.says(fiscal(48213), replies=2)  # before registering: kept, then the consent asked for
    await tg.presses("consent:yes")
    await tg.says("Анна Петрова")
    await tg.shares(PHONE)
    done, confirm = await tg.presses("email:skip", replies=2)
    assert "вы зарегистрированы" in done.text and "пришлите фото" not in done.text.lower(), done.text
    assert "проверю чек" in done.text, done.text
    assert "Всё верно?" in confirm.text and "48213" in confirm.text

    plain = TgUser(tg.api, TG_USER + 5)
    assert "пришлите фото" in (await plain.register(phone="+79123450000")).text.lower()  # nothing kept: asked
