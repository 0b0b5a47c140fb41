from __future__ import annotations

import string

import pytest

from core.errors import TemplateError
from core.events import Channel
from core.templates import Templates

TEMPLATES = Templates.load()


def _params_for(key: str) -> dict[str, str]:
    entry = TEMPLATES.entries[key]
    texts = [v for k, v in entry.items() if isinstance(v, str)]
    texts += [b[k] for row in entry.get("buttons", ()) for b in row for k in b if isinstance(b[k], str)]
    names = {field for text in texts for _, field, _, _ in string.Formatter().parse(text) if field}
    return {name: f"<{name}&>" for name in names} | {"rules_url": "https://promo.example/rules?a=1&b=2"}


@pytest.mark.parametrize("key", TEMPLATES.keys())
@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_template_renders_for_every_channel_and_locale(key: str, channel: Channel, locale: str) -> None:
    rendered = TEMPLATES.render(key, channel, locale, _params_for(key))
    assert rendered.text.strip()
    if channel is Channel.TELEGRAM:
        assert "<name&>" not in rendered.text  # parameters are escaped in HTML
    if channel is Channel.SMS:
        assert not rendered.buttons and "\n" not in rendered.text
    if channel is Channel.EMAIL:
        assert rendered.subject and rendered.html_body.startswith("<!doctype html>")


def test_telegram_gets_html_with_escaped_parameters() -> None:
    rendered = TEMPLATES.render("registration.done", Channel.TELEGRAM, "ru", {"name": "<script>", "phone": "+7"})
    assert "<b>&lt;script&gt;</b>" in rendered.text and rendered.is_html


def test_vk_gets_plain_text_with_the_link_spelled_out() -> None:
    rendered = TEMPLATES.render("registration.consent", Channel.VK, "ru", {"rules_url": "https://r.example/x"})
    assert "<a" not in rendered.text and "(https://r.example/x)" in rendered.text
    assert rendered.buttons[0][0].payload == "consent:yes"
    assert rendered.buttons[1][0].kind == "url" and rendered.buttons[1][0].url == "https://r.example/x"


def test_plain_text_keeps_a_persons_angle_brackets() -> None:
    rendered = TEMPLATES.render("registration.done", Channel.VK, "ru", {"name": "<Аня>", "phone": "+7"})
    assert "<Аня>" in rendered.text


def test_email_has_subject_html_and_text() -> None:
    rendered = TEMPLATES.render("registration.done", Channel.EMAIL, "en", {"name": "Ann & Co", "phone": "+7"})
    assert rendered.subject == "Promotion registration"
    assert "Ann &amp; Co" in rendered.html_body and "Ann & Co" in rendered.text


def test_sms_uses_the_short_variant() -> None:
    rendered = TEMPLATES.render("registration.done", Channel.SMS, "ru", {"name": "Аня", "phone": "+7"})
    assert rendered.text == "Аня, вы зарегистрированы в промоакции. Присылайте чеки в бот."


def test_buttons_are_declared_once_and_shaped_per_locale() -> None:
    ru = TEMPLATES.render("registration.ask_phone", Channel.TELEGRAM, "ru", {})
    en = TEMPLATES.render("registration.ask_phone", Channel.TELEGRAM, "en", {})
    assert ru.asks_for_contact and en.asks_for_contact
    assert ru.buttons[0][0].label != en.buttons[0][0].label


def test_unknown_locale_falls_back_to_russian() -> None:
    assert TEMPLATES.render("common.unexpected", Channel.VK, "de", {}).text == "Сейчас я жду другое."


def test_missing_parameter_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="phone"):
        TEMPLATES.render("registration.done", Channel.VK, "ru", {"name": "x"})


def test_unknown_key_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        TEMPLATES.render("no.such.key", Channel.VK, "ru", {})
