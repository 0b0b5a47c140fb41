"""The QR scanner page: a messenger's own camera reads the receipt's code, and the chat answers as if it were typed.

A crumpled receipt's photo is the hardest thing we read; Telegram (``showScanQrPopup``) and VK
(``VKWebAppOpenCodeReader``) read a QR code in their own scanner and hand us the string. The bot's
«📷 Сканировать QR» button opens ``/scan/<platform>`` inside the messenger; the page starts the
scanner (or, where there is none, the browser's camera, or a photo) and posts what it read here
together with the launch data the messenger signed. Nothing else the page says is believed: the
launch names the account (``bots.mini_apps``), and the string becomes an update of that account in the
durable intake, read back by its channel like a typed message — the same parsing, judging and
confirmation, answered in the chat. A photo goes through the same photo reader as one sent in the chat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from bots.mini_apps import MAX_LAUNCH_DATA, Launch, LaunchRefused, MiniApp
from core.events import EventKind, InboundEvent
from core.intake import Intake
from core.scenarios.receipt_reading import RECEIPT_KEYS
from core.services import PhotoReading

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "scanner.html"
FILES = {"scanner.js": STATIC / "scanner.js", "vk-bridge.js": STATIC / "vk-bridge.min.js"}
# each messenger's own script, as its documentation asks: Telegram's from telegram.org (kept current for its
# clients), VK's bridge from its npm package (vendored as it was published); the site's own chat needs none
BRIDGES = {"telegram": "https://telegram.org/js/telegram-web-app.js", "vk": "/scan/vk-bridge.js", "web": ""}
# the messengers' web clients frame a Mini App; no other site may
FRAMED_BY = {"telegram": "https://web.telegram.org", "vk": "https://vk.com https://*.vk.com https://vk.ru https://*.vk.ru",
             "web": "'none'"}
MAX_TEXT = 512  # a fiscal QR string is about 100 characters: anything this long is not one
MAX_BODY = 2 * MAX_LAUNCH_DATA + 4 * MAX_TEXT  # the JSON of a launch and a text, escapes and all
MAX_PHOTO = 20 * 1024 * 1024  # as a photo sent in the chat
# per person: a bag of receipts scanned one after another fits, a script posting on someone's launch does not
SCANS = ((60.0, 6), (3600.0, 30))
TRACKED = 10_000  # people whose recent scans are remembered; beyond that the quiet ones are forgotten


class Budget:
    """How many scans a person may post in each window (seconds, count); kept in this process."""

    def __init__(self, windows: Sequence[tuple[float, int]] = SCANS, clock: Callable[[], float] = time.monotonic):
        self.windows = tuple(windows)
        self.longest = max(seconds for seconds, _ in self.windows)
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def spend(self, who: str) -> bool:
        now = self.clock()
        seen = self._seen.setdefault(who, deque())
        while seen and now - seen[0] > self.longest:
            seen.popleft()
        if any(sum(1 for at in seen if now - at <= seconds) >= limit for seconds, limit in self.windows):
            return False
        seen.append(now)
        if len(self._seen) > TRACKED:
            self._forget(now)
        return True

    def _forget(self, now: float) -> None:
        for who in [w for w, seen in self._seen.items() if not seen or now - seen[-1] > self.longest]:
            del self._seen[who]


def receipt_like(text: str) -> bool:
    """The test the chat itself uses for "this typed text is a receipt"; a QR code of anything else (a link, a
    command a stranger printed on a sticker) never reaches the chat in the person's name."""
    return (not text.startswith("/") and text.isprintable() and len(text) <= MAX_TEXT
            and RECEIPT_KEYS.search(text) is not None)


def _refusal(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status, headers={"Cache-Control": "no-store"})


async def _small_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(limit, request.content_length)
    body = bytearray()
    while len(body) <= limit:  # a read gives what has arrived, not all that is asked for
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(limit, len(body))
    return bytes(body)


async def _part(reader: web.BodyPartReader | Any, name: str, limit: int) -> bytes:
    """The next part of a multipart form, which must be ``name``, read to at most ``limit`` bytes."""
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != name:
        raise web.HTTPBadRequest(text=f"expected the {name!r} field next")
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise web.HTTPRequestEntityTooLarge(limit, len(data))
    return bytes(data)


def _headers(platform: str) -> dict[str, str]:
    bridge = BRIDGES[platform]
    script = "'self'" + (f" {bridge}" if bridge.startswith("https://") else "")
    policy = (f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              f"media-src 'self' blob:; connect-src 'self'; frame-ancestors {FRAMED_BY[platform]}")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def scanner_routes(intake: Intake, apps: Sequence[MiniApp], photos: PhotoReading,
                   clock: Callable[[], datetime]) -> list[web.AbstractRouteDef]:
    """``/scan/<platform>`` for each channel's Mini App; nothing at all when no channel offers one."""
    by_platform = {app.platform: app for app in apps if app.platform in BRIDGES}
    if not by_platform:
        return []
    template = PAGE.read_text(encoding="utf-8")
    pages = {name: template.replace("{platform}", name).replace(
        "{bridge}", f'<script src="{BRIDGES[name]}"></script>' if BRIDGES[name] else "") for name in by_platform}
    budget = Budget()

    def app_of(request: web.Request) -> MiniApp:
        app = by_platform.get(request.match_info["platform"])
        if app is None:
            raise web.HTTPNotFound()
        return app

    async def page(request: web.Request) -> web.Response:
        app = app_of(request)
        return web.Response(text=pages[app.platform], content_type="text/html", headers=_headers(app.platform))

    async def static(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(FILES[request.match_info["name"]], headers={"X-Content-Type-Options": "nosniff",
                                                                           "Cache-Control": "no-cache"})

    def launched(app: MiniApp, launch_data: str) -> Launch:
        launch = app.check(launch_data, clock())
        if not budget.spend(f"{app.platform}:{launch.account}"):
            raise _Refused(429, "too_many")
        return launch

    async def submit(app: MiniApp, launch: Launch, text: str) -> web.Response:
        key = hashlib.sha256("\n".join((app.platform, launch.account, launch.signature, text)).encode()).hexdigest()
        try:  # the same launch posting the same string again is one update: a replay changes nothing
            fresh = await intake.receive(app.bot, [app.typed(launch, text, key[:32])])
        except Exception:
            log.exception("scanner: a scanned receipt could not be stored")
            return _refusal(503, "try_again")
        return web.json_response({"ok": True, "repeat": fresh == 0}, headers={"Cache-Control": "no-store"})

    async def scanned(request: web.Request) -> web.Response:
        app = app_of(request)
        try:
            body = _json(await _small_body(request, MAX_BODY))
            launch_data, text = body.get("launch"), body.get("text")
            if not isinstance(launch_data, str) or not isinstance(text, str):
                raise _Refused(400, "bad_request")
            text = text.strip()
            if len(text) > MAX_TEXT:
                raise _Refused(413, "too_long")
            launch = launched(app, launch_data)
            if not receipt_like(text):
                raise _Refused(422, "not_receipt")
        except LaunchRefused as e:
            return _refusal(401, e.reason)
        except _Refused as e:
            return _refusal(e.status, e.error)
        except web.HTTPRequestEntityTooLarge:
            return _refusal(413, "too_large")
        return await submit(app, launch, text)

    async def photo(request: web.Request) -> web.Response:
        app = app_of(request)
        if request.content_length is not None and request.content_length > MAX_PHOTO + 2 * MAX_LAUNCH_DATA:
            return _refusal(413, "too_large")
        try:  # the launch comes first: nobody unproved gets to send us 20 MB, or a decode
            reader = await request.multipart()
            launch = launched(app, (await _part(reader, "launch", MAX_LAUNCH_DATA)).decode("utf-8", "replace"))
            data = await _part(reader, "photo", MAX_PHOTO)
        except LaunchRefused as e:
            return _refusal(401, e.reason)
        except _Refused as e:
            return _refusal(e.status, e.error)
        except web.HTTPRequestEntityTooLarge:
            return _refusal(413, "too_large")
        except (web.HTTPBadRequest, ValueError, AssertionError):  # not a form, or not this form
            return _refusal(400, "bad_request")
        read = await photos.read(InboundEvent(app.channel, launch.account, EventKind.PHOTO, photo=data))
        found = next((t for t in read.qr_texts or () if receipt_like(t.strip())), None)
        if found is None:
            return _refusal(422, read.attachment_error or ("no_fiscal_qr" if read.qr_texts else "no_qr"))
        return await submit(app, launch, found.strip())

    return [web.get("/scan/{name:scanner\\.js|vk-bridge\\.js}", static),
            web.get("/scan/{platform:[a-z]+}", page),
            web.post("/scan/{platform:[a-z]+}/text", scanned),
            web.post("/scan/{platform:[a-z]+}/photo", photo)]


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _Refused(400, "bad_request") from e
    if not isinstance(value, dict):
        raise _Refused(400, "bad_request")
    return value
