from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

import pytest

from bots.email import EMAIL
from bots.sms import SMS
from bots.telegram import PROFILE as TELEGRAM
from bots.vk import PROFILE as VK
from core.channels import ChannelName, ChannelProfile, Identity, TextFormat
from core.errors import TemplateError
from core.templates import Templates, texts_of

TEMPLATES = Templates.load()
EMAIL_PROFILE = ChannelProfile(EMAIL, "E-mail", TextFormat.LETTER, max_text=100_000, max_label=60,
                               identity=Identity.MAILBOX)
SMS_PROFILE = ChannelProfile(SMS, "SMS", TextFormat.BRIEF, max_text=480, buttons=False, identity=Identity.PHONE)
WEB_PROFILE = ChannelProfile(ChannelName("web"), "Web", TextFormat.HTML, max_text=10_000, max_label=60)
PROFILES = [TELEGRAM, VK, EMAIL_PROFILE, SMS_PROFILE, WEB_PROFILE]


def _params_for(key: str) -> dict[str, str]:
    texts = texts_of(TEMPLATES.entries[key])  # every variant's text too
    texts += [b[k] for row in TEMPLATES.button_specs(key) for b in row for k in b if isinstance(b[k], str)]
    names = {field for text in texts for _, field, _, _ in string.Formatter().parse(text) if field}
    return {name: f"<{name}&>" for name in names} | {"rules_url": "https://promo.example/rules?a=1&b=2"}


def _emptied(entry: Mapping[str, Any]) -> set[str]:
    """The parameters whose emptiness picks another text of the entry (``if_empty``, at any depth)."""
    found = set()
    for name, value in entry.items():
        if isinstance(value, Mapping):
            found |= _emptied(value)
            if name == "if_empty":
                found.add(str(value["param"]))
    return found


VARIANTS = [(key, param) for key, entry in sorted(TEMPLATES.entries.items()) for param in sorted(_emptied(entry))]


@pytest.mark.parametrize(("key", "param"), VARIANTS)
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_text_chosen_by_an_empty_parameter_renders_and_does_not_name_it(key: str, param: str,
                                                                             profile: ChannelProfile,
                                                                             locale: str) -> None:
    """The variant a missing draw, pending sum or channel picks renders everywhere, never mentions the parameter
    it was picked for, and never tells a channel without a contact button to press one."""
    params = _params_for(key) | {param: ""}
    rendered = TEMPLATES.render(key, profile, locale, params)
    assert rendered.text.strip() and len(rendered.text) <= profile.max_text
    assert f"<{param}&>" not in rendered.text and "&lt;" + param not in rendered.text
    if not profile.contact_button:
        assert "кнопк" not in rendered.text.lower() and "button" not in rendered.text.lower(), rendered.text


def test_a_campaign_without_a_draw_is_never_said_to_give_chances() -> None:
    keys = [key for key, param in VARIANTS if param == "draw"]
    assert {"receipt.confirm", "receipt.accepted_moderation", "receipt.accepted_verifying", "receipt.confirm_products",
            "receipt.accepted_products", "receipt.verified_products"} <= set(keys)
    for key in keys:
        for locale in ("ru", "en"):
            with_draw = TEMPLATES.render(key, TELEGRAM, locale, _params_for(key) | {"draw": "1"}).text.lower()
            without = TEMPLATES.render(key, TELEGRAM, locale, _params_for(key) | {"draw": ""}).text.lower()
            assert "шанс" in with_draw or "chance" in with_draw, key
            assert not any(word in without for word in ("шанс", "розыгрыш", "chance", "draw")), (key, without)


@pytest.mark.parametrize("key", TEMPLATES.keys())
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_template_renders_for_every_channel_and_locale(key: str, profile: ChannelProfile, locale: str) -> None:
    rendered = TEMPLATES.render(key, profile, locale, _params_for(key))
    assert rendered.text.strip() and len(rendered.text) <= profile.max_text
    if profile.text_format is TextFormat.HTML:
        assert "<name&>" not in rendered.text  # parameters are escaped in HTML
    if profile is SMS_PROFILE:
        assert not rendered.buttons and "\n" not in rendered.text
    if profile is EMAIL_PROFILE:
        assert rendered.subject and rendered.html_body.startswith("<!doctype html>")
    if not profile.contact_button:
        assert not rendered.asks_for_contact


@pytest.mark.parametrize("key", TEMPLATES.keys())
@pytest.mark.parametrize("profile", [TELEGRAM, VK], ids=lambda p: p.name)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_label_fits_its_channel_whole_as_written(key: str, profile: ChannelProfile, locale: str) -> None:
    """No label is ever cut to fit, and none has another wording for a narrower channel."""
    for row in TEMPLATES.button_specs(key):
        for spec in row:
            assert f"short_{locale}" not in spec, (key, spec[locale])
            assert len(spec[locale]) <= profile.max_label, (key, spec[locale])


CONTACT_KEYS = [key for key in sorted(TEMPLATES.entries)
                if any(spec.get("contact") for row in TEMPLATES.button_specs(key) for spec in row)]


@pytest.mark.parametrize("key", CONTACT_KEYS)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_channels_without_a_contact_button_are_never_told_to_press_one(key: str, locale: str) -> None:
    rendered = TEMPLATES.render(key, VK, locale, _params_for(key))
    assert "кнопк" not in rendered.text.lower() and "button" not in rendered.text.lower(), key


def test_vk_phone_question_does_not_mention_the_button_it_cannot_show() -> None:
    assert "кнопк" in TEMPLATES.render("registration.ask_phone", TELEGRAM, "ru", {}).text
    vk = TEMPLATES.render("registration.ask_phone", VK, "ru", {})
    assert "кнопк" not in vk.text and not vk.buttons


def test_telegram_gets_html_with_escaped_parameters() -> None:
    rendered = TEMPLATES.render("registration.done", TELEGRAM, "ru", {"name": "<script>", "shown_phone": "+7"})
    assert "<b>&lt;script&gt;</b>" in rendered.text and rendered.is_html


def test_vk_gets_plain_text_with_the_link_spelled_out() -> None:
    rendered = TEMPLATES.render("registration.consent", VK, "ru", {"rules_url": "https://r.example/x"})
    assert "<a" not in rendered.text and "(https://r.example/x)" in rendered.text
    assert rendered.buttons[0][0].payload == "consent:yes"
    assert rendered.buttons[1][0].kind == "url" and rendered.buttons[1][0].url == "https://r.example/x"
    assert rendered.buttons[2][0].label == "Я уже участвую"  # the words Telegram shows too


def test_plain_text_keeps_a_persons_angle_brackets() -> None:
    rendered = TEMPLATES.render("registration.done", VK, "ru", {"name": "<Аня>", "shown_phone": "+7"})
    assert "<Аня>" in rendered.text


def test_email_has_subject_html_and_text() -> None:
    rendered = TEMPLATES.render("registration.done", EMAIL_PROFILE, "en", {"name": "Ann & Co", "shown_phone": "+7"})
    assert rendered.subject == "Promotion registration"
    assert "Ann &amp; Co" in rendered.html_body and "Ann & Co" in rendered.text


def test_sms_uses_the_short_variant() -> None:
    rendered = TEMPLATES.render("registration.done", SMS_PROFILE, "ru", {"name": "Аня", "shown_phone": "+7"})
    assert rendered.text == "Аня, вы зарегистрированы в промоакции. Присылайте чеки в бот."


def test_buttons_are_declared_once_and_shaped_per_locale() -> None:
    ru = TEMPLATES.render("registration.ask_phone", TELEGRAM, "ru", {})
    en = TEMPLATES.render("registration.ask_phone", TELEGRAM, "en", {})
    assert ru.asks_for_contact and en.asks_for_contact
    assert ru.buttons[0][0].label != en.buttons[0][0].label


def test_a_button_made_of_an_empty_parameter_is_left_out() -> None:
    offered = TEMPLATES.render("registration.ask_name", TELEGRAM, "ru", {"given_name": "Анна"})
    assert offered.buttons[0][0].label == "Анна" and offered.buttons[0][0].payload == "name:given"
    assert TEMPLATES.render("registration.ask_name", TELEGRAM, "ru", {"given_name": ""}).buttons == ()


def test_a_conditional_button_shows_only_when_its_parameter_is_set() -> None:
    params = {"available": "0,00", "pending": "0,00", "requested": "0,00", "paid": "0,00"}
    empty = TEMPLATES.render("cashback.balance", TELEGRAM, "ru", {**params, "can_withdraw": ""})
    full = TEMPLATES.render("cashback.balance", TELEGRAM, "ru", {**params, "can_withdraw": "1"})
    assert [b.payload for b in empty.buttons[0]] == ["/receipt"]
    assert [b.payload for b in full.buttons[0]] == ["/payout", "/receipt"]


@pytest.mark.parametrize("profile", [TELEGRAM, VK], ids=lambda p: p.name)
def test_a_huge_parameter_is_quoted_in_part_and_the_message_fits(profile: ChannelProfile) -> None:
    command = "/" + "x" * 4080
    rendered = TEMPLATES.render("common.unknown_command", profile, "ru", {"command": command})
    assert len(rendered.text) <= profile.max_text and "/xxxx" in rendered.text and "…" in rendered.text
    assert "/help" in rendered.text  # the template's own words survive


def test_unknown_locale_falls_back_to_russian() -> None:
    assert TEMPLATES.render("common.unexpected", VK, "de", {}).text.startswith("Не понял")


def test_missing_parameter_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="shown_phone"):
        TEMPLATES.render("registration.done", VK, "ru", {"name": "x"})


def test_unknown_key_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        TEMPLATES.render("no.such.key", VK, "ru", {})


def test_a_key_declared_in_two_files_is_refused(tmp_path) -> None:
    (tmp_path / "a.toml").write_text('[x.y]\nru = "a"\nen = "a"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[x.y]\nru = "b"\nen = "b"\n', encoding="utf-8")
    with pytest.raises(TemplateError, match="declared twice"):
        Templates.load(tmp_path)
