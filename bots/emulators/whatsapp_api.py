"""A local WhatsApp Cloud API (``graph.facebook.com/v<version>``): what pywa 4.5 calls, Meta's errors, limits enforced.

``Authorization: Bearer <token>`` on every Graph call. ``POST /{phone-id}/messages`` (text, interactive reply
buttons, lists, a link button, "request contact info", images, templates; ``status: read`` marks),
``POST /{phone-id}/media`` (uploads), ``GET /{media-id}`` (a media URL, downloaded with the token from
``/lookaside/…``), ``GET /{phone-id}``, ``GET /oauth/access_token`` (the app token, ``<app-id>|<app-secret>``) and
``POST /{app-id}/subscriptions`` — which first makes Meta's GET handshake against the callback (``hub.challenge``
must come back) and then POSTs every update there, signed (``bots.emulators.whatsapp_users``).

Enforced: 80 messages a second per number (130429), one message per 6 s per person after a burst of 45 (131056)
[I: Meta's pair limit as its throughput docs describe it], the 24-hour window (131047 for anything but an approved
template), undeliverable people (131026). The last two come as Meta sends them [I]: the send is answered with a
message id and a "failed" status webhook follows; ``errors_in_statuses = False`` answers them at once instead.
``stall`` holds every answer (a throttled network: clients time out).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web

from bots.emulators.server import LoopbackServer
from bots.emulators.whatsapp_checks import (
    MAX_CAPTION,
    MAX_TEXT,
    Bucket,
    GraphError,
    Shown,
    Window,
    interactive,
    malformed,
    out_of_limits,
    template_values,
    text,
)
from bots.emulators.whatsapp_users import APP_ID, PHONE_ID, WaMessage, WhatsAppPeople

TOKEN = "EAAG-whatsapp-emulator-system-user-token"
APP_SECRET = "whatsapp-emulator-app-secret-0123456789"
MAX_UPLOAD = 20 * 1024 * 1024


class WhatsAppEmulator(WhatsAppPeople, LoopbackServer):
    def __init__(self, phone_id: str = PHONE_ID, token: str = TOKEN, app_id: str = APP_ID,
                 app_secret: str = APP_SECRET, *, per_second: int | None = 80, pair_interval: float = 6.0,
                 pair_burst: int | None = 45) -> None:
        WhatsAppPeople.__init__(self, phone_id, app_secret)
        self.token, self.app_id = token, app_id
        self.throughput, self.pair = Window(per_second), Bucket(pair_interval, pair_burst)
        self.errors_in_statuses = True
        self.templates: dict[tuple[str, str], tuple[str, int]] = {}  # (name, language) -> (body, parameters)
        self.calls: list[tuple[float, str, str, Any]] = []  # (monotonic, verb, path, the JSON body or the query)
        self.marked_read: set[str] = set()
        self.too_many = 0  # 130429 and 131056 answered
        self.stalled: float | None = None
        self.media_base: str | None = None  # where media URLs point (None: here, as lookaside.fbsbx.com is Meta's)
        LoopbackServer.__init__(self, web.Application(client_max_size=MAX_UPLOAD))
        self.app.router.add_route("*", "/{version:v[0-9]+\\.[0-9]+}/{path:.+}", self._graph)
        self.app.router.add_get("/lookaside/{media_id}", self._download)

    async def stop(self) -> None:
        await self.stop_webhook()
        await LoopbackServer.stop(self)

    def stall(self, seconds: float | None) -> None:
        self.stalled = seconds

    def approve(self, name: str, language: str, body: str) -> None:
        """A template Meta approved: ``body`` with {{1}}, {{2}}… for its parameters."""
        self.templates[(name, language)] = (body, len(set(re.findall(r"\{\{(\d+)\}\}", body))))

    # the Graph API -------------------------------------------------------------------------

    async def _graph(self, request: web.Request) -> web.Response:
        verb, path = request.method, request.match_info["path"].strip("/")
        try:
            if self.stalled is not None:
                await asyncio.sleep(self.stalled)
            body: Any = dict(request.query)
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as e:
                    raise malformed("the body is not JSON") from e
            self.calls.append((time.monotonic(), verb, path, body))
            if (verb, path) == ("GET", "oauth/access_token"):
                return web.json_response(self._app_token(request.query))
            if (verb, path) == ("POST", f"{self.app_id}/subscriptions"):
                return web.json_response(await self._subscribe(request.query))
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                raise GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=401)
            return web.json_response(await self._dispatch(verb, path, request, body))
        except GraphError as e:
            return web.json_response(e.body(), status=e.status)

    async def _dispatch(self, verb: str, path: str, request: web.Request, body: Any) -> dict[str, Any]:
        if (verb, path) == ("POST", f"{self.phone_id}/messages"):
            if not isinstance(body, dict):
                raise malformed("the body must be a JSON object")
            return await self._message(body)
        if (verb, path) == ("POST", f"{self.phone_id}/media"):
            return await self._upload(request)
        if (verb, path) == ("GET", self.phone_id):
            return {"id": self.phone_id, "verified_name": "Promo", "display_phone_number": "+1 555-010-0000",
                    "quality_rating": "GREEN", "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"}}
        if verb == "GET" and path in self.media:
            data, mime = self.media[path]
            base = self.media_base or self.base_url
            return {"messaging_product": "whatsapp", "id": path, "mime_type": mime, "file_size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(), "url": f"{base}/lookaside/{path}?ext=1&hash=x"}
        raise GraphError(100, "Unsupported request - method type or object does not exist",
                         f"{verb} /{path[:80]}")

    def _app_token(self, query: Any) -> dict[str, Any]:
        if query.get("client_id") != self.app_id or query.get("client_secret") != self.app_secret:
            raise GraphError(1, "Error validating client secret.")
        return {"access_token": f"{self.app_id}|{self.app_secret}", "token_type": "bearer"}

    async def _subscribe(self, query: Any) -> dict[str, Any]:
        if query.get("access_token") != f"{self.app_id}|{self.app_secret}":
            raise GraphError(190, "Invalid OAuth access token - the app's token is needed", status=401)
        url, fields = query.get("callback_url", ""), str(query.get("fields", "")).split(",")
        if query.get("object") != "whatsapp_business_account" or "messages" not in fields:
            raise malformed("object=whatsapp_business_account and fields with messages are required")
        challenge = str(secrets.randbelow(10**9))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": query.get("verify_token")}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                    http.get(url, params=params) as answer:
                echoed = (answer.status, await answer.text())
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            raise GraphError(2200, "Callback verification failed with the following errors: "
                             f"couldn't connect to server ({type(e).__name__})") from e
        if echoed != (200, challenge):
            raise GraphError(2200, "Callback verification failed with the following errors: HTTP Status Code = "
                             f"{echoed[0]}; the response did not match the challenge")
        self.subscribe(url)
        return {"success": True}

    async def _upload(self, request: web.Request) -> dict[str, Any]:
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload, web.FileField):
            raise malformed("messaging_product=whatsapp and a file are required")
        return {"id": self._store(upload.file.read(), str(form.get("type") or upload.content_type))}

    async def _download(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="the media URL needs the access token")
        found = self.media.get(request.match_info["media_id"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found[0], content_type=found[1])

    # messages --------------------------------------------------------------------------------

    async def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("messaging_product") != "whatsapp":
            raise malformed("messaging_product must be whatsapp")
        if body.get("status") == "read":
            self.marked_read.add(str(body.get("message_id")))
            return {"success": True}
        recipient = body.get("to") or body.get("recipient")
        if not isinstance(recipient, str) or body.get("recipient_type", "individual") != "individual":
            raise malformed("to (a number) or recipient (a BSUID) of an individual is required")
        kind = body.get("type", "text")
        shown, template = self._shown(kind, body.get(kind))
        if not self.throughput.take(self.phone_id):
            self.too_many += 1
            raise GraphError(130429, "Rate limit hit", "Cloud API message throughput has been reached", status=429)
        user = self.user_of(recipient)
        if user is None:
            raise GraphError(131026, "Message undeliverable", "the recipient is not a WhatsApp user we know")
        if not self.pair.take(str(user)):
            self.too_many += 1
            raise GraphError(131056, "(Business Account, Consumer Account) pair rate limit hit", status=429)
        sent = WaMessage(self.new_message_id(), user, shown.kind, shown.text, shown.buttons, shown.list_reply,
                         self.media.get(shown.media_id or "", (None, ""))[0], template[0], template[1],
                         str(body.get("biz_opaque_callback_data") or ""))
        error = (131026, "Message undeliverable") if user in self.blocked else \
            (131047, "Re-engagement message") if kind != "template" and not self.in_window(user) else None
        if error is not None and not self.errors_in_statuses:
            raise GraphError(*error, details="More than 24 hours have passed since the recipient last replied"
                             if error[0] == 131047 else "the recipient cannot receive this message")
        if error is not None:
            await self.report(sent, "failed", error)  # accepted now; WhatsApp says it failed a moment later
        else:
            self.outbox.record(user, sent)
            await self.report(sent, "delivered")
        whom = {"user_id": self.bsuid_of(user)} if user in self.hidden or not recipient.isdigit() \
            else {"wa_id": str(user)}
        return {"messaging_product": "whatsapp", "contacts": [{"input": recipient, **whom}],
                "messages": [{"id": sent.id}]}

    def _shown(self, kind: object, content: object) -> tuple[Shown, tuple[str, list[str]]]:
        if kind == "text":
            if not isinstance(content, dict):
                raise malformed("text.body is required")
            return Shown("text", text(content.get("body"), MAX_TEXT, "text.body")), ("", [])
        if kind == "interactive":
            shown = interactive(content)
            if shown.media_id is not None and shown.media_id not in self.media:
                raise out_of_limits("the header's image id is unknown")
            return shown, ("", [])
        if kind == "image":
            image = content if isinstance(content, dict) else {}
            if str(image.get("id")) not in self.media:
                raise GraphError(131053, "Media upload error", "the image id is unknown")
            caption = image.get("caption") or ""
            if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
                raise out_of_limits(f"image.caption is longer than {MAX_CAPTION} characters")
            return Shown("image", caption, media_id=str(image["id"])), ("", [])
        if kind == "template":
            name, language, values = template_values(content)
            approved = self.templates.get((name, language))
            if approved is None:
                raise GraphError(132001, "Template name does not exist in the translation", f"{name} ({language})")
            if len(values) != approved[1]:
                raise GraphError(132000, "Number of parameters does not match the expected number of params",
                                 f"body: expected {approved[1]}, got {len(values)}")
            body = re.sub(r"\{\{(\d+)\}\}", lambda m: values[int(m.group(1)) - 1], approved[0])
            return Shown("template", body), (name, values)
        raise GraphError(131051, "Unsupported message type", f"type {str(kind)[:30]!r}")


class WhatsAppSandboxChat:
    """The sandbox page's WhatsApp user (``bots.channel.SandboxChat``): a number, sharing it when asked."""

    title, first_user, shares_contact = "WhatsApp", 79001234567, True

    def __init__(self, emulator: WhatsAppEmulator) -> None:
        self.emulator = emulator

    def shown(self, user_id: int) -> list[dict[str, Any]]:
        return [{"id": m.id, "text": m.text, "html": False, "buttons": m.buttons}
                for m in self.emulator.messages_to(user_id)]

    async def say(self, user_id: int, text: str) -> None:
        await self.emulator.user_text(user_id, text)

    async def press(self, user_id: int, payload: str, label: str) -> None:
        try:
            await self.emulator.user_press(user_id, payload)
        except LookupError as e:
            raise web.HTTPBadRequest(text=str(e)) from e

    async def photo(self, user_id: int, data: bytes) -> None:
        await self.emulator.user_photo(user_id, data)

    async def contact(self, user_id: int, phone: str) -> None:
        await self.emulator.user_share_contact(user_id, phone)  # their own number, or a card of someone else's
