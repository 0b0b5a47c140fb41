"""What the MAX emulator refuses, as MAX does: its errors, its limits (strict sliding windows), and the shape of a
message body (text length, format, HTML, the inline keyboard's button limits).

Limits are kept as sliding one-second windows, stricter than MAX needs to be: a bot that stays under them
never meets MAX's own 429. The keyboard's limits are MAX's [C]: at most 210 buttons, 30 rows, 7 per row, and 3
per row where a row holds a ``link``, ``open_app``, ``request_contact`` or ``request_geo_location`` button.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Hashable
from html.parser import HTMLParser
from typing import Any

TEXT_LIMIT = 4000
LABEL_LIMIT = 64  # a button's text, 1-64 characters as maxapi documents it
PAYLOAD_LIMIT = 256  # a callback button's payload, as maxapi documents it
MAX_BUTTONS, MAX_ROWS, PER_ROW, PER_ROW_LIMITED = 210, 30, 7, 3
LIMITED = {"link", "open_app", "request_contact", "request_geo_location"}
BUTTON_TYPES = LIMITED | {"callback", "message", "clipboard", "chat"}
ALLOWED_HTML = {"b", "strong", "i", "em", "u", "ins", "s", "del", "strike", "code", "pre", "a", "mark", "br",
                "blockquote"}
VOID_HTML = {"br"}


class MaxApiFault(Exception):
    """A refusal, answered as MAX answers: the HTTP status and ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def bad_payload(message: str) -> MaxApiFault:
    return MaxApiFault(400, "proto.payload", message)


def too_many(what: str) -> MaxApiFault:
    return MaxApiFault(429, "too.many.requests", what)


class Window:
    """At most ``count`` admitted events per key in any ``seconds``-long stretch of time."""

    def __init__(self, count: int, seconds: float = 1.0) -> None:
        self.count, self.seconds = count, seconds
        self._recent: dict[Hashable, deque[float]] = {}

    def admit(self, key: Hashable) -> bool:
        now = time.monotonic()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - self.seconds:
            recent.popleft()
        if len(recent) >= self.count:
            return False
        recent.append(now)
        return True


class _HtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_HTML:
            self.error = self.error or f"unsupported tag <{tag}>"
        if tag == "a" and not (dict(attrs).get("href") or "").startswith(("http://", "https://", "max://")):
            self.error = self.error or "a link without an http(s) href"
        if tag not in VOID_HTML:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_HTML:
            return
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f"unexpected </{tag}>"


def html_problem(text: str) -> str | None:
    """What MAX could not render in an ``html`` text: an unknown or unbalanced tag (an escaping bug of ours)."""
    checker = _HtmlCheck()
    checker.feed(text)
    checker.close()
    if checker.error is None and checker.stack:
        return f"<{checker.stack[-1]}> is never closed"
    return checker.error


def check_button(button: Any) -> None:
    if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES:
        raise bad_payload(f"unknown button {button!r:.80}")
    label = button.get("text")
    if not isinstance(label, str) or not 1 <= len(label) <= LABEL_LIMIT:
        raise bad_payload(f"button text must be 1-{LABEL_LIMIT} characters")
    kind = button["type"]
    if kind == "callback":
        payload = button.get("payload")
        if not isinstance(payload, str) or not payload or len(payload) > PAYLOAD_LIMIT:
            raise bad_payload(f"a callback button needs a payload of 1-{PAYLOAD_LIMIT} characters")
    if kind == "link" and not str(button.get("url") or "").startswith(("http://", "https://")):
        raise bad_payload("a link button needs an http(s) url")


def check_keyboard(payload: Any) -> list[list[dict[str, Any]]]:
    rows = payload.get("buttons") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows or not all(isinstance(row, list) and row for row in rows):
        raise bad_payload("inline_keyboard: buttons must be non-empty rows of buttons")
    if len(rows) > MAX_ROWS:
        raise bad_payload(f"inline_keyboard: at most {MAX_ROWS} rows")
    if sum(map(len, rows)) > MAX_BUTTONS:
        raise bad_payload(f"inline_keyboard: at most {MAX_BUTTONS} buttons")
    for row in rows:
        for button in row:
            check_button(button)
        limit = PER_ROW_LIMITED if any(b["type"] in LIMITED for b in row) else PER_ROW
        if len(row) > limit:
            raise bad_payload(f"inline_keyboard: at most {limit} buttons in this row")
    return rows


def check_text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise bad_payload("text must be a string")
    text = text or ""
    if len(text) > TEXT_LIMIT:
        raise bad_payload(f"text: at most {TEXT_LIMIT} characters")
    fmt = body.get("format")
    if fmt not in (None, "html", "markdown"):
        raise bad_payload("format: html or markdown")
    if fmt == "html" and (problem := html_problem(text)):
        raise bad_payload(f"text: {problem}")
    return text
