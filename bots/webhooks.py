"""Reading a webhook's body: JSON or a clear 4xx, whatever a stranger sends.

A webhook URL is public. The body is read within a size limit and decoded as the UTF-8 that
Telegram and VK send, whatever charset the request claims; nesting deep enough to exhaust the
parser is refused like any other malformed body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from core.intake import Intake
from core.ports import NewUpdate

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 1024 * 1024  # an update is a few kilobytes; files come by reference


class BadBody(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.response = web.Response(status=status, text=reason)


async def json_body(request: web.Request) -> Any:
    """The decoded JSON value, or ``BadBody`` carrying the 4xx to answer."""
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
        raise BadBody(413, "the body is too large")
    body = bytearray()
    while len(body) <= MAX_WEBHOOK_BODY:  # a read gives what has arrived (a chunk), not all that is asked for
        chunk = await request.content.read(MAX_WEBHOOK_BODY + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > MAX_WEBHOOK_BODY:
        raise BadBody(413, "the body is too large")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadBody(400, "the body is not JSON") from e


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count): known before
    parsing a stranger's text, since the parser recurses once per level."""
    depth = deepest = 0
    quoted = escaped = False
    for char in text:
        if quoted:
            escaped, quoted = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def is_id(value: object) -> bool:
    """An integer id: ``True`` is an int in Python, never a chat."""
    return isinstance(value, int) and not isinstance(value, bool)


async def stored_then_ok(intake: Intake, bot: str, updates: Sequence[NewUpdate], what: str) -> web.Response:
    """Store the updates, then answer 200; 503 when they could not be stored, so the channel sends them again."""
    try:
        if updates:
            await intake.receive(bot, list(updates))
    except Exception:
        log.exception("%s could not be stored", what)
        return web.Response(status=503, text="try again")
    return web.Response(text="ok")
