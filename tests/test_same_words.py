"""A button says the same words on every channel (issue 17, point 11): one template, one label.

A label with another wording for narrow channels made the consent button read «Я уже зарегистрирован в другом
мессенджере» in Telegram and «Я уже участвую» in VK, and WhatsApp cut «📱 Отправить мой номер» short. Every
label as written must come out whole, word for word, on each channel the registry knows that shows the button.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

import pytest

from bots.registry import CHANNELS
from core.channels import ChannelProfile
from core.templates import Templates

TEMPLATES = Templates.load()
SHOWING = [plugin.profile for plugin in CHANNELS if plugin.profile.buttons]
KEYS = [key for key in sorted(TEMPLATES.entries) if TEMPLATES.button_specs(key)]


def _texts(node: object) -> list[str]:
    """Every string of an entry, its variants' (nested tables) and buttons' too."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, Mapping):
        return [text for value in node.values() for text in _texts(value)]
    if isinstance(node, list):
        return [text for value in node for text in _texts(value)]
    return []


def _params(key: str) -> dict[str, str]:
    texts = _texts(TEMPLATES.entries[key]) + _texts(TEMPLATES.button_specs(key))
    return {field: "x" for text in texts for _, field, _, _ in string.Formatter().parse(text) if field}


def _does(kind: str, target: str) -> str:
    return "contact" if kind == "contact" else f"{kind}:{target}"


def _written(key: str, locale: str) -> dict[str, str]:
    """The labels of ``key`` as written (not those made from data), by what their button does."""
    params, labels = _params(key), {}
    for row in TEMPLATES.button_specs(key):
        for spec in row:
            if "{" in spec[locale] or "each" in spec:
                continue
            if spec.get("contact"):
                labels["contact"] = spec[locale]
            elif "app" in spec:
                labels[_does("app", str(spec["app"]))] = spec[locale]
            elif "url" in spec:
                labels[_does("url", spec["url"].format(**params))] = spec[locale]
            else:
                labels[_does("callback", spec["payload"].format(**params))] = spec[locale]
    return labels


def _shown(key: str, profile: ChannelProfile, locale: str) -> dict[str, str]:
    rendered = TEMPLATES.render(key, profile, locale, _params(key))
    return {_does(b.kind, b.url if b.kind == "url" else b.payload): b.label for row in rendered.buttons for b in row}


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_channel_shows_a_button_in_the_words_written(key: str, locale: str) -> None:
    written = _written(key, locale)
    for profile in SHOWING:
        for does, label in _shown(key, profile, locale).items():
            if does in written:
                assert label == written[does], (key, profile.name, label, written[does])


def test_the_consent_button_reads_the_same_on_every_channel() -> None:
    labels = {p.name: _shown("registration.consent", p, "ru")["callback:/link"] for p in SHOWING}
    assert set(labels.values()) == {"Я уже участвую"}, labels
