"""One template per message key (``core/templates/*.toml``), rendered for each channel's profile.

Templates are written once in a small HTML subset with ``{param}`` placeholders. HTML
channels get parameters escaped; plain channels get links spelled out. Buttons are
declared once; each channel gets labels that fit it whole and only the buttons it can show.
"""

from __future__ import annotations

import html
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from core.channels import ChannelProfile, TextFormat
from core.errors import TemplateError

CATALOGUE = Path(__file__).with_name("templates")
IMAGES = Path(__file__).with_name("images")
ELLIPSIS = "…"
MIN_PARAM = 16  # a parameter is never cut shorter than this when a message must be fitted

ButtonKind = Literal["callback", "url", "contact", "app"]  # app: the channel's Mini App, ``payload`` names the page


@dataclass(frozen=True)
class Button:
    kind: ButtonKind
    label: str
    payload: str = ""
    url: str = ""


@dataclass(frozen=True)
class Rendered:
    text: str  # HTML for HTML channels, plain text elsewhere
    buttons: tuple[tuple[Button, ...], ...] = ()
    is_html: bool = False
    subject: str = ""  # e-mail only
    html_body: str = ""  # e-mail only
    image: bytes | None = None  # a picture to send with the text
    image_name: str = ""
    # what it was rendered from: a channel that may send only pre-approved templates outside a session window
    # (``ChannelProfile.window_templates``) sends the approved one of this key with these values
    template: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    locale: str = ""

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


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def fit_label(label: str, limit: int) -> str:
    """Whole words only: a label that does not fit loses its last words, never half of one."""
    if len(label) <= limit:
        return label
    words, kept = label.split(), ""
    for word in words:
        candidate = f"{kept} {word}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    return kept or label[:limit]


def chosen_text(entry: Mapping[str, Any], profile: ChannelProfile, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Which of an entry's texts this channel and these parameters get: ``without_contact_button`` where the channel
    has none, then ``if_empty`` (nested as deep as needed) while its ``param`` is empty — so a text never names a
    button, a draw or a channel that is not there (a missing parameter counts as empty: nothing is promised)."""
    chosen = entry
    if not profile.contact_button and "without_contact_button" in entry:
        chosen = entry["without_contact_button"]
    while isinstance(chosen.get("if_empty"), Mapping) and not str(params.get(chosen["if_empty"]["param"], "")):
        chosen = chosen["if_empty"]
    return chosen


def texts_of(entry: Mapping[str, Any]) -> list[str]:
    """Every text of an entry, its variants' too (not button labels): what its parameters are looked for in."""
    found: list[str] = []
    for name, value in entry.items():
        if isinstance(value, str) and name not in ("param", "image", "buttons_from"):
            found.append(value)
        elif isinstance(value, Mapping):
            found += texts_of(value)
    return found


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
    def load(cls, folder: Path = CATALOGUE, default_locale: str = "ru") -> Templates:
        merged: dict[str, Any] = {}
        for path in sorted(folder.glob("*.toml")):
            with path.open("rb") as f:
                for area, entries in tomllib.load(f).items():
                    clash = set(merged.get(area, {})) & set(entries)
                    if clash:
                        raise TemplateError(f"{path.name}: {area}.{sorted(clash)[0]} is declared twice")
                    merged.setdefault(area, {}).update(entries)
        return cls(merged, default_locale)

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

    def button_specs(self, key: str) -> list[list[Mapping[str, Any]]]:
        entry = self.entries[key]
        return entry.get("buttons") or self.entries.get(entry.get("buttons_from", ""), {}).get("buttons", [])

    def render(self, key: str, profile: ChannelProfile, locale: str, params: Mapping[str, Any]) -> Rendered:
        entry = self.entries.get(key)
        if entry is None:
            raise TemplateError(f"no template {key!r}")
        lang = locale if locale in entry else self.default_locale
        text_entry = chosen_text(entry, profile, params)
        markup = str(text_entry.get(lang) or text_entry[self.default_locale]).strip()
        # a variant chosen by an empty parameter has its own short form and subject (the entry's may name what
        # the variant leaves out); the contact-button variant shares the entry's
        forms = text_entry if "param" in text_entry else entry
        rendered = self._render(key, entry, markup, profile, lang, params, forms)
        budget = len(rendered.text) - profile.max_text
        if budget > 0:  # too long for the channel: shorten the longest parameters until it fits
            rendered = self._render(key, entry, markup, profile, lang, self._shortened(params, budget), forms)
            if len(rendered.text) > profile.max_text:
                rendered = Rendered(clip(rendered.text, profile.max_text) if not rendered.is_html
                                    else html_to_plain(rendered.text)[: profile.max_text], rendered.buttons,
                                    image=rendered.image, image_name=rendered.image_name,
                                    subject=rendered.subject, html_body=rendered.html_body)
        return replace(rendered, template=key, params={k: str(v) for k, v in params.items()}, locale=lang)

    @staticmethod
    def _shortened(params: Mapping[str, Any], excess: int) -> dict[str, Any]:
        values = {k: str(v) for k, v in params.items()}
        while excess > 0:
            longest = max(values, key=lambda k: len(values[k]), default=None)
            if longest is None or len(values[longest]) <= MIN_PARAM:
                break
            current = len(values[longest])
            target = max(MIN_PARAM, current - excess - 1)
            values[longest] = clip(values[longest], target)
            excess -= current - len(values[longest])
        return values

    def _render(self, key: str, entry: Mapping[str, Any], markup: str, profile: ChannelProfile, lang: str,
                params: Mapping[str, Any], forms: Mapping[str, Any]) -> Rendered:
        plain_params = {k: str(v) for k, v in params.items()}
        buttons = self._buttons(key, self._expanded(self.button_specs(key), params), lang, plain_params, profile)
        image_name = entry.get("image", "") if profile.images else ""
        image = self._image(image_name) if image_name else None
        if profile.text_format is TextFormat.HTML:
            escaped = {k: html.escape(v, quote=True) for k, v in plain_params.items()}
            return Rendered(_fill(key, markup, escaped), buttons, is_html=True, image=image, image_name=image_name)
        plain = _fill(key, html_to_plain(markup), plain_params)
        if profile.text_format is TextFormat.BRIEF:
            short = forms.get(f"brief_{lang}")
            text = _fill(key, short, plain_params) if short else plain
            return Rendered(" ".join(text.split()))
        if profile.text_format is TextFormat.LETTER:
            escaped = {k: html.escape(v, quote=True) for k, v in plain_params.items()}
            subject = forms.get(f"subject_{lang}") or plain.splitlines()[0]
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
    def _expanded(rows: Any, params: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
        """A row ``[{ each = "items", per_row = 2, … }]`` becomes rows of one button per item of the list parameter
        ``items`` (each item's fields fill the label and payload): buttons for what only the data knows."""
        expanded: list[list[Mapping[str, Any]]] = []
        for row in rows:
            if len(row) != 1 or "each" not in row[0]:
                expanded.append(row)
                continue
            spec = row[0]
            items = params.get(spec["each"]) or []
            per_row = int(spec.get("per_row", 1))
            shaped = [{name: _fill("each", value, item) if isinstance(value, str) else value
                       for name, value in spec.items() if name not in ("each", "per_row")}
                      for item in items if isinstance(item, Mapping)]
            expanded += [shaped[i:i + per_row] for i in range(0, len(shaped), per_row)]
        return expanded

    @staticmethod
    def _buttons(key: str, rows: Any, lang: str, params: Mapping[str, Any],
                 profile: ChannelProfile) -> tuple[tuple[Button, ...], ...]:
        if not profile.buttons:
            return ()
        shaped = []
        for row in rows:
            shaped_row = []
            for spec in row:
                if spec.get("contact") and not profile.contact_button:
                    continue
                if "app" in spec and not profile.mini_app:  # offered only where the messenger opens it
                    continue
                if "when" in spec and not params.get(spec["when"]):
                    continue
                label = _fill(key, spec[lang], params).strip()
                if not label:  # a label made of a parameter that is empty: no such button this time
                    continue
                # one label, the same words on every channel: written to fit the narrowest (WhatsApp's 20
                # characters, tests/test_same_words.py); only a label filled from data may need cutting here
                label = fit_label(label, profile.max_label)
                if "url" in spec:
                    shaped_row.append(Button("url", label, url=_fill(key, spec["url"], params)))
                elif spec.get("contact"):
                    shaped_row.append(Button("contact", label))
                elif "app" in spec:
                    shaped_row.append(Button("app", label, payload=str(spec["app"])))
                else:
                    shaped_row.append(Button("callback", label, payload=_fill(key, spec["payload"], params)))
            if shaped_row:
                shaped.append(tuple(shaped_row))
        return tuple(shaped)
