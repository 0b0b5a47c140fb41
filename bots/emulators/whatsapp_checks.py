"""What the local WhatsApp Cloud API refuses, and how: Meta's error body, the message kinds' own limits, and the
throughput and pair rate limits.

Errors are Graph API errors: an HTTP status and ``{"error": {"message": "(#<code>) …", "type", "code",
"error_data": {"messaging_product": "whatsapp", "details"}, "fbtrace_id"}}``. Codes as pywa 4.5 names them:
190 a wrong token, 100 a malformed request, 131009 a value out of its limits, 131047 outside the 24-hour
window, 131026 undeliverable, 130429 over the number's throughput, 131056 too many to one person, 132000/132001
a template's parameters or name wrong. [I] The HTTP status of each is our guess (400, 401 for 190, 429 for the two
rate limits); pywa and the channel read only the code.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT, MAX_BODY, MAX_CAPTION = 4096, 1024, 1024
MAX_TITLE, MAX_ROW_TITLE, MAX_REPLY_ID, MAX_ROW_ID = 20, 24, 256, 200


class GraphError(Exception):
    def __init__(self, code: int, message: str, details: str = "", status: int = 400) -> None:
        super().__init__(f"({code}) {message}")
        self.code, self.message, self.details, self.status = code, message, details, status

    def body(self) -> dict[str, Any]:
        return {"error": {"message": f"(#{self.code}) {self.message}", "type": "OAuthException", "code": self.code,
                          "error_data": {"messaging_product": "whatsapp", "details": self.details or self.message},
                          "fbtrace_id": secrets.token_urlsafe(12)}}


def malformed(details: str) -> GraphError:
    return GraphError(100, "Invalid parameter", details)


def out_of_limits(details: str) -> GraphError:
    return GraphError(131009, "Parameter value is not valid", details)


def text(value: object, limit: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise malformed(f"{what} is required")
    if len(value) > limit:
        raise out_of_limits(f"{what} is longer than {limit} characters")
    return value


def http_link(value: object, what: str) -> str:
    if not isinstance(value, str) or not re.match(r"https?://[^\s]+$", value):
        raise out_of_limits(f"{what} must be an http(s) URL")
    return value


@dataclass
class Shown:
    """A message as the person sees it: its text, its buttons in rows, what pressing one sends back."""

    kind: str
    text: str
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    list_reply: bool = False
    media_id: str | None = None


def _unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise out_of_limits(f"{what} must be unique")


def interactive(body: object) -> Shown:
    if not isinstance(body, dict) or not isinstance(body.get("action"), dict):
        raise malformed("interactive.action is required")
    kind, action = body.get("type"), body["action"]
    content = body.get("body") if isinstance(body.get("body"), dict) else {}
    shown = Shown("interactive", text(content.get("text"), MAX_BODY, "interactive.body.text"))
    header = body.get("header")
    if isinstance(header, dict) and header.get("type") == "image":
        shown.media_id = str((header.get("image") or {}).get("id") or "")
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise out_of_limits("interactive.action.buttons: 1 to 3 reply buttons")
        replies = [b.get("reply") if isinstance(b, dict) and b.get("type") == "reply" else None for b in buttons]
        if not all(isinstance(r, dict) for r in replies):
            raise malformed("each button is {type: reply, reply: {id, title}}")
        row = [{"label": text(r.get("title"), MAX_TITLE, "button title"),
                "payload": text(r.get("id"), MAX_REPLY_ID, "button id")} for r in replies if isinstance(r, dict)]
        _unique([b["label"] for b in row], "button titles")
        _unique([b["payload"] for b in row], "button ids")
        shown.buttons = [row]
    elif kind == "list":
        text(action.get("button"), MAX_TITLE, "interactive.action.button")
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10 or not all(
                isinstance(s, dict) and isinstance(s.get("rows"), list) for s in sections):
            raise out_of_limits("interactive.action.sections: 1 to 10 sections of rows")
        rows = [r for s in sections for r in s["rows"]]
        if not 1 <= len(rows) <= 10 or not all(isinstance(r, dict) for r in rows):
            raise out_of_limits("a list holds 1 to 10 rows in all")
        if len(sections) > 1:
            for section in sections:
                text(section.get("title"), MAX_ROW_TITLE, "section title")
        shown.buttons = [[{"label": text(r.get("title"), MAX_ROW_TITLE, "row title"),
                           "payload": text(r.get("id"), MAX_ROW_ID, "row id")}] for r in rows]
        _unique([b[0]["payload"] for b in shown.buttons], "row ids")
        shown.list_reply = True
    elif kind == "cta_url":
        parameters = action.get("parameters") if action.get("name") == "cta_url" else None
        if not isinstance(parameters, dict):
            raise malformed("interactive.action: {name: cta_url, parameters: {display_text, url}}")
        shown.buttons = [[{"label": text(parameters.get("display_text"), MAX_TITLE, "display_text"),
                           "url": http_link(parameters.get("url"), "url")}]]
    elif kind == "request_contact_info":
        if action.get("name") != "request_contact_info":
            raise malformed("interactive.action.name must be request_contact_info")
        shown.buttons = [[{"label": "Поделиться номером", "contact": True}]]  # WhatsApp's own label [I]
    else:
        raise out_of_limits(f"interactive type {str(kind)[:30]!r} is not supported here")
    return shown


def template_values(template: object) -> tuple[str, str, list[str]]:
    """(name, language, the body's parameter texts) of a template message."""
    if not isinstance(template, dict) or not isinstance(template.get("language"), dict):
        raise malformed("template.name and template.language.code are required")
    name, language = template.get("name"), template["language"].get("code")
    if not isinstance(name, str) or not isinstance(language, str):
        raise malformed("template.name and template.language.code are required")
    values: list[str] = []
    for component in template.get("components") or []:
        if isinstance(component, dict) and str(component.get("type")).lower() == "body":  # pywa sends "BODY"
            for parameter in component.get("parameters") or []:
                value = parameter.get("text") if isinstance(parameter, dict) else None
                if not isinstance(value, str) or not value.strip():
                    raise GraphError(132000, "Number of parameters does not match the expected number of params",
                                     "a body parameter without text")
                if re.search(r"[\n\t]| {5,}", value):  # [I] Meta refuses these inside a parameter
                    raise GraphError(132018, "There was an issue with the parameters in your template",
                                     "Param text cannot have new-line/tab characters or more than 4 consecutive spaces")
                values.append(value)
    return name, language, values


class Window:
    """At most ``limit`` per key in any sliding second."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._recent: dict[str, deque[float]] = {}

    def take(self, key: str) -> bool:
        if self.limit is None:
            return True
        now, recent = time.monotonic(), self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True


class Bucket:
    """One message per ``interval`` seconds per key, ``burst`` at once: WhatsApp's pair rate limit."""

    def __init__(self, interval: float, burst: int | None) -> None:
        self.interval, self.burst = interval, burst
        self._levels: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> bool:
        if self.burst is None:
            return True
        now = time.monotonic()
        tokens, at = self._levels.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.interval)
        if tokens < 1:
            self._levels[key] = (tokens, now)
            return False
        self._levels[key] = (tokens - 1, now)
        return True
