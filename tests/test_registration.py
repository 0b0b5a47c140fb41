from __future__ import annotations

import pytest

from core.engine import Engine
from core.scenarios import catalog, core_scenarios
from tests.chat import Chat
from tests.conftest import services_for


async def test_first_message_starts_registration_with_consent(telegram: Chat) -> None:
    assert await telegram.send("привет") == ["registration.consent"]


async def test_registration_happy_path_stores_everything(telegram: Chat, store, settings) -> None:
    assert await telegram.send("/start") == ["registration.consent"]
    assert await telegram.press("consent:yes") == ["registration.ask_name"]
    assert await telegram.send("  Анна   Петрова ") == ["registration.ask_phone"]
    assert await telegram.send("8 (912) 345-67-89") == ["registration.ask_email"]
    assert await telegram.send("Anna@Example.RU") == ["registration.done"]
    assert telegram.param("phone") == "+79123456789"
    async with store.transaction() as tx:
        person = await tx.people.get(telegram.last[0].person_id)
        (consent,) = await tx.people.consents_of(person.id)
    assert (person.name, person.phone, person.email) == ("Анна Петрова", "+79123456789", "Anna@example.ru")
    assert person.is_registered and not person.phone_verified
    assert consent.text_version == settings.consent_version and consent.accepted_at is not None


async def test_typed_yes_is_consent(telegram: Chat) -> None:
    await telegram.send("/start")
    assert await telegram.send("Согласен") == ["registration.ask_name"]


async def test_declined_consent_is_asked_again_and_nothing_stored(telegram: Chat, store) -> None:
    await telegram.send("/start")
    assert await telegram.press("consent:no") == ["registration.consent_required", "registration.consent"]
    assert await telegram.send("Анна") == ["common.unexpected", "registration.consent"]
    async with store.transaction() as tx:
        assert await tx.people.consents_of(telegram.last[0].person_id) == []


@pytest.mark.parametrize("bad_name", ["12345", "a" * 65, "!!!", "Анна2"])
async def test_bad_name_is_refused_with_reprompt(telegram: Chat, bad_name: str) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    assert await telegram.send(bad_name) == ["registration.bad_name", "registration.ask_name"]


@pytest.mark.parametrize("bad_phone", ["12", "телефон", "+7 000 000 00 00", "+1 555"])
async def test_bad_phone_is_refused_with_reprompt(telegram: Chat, bad_phone: str) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    assert await telegram.send(bad_phone) == ["registration.bad_phone", "registration.ask_phone"]


async def test_shared_own_contact_is_a_verified_phone(telegram: Chat, store) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    assert await telegram.share_contact("79123456789") == ["registration.ask_email"]
    assert await telegram.press("email:skip") == ["registration.done"]
    async with store.transaction() as tx:
        person = await tx.people.get(telegram.last[0].person_id)
    assert person.phone == "+79123456789" and person.phone_verified and person.email is None


async def test_someone_elses_contact_is_refused(telegram: Chat) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    assert await telegram.share_contact("+79123456789", own=False) == [
        "registration.not_own_contact", "registration.ask_phone"]


@pytest.mark.parametrize("bad_email", ["anna@", "anna", "@example.ru", "anna@@example.ru"])
async def test_bad_email_is_refused_with_reprompt(telegram: Chat, bad_email: str) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    await telegram.send("+79123456789")
    assert await telegram.send(bad_email) == ["registration.bad_email", "registration.ask_email"]


async def test_typed_skip_leaves_email_empty(telegram: Chat) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    await telegram.send("Анна")
    await telegram.send("+79123456789")
    assert await telegram.send("пропустить") == ["registration.done"]


async def test_a_photo_during_registration_is_kept_and_the_question_repeated(telegram: Chat) -> None:
    await telegram.send("/start")
    await telegram.press("consent:yes")
    assert await telegram.send_photo(b"\x89PNG...") == ["registration.receipt_kept", "registration.ask_name"]


STEPS_TO = {
    "consent": [],
    "name": [("press", "consent:yes")],
    "phone": [("press", "consent:yes"), ("send", "Анна")],
    "email": [("press", "consent:yes"), ("send", "Анна"), ("send", "+79123456789")],
}
PROMPT = {"consent": "registration.consent", "name": "registration.ask_name",
          "phone": "registration.ask_phone", "email": "registration.ask_email"}


async def _walk_to(chat: Chat, state: str) -> None:
    await chat.send("/start")
    for how, value in STEPS_TO[state]:
        await getattr(chat, how)(value)


@pytest.mark.parametrize("state", list(STEPS_TO))
async def test_help_in_every_state_answers_and_repeats_the_question(telegram: Chat, state: str) -> None:
    await _walk_to(telegram, state)
    assert await telegram.send("/help") == ["common.help_guest", PROMPT[state]]


@pytest.mark.parametrize("state", ["consent", "name", "phone"])
async def test_cancel_before_the_last_step_stops_registration_and_keeps_nothing(telegram: Chat, store,
                                                                               state: str) -> None:
    await _walk_to(telegram, state)
    assert await telegram.send("/cancel") == ["registration.cancelled"]
    assert await telegram.send("/cancel") == ["registration.cancelled"]
    async with store.transaction() as tx:
        person = await tx.people.get(telegram.last[0].person_id)
    assert (person.name, person.phone, person.registered_at) == (None, None, None)
    assert await telegram.send("/start") == ["registration.consent"]


@pytest.mark.parametrize("cancel", ["/cancel", "отмена"])
async def test_cancel_at_the_optional_email_step_completes_registration_without_it(telegram: Chat, store,
                                                                                  cancel: str) -> None:
    await _walk_to(telegram, "email")
    assert await telegram.send(cancel) == ["registration.done"]
    async with store.transaction() as tx:
        person = await tx.people.get(telegram.last[0].person_id)
    assert person.is_registered and person.name == "Анна" and person.email is None
    assert await telegram.send("/start") == ["common.welcome_back"]


@pytest.mark.parametrize("state", list(STEPS_TO))
async def test_start_in_every_state_restarts_registration(telegram: Chat, state: str) -> None:
    await _walk_to(telegram, state)
    assert await telegram.send("/start") == ["registration.consent"]


@pytest.mark.parametrize("state", list(STEPS_TO))
async def test_unknown_command_in_every_state_is_answered(telegram: Chat, state: str) -> None:
    await _walk_to(telegram, state)
    assert await telegram.send("/frobnicate") == ["common.unknown_command", PROMPT[state]]


async def test_registered_person_is_welcomed_back(telegram: Chat) -> None:
    await telegram.register()
    assert await telegram.send("/start") == ["common.welcome_back"]
    assert await telegram.send("/help") == ["common.help"]
    assert await telegram.send("/cancel") == ["common.nothing_to_cancel"]
    assert await telegram.send("что-нибудь") == ["common.menu"]


async def test_english_speaker_gets_english(engine: Engine) -> None:
    chat = Chat.telegram(engine, "77", locale_hint="en-GB")
    await chat.send("/start")
    assert chat.last[0].locale == "en"


async def test_deep_link_payload_is_kept_as_source(telegram: Chat, store) -> None:
    await telegram.send("/start pack_sochi_2026")
    async with store.transaction() as tx:
        person = await tx.people.get(telegram.last[0].person_id)
    assert person.source == "pack_sochi_2026"


async def test_a_phone_registered_by_someone_else_is_refused(engine: Engine) -> None:
    await Chat.telegram(engine, "1").register(phone="+79123456789")
    other = Chat.vk(engine, "2")
    await other.send("/start")
    await other.press("consent:yes")
    await other.send("Пётр")
    assert await other.send("+7 912 345 67 89") == ["registration.phone_taken", "registration.ask_phone"]


async def test_same_verified_phone_joins_profiles_on_confirmation(engine: Engine, store) -> None:
    first = Chat.telegram(engine, "1")
    await first.send("/start")
    await first.press("consent:yes")
    await first.send("Анна")
    await first.share_contact("+79123456789")
    await first.press("email:skip")
    second = Chat.telegram(engine, "2")
    await second.send("/start")
    await second.press("consent:yes")
    await second.send("Анна")
    assert await second.share_contact("+79123456789") == ["registration.confirm_merge"]
    assert await second.press("merge:yes") == ["registration.merged", "link.done_elsewhere"]
    merged, notice = second.last
    assert merged.person_id == notice.person_id == first.last[0].person_id
    assert (merged.channel, merged.account_id) == ("telegram", "2") and notice.account_id == "1"
    assert await second.send("/me") == ["profile.card"]
    async with store.transaction() as tx:
        (merge,) = await tx.people.merges()
        absorbed = await tx.people.get(merge.absorbed_id)
    assert merge.survivor_id == first.last[0].person_id
    assert len(merge.moved["channel_accounts"]) == 1 and len(merge.moved["consents"]) == 1
    assert absorbed.merged_into_id == merge.survivor_id


async def test_declining_the_join_asks_for_another_number(engine: Engine) -> None:
    first = Chat.telegram(engine, "1")
    await first.send("/start")
    await first.press("consent:yes")
    await first.send("Анна")
    await first.share_contact("+79123456789")
    await first.press("email:skip")
    second = Chat.telegram(engine, "2")
    await second.send("/start")
    await second.press("consent:yes")
    await second.send("Анна")
    await second.share_contact("+79123456789")
    assert await second.press("merge:no") == ["registration.merge_declined", "registration.ask_phone"]


async def test_a_number_given_but_not_registered_is_nobodys(engine: Engine) -> None:
    first = Chat.telegram(engine, "1")
    await first.send("/start")
    await first.press("consent:yes")
    await first.send("Анна")
    await first.share_contact("+79123456789")  # and never finishes
    second = Chat.vk(engine, "2")
    assert (await second.register(phone="+79123456789", email=None))[-1] == "registration.done"
    assert await first.press("email:skip") == ["registration.phone_taken", "registration.ask_phone"]


async def test_a_verified_number_registered_meanwhile_offers_the_join_at_the_end(engine: Engine) -> None:
    first, second = Chat.telegram(engine, "1"), Chat.telegram(engine, "2")
    for chat in (first, second):
        await chat.send("/start")
        await chat.press("consent:yes")
        await chat.send("Анна")
        await chat.share_contact("+79123456789")
    assert await first.press("email:skip") == ["registration.done"]
    assert await second.press("email:skip") == ["registration.confirm_merge"]
    assert (await second.press("merge:yes"))[0] == "registration.merged"


async def test_restart_in_the_middle_resumes_where_the_person_was(store, settings, clock, photo_reader) -> None:
    def engine() -> Engine:
        return Engine(store, catalog(core_scenarios()), services_for(settings, photo_reader), settings, clock=clock)

    before = Chat.telegram(engine(), "5")
    await before.send("/start")
    await before.press("consent:yes")
    await before.send("Анна")
    after = Chat.telegram(engine(), "5")
    assert await after.send("+79123456789") == ["registration.ask_email"]


async def test_profile_is_shown_only_to_registered(telegram: Chat) -> None:
    assert await telegram.send("/me") == ["common.register_first", "registration.consent"]
    await telegram.register()
    assert await telegram.send("/me") == ["profile.card"]
    assert telegram.param("channels") == "Telegram"
    assert telegram.param("phone") == "+7 912 345-67-89"
