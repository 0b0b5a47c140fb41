"""One template per message key (``templates.toml``), rendered for each channel.

Templates are written once in a small HTML subset (``<b>``, ``<i>``, ``<code>``,
``<a href>``) with ``{param}`` placeholders. Telegram and e-mail get HTML with
every parameter escaped; VK and SMS get plain text with links spelled out.
Buttons are declared once per template and shaped by each adapter.
"""

from __future__ import annotations

import html
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from core.errors import TemplateError
from core.events import Channel

CATALOGUE = Path(__file__).with_name("templates.toml")
IMAGES = Path(__file__).with_name("images")
HTML_CHANNELS = frozenset({Channel.TELEGRAM, Channel.WEB})
SMS_LIMIT = 480  # three concatenated SMS parts in Cyrillic is ~200; Latin ~480; keep it bounded

ButtonKind = Literal["callback", "url", "contact"]


@dataclass(frozen=True)
class Button:
    kind: ButtonKind
    label: str
    payload: str = ""
    url: str = ""


@dataclass(frozen=True)
class Rendered:
    text: str  # HTML for Telegram and web, plain text elsewhere
    buttons: tuple[tuple[Button, ...], ...] = ()
    is_html: bool = False
    subject: str = ""  # e-mail only
    html_body: str = ""  # e-mail only
    image: bytes | None = None  # a picture to send with the text (Telegram, VK)
    image_name: str = ""

    @property
    def asks_for_contact(self) -> bool:
        return any(b.kind == "contact" for row in self.buttons for b in row)


class _PlainText(HTMLParser):
    """Our template HTML -> plain text; a link keeps its address: ``rules (https://…)``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.href = dict(attrs).get("href")
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.href:
            self.parts.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_plain(markup: str) -> str:
    parser = _PlainText()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


class _Params(dict[str, Any]):
    def __init__(self, key: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.key = key

    def __missing__(self, name: str) -> Any:
        raise TemplateError(f"template {self.key!r} needs parameter {name!r}")


def _fill(key: str, text: str, params: Mapping[str, Any]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Params(key, params))
    except (ValueError, IndexError) as e:
        raise TemplateError(f"template {key!r} is malformed: {e}") from e


class Templates:
    def __init__(self, catalogue: Mapping[str, Any], default_locale: str = "ru") -> None:
        self.default_locale = default_locale
        self.entries: dict[str, Mapping[str, Any]] = {}
        self._images: dict[str, bytes] = {}
        self._flatten("", catalogue)

    @classmethod
    def load(cls, path: Path = CATALOGUE, default_locale: str = "ru") -> Templates:
        with path.open("rb") as f:
            return cls(tomllib.load(f), default_locale)

    def _flatten(self, prefix: str, node: Mapping[str, Any]) -> None:
        for name, value in node.items():
            if isinstance(value, Mapping):
                key = f"{prefix}{name}"
                if self.default_locale in value:
                    self.entries[key] = value
                else:
                    self._flatten(f"{key}.", value)

    def keys(self) -> list[str]:
        return sorted(self.entries)

    def render(self, key: str, channel: Channel, locale: str, params: Mapping[str, Any]) -> Rendered:
        entry = self.entries.get(key)
        if entry is None:
            raise TemplateError(f"no template {key!r}")
        lang = locale if locale in entry else self.default_locale
        markup = entry[lang].strip()
        escaped = {k: html.escape(str(v), quote=True) for k, v in params.items()}
        plain_params = {k: str(v) for k, v in params.items()}
        rows = entry.get("buttons") or self.entries.get(entry.get("buttons_from", ""), {}).get("buttons", ())
        buttons = self._buttons(key, rows, lang, plain_params)
        image_name = entry.get("image", "")
        image = self._image(image_name) if image_name else None
        if channel in HTML_CHANNELS:
            return Rendered(_fill(key, markup, escaped), buttons, is_html=True, image=image, image_name=image_name)
        plain = _fill(key, html_to_plain(markup), plain_params)
        if channel is Channel.SMS:
            short = entry.get(f"sms_{lang}")
            text = _fill(key, short, plain_params) if short else plain
            return Rendered(" ".join(text.split())[:SMS_LIMIT])
        if channel is Channel.EMAIL:
            subject = entry.get(f"subject_{lang}") or plain.splitlines()[0]
            body = _fill(key, markup, escaped).replace("\n", "<br>\n")
            return Rendered(plain, buttons, subject=_fill(key, subject, plain_params),
                            html_body=f"<!doctype html><html><body><p>{body}</p></body></html>")
        return Rendered(plain, buttons, image=image, image_name=image_name)

    def _image(self, name: str) -> bytes:
        if name not in self._images:
            path = (IMAGES / name).resolve()
            if path.parent != IMAGES.resolve() or not path.is_file():
                raise TemplateError(f"no image {name!r} in {IMAGES}")
            self._images[name] = path.read_bytes()
        return self._images[name]

    @staticmethod
    def _buttons(key: str, rows: Any, lang: str, params: Mapping[str, Any]) -> tuple[tuple[Button, ...], ...]:
        shaped = []
        for row in rows:
            shaped_row = []
            for spec in row:
                label = _fill(key, spec[lang], params)
                if "url" in spec:
                    shaped_row.append(Button("url", label, url=_fill(key, spec["url"], params)))
                elif spec.get("contact"):
                    shaped_row.append(Button("contact", label))
                else:
                    shaped_row.append(Button("callback", label, payload=spec["payload"]))
            shaped.append(tuple(shaped_row))
        return tuple(shaped)
