"""OK's Graph API on the wire, for ``bots.ok``: the few calls we make, its error bodies, the update shapes.

Requests: ``{base}/graph/<path>?access_token=<the group's token>``, POST bodies JSON with the
``application/json;charset=utf-8`` type OK asks for. Errors come as OK's REST ones do, with HTTP 200
and ``{"error_code", "error_msg"}`` (an ``invocation-error`` header beside): the body decides, not the status.
Updates (webhook bodies, long-polling items): ``{"webhookType", "sender": {"user_id", "name"},
"recipient": {"chat_id"}, "message": {"text", "mid", "seq", "attachments"}, "callbackId", "payload", "timestamp"}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp

from core.ports import NewUpdate
from core.templates import Rendered


class OkError(Exception):
    """OK's error body (``code``), or an answer that is neither that nor a result (``code`` None: a proxy's 502)."""

    def __init__(self, code: int | None, message: str, status: int = 200) -> None:
        super().__init__(f"{code} {message}" if code is not None else f"HTTP {status}")
        self.code, self.message, self.status = code, message, status


FAULTS = (OkError, aiohttp.ClientError, OSError, TimeoutError)


class GraphApi:
    """The Graph API calls we make, on one aiohttp session (opened on first use, inside the running loop)."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base.rstrip("/"), token
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def call(self, verb: str, path: str, body: dict[str, Any] | None = None,
                   params: dict[str, str | int] | None = None, timeout: float | None = None) -> dict[str, Any]:
        query: dict[str, str | int] = {"access_token": self.token, **(params or {})}
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json;charset=utf-8"} if data is not None else {}  # as OK requires
        limit: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout else {}  # else 30 s
        async with self.session.request(verb, f"{self.base}/graph/{path}", params=query, data=data, headers=headers,
                                        **limit) as answer:
            text = await answer.text(errors="replace")
        try:
            result = json.loads(text)
        except (ValueError, RecursionError):
            result = None
        if isinstance(result, dict) and "error_code" in result:
            code = result["error_code"]
            raise OkError(code if isinstance(code, int) else 1, str(result.get("error_msg") or ""), answer.status)
        if answer.status >= 400 or not isinstance(result, dict):
            raise OkError(None, "", answer.status)
        return result

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def keyboard(message: Rendered) -> dict[str, Any] | None:
    rows = [[{"type": "LINK", "text": b.label, "url": b.url, "intent": "DEFAULT"} if b.kind == "url" else
             {"type": "CALLBACK", "text": b.label, "payload": b.payload, "intent": "DEFAULT"}
             for b in row if b.kind != "contact"] for row in message.buttons]
    rows = [row for row in rows if row]
    return {"type": "INLINE_KEYBOARD", "payload": {"keyboard": {"buttons": rows}}} if rows else None


def text_of(value: object, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def chat_of(update: dict[str, Any]) -> str | None:
    recipient = update.get("recipient")
    return text_of(recipient.get("chat_id"), 128) if isinstance(recipient, dict) else None


def stored(update: dict[str, Any]) -> NewUpdate:
    """The redelivery key: the message's ``mid``, the callback's id, else a digest of the update itself."""
    message = update.get("message") if isinstance(update.get("message"), dict) else {}
    key = text_of(message.get("mid"), 64) or (f"cb:{cb}" if (cb := text_of(update.get("callbackId"), 61)) else None)
    key = key or hashlib.sha256(json.dumps(update, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return NewUpdate(key, chat_of(update), update)


def decoded(update: object) -> object:
    """An update as an object; one that is not JSON is dropped, rather than stalling polling for ever."""
    try:
        return json.loads(update) if isinstance(update, str) else update
    except (ValueError, RecursionError):
        return None


def attachments_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = message.get("attachments", message.get("attachment"))  # a list, or one attachment alone
    items = found if isinstance(found, list) else [found]
    return [a for a in items if isinstance(a, dict) and isinstance(a.get("payload"), dict)]
