"""What both parts of ``bench/notify.py`` stand on: the emulators in a child process, the people and their notices.

Telegram, VK, MAX, the SMS gateway and an SMTP server run in another process (the other core), with a
small control API: what each received, registering Telegram users, one chatter's turn, quit.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections import Counter
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import insert

from bots.emulators.max_api import MaxEmulator
from bots.emulators.sms_gateway import SmsGateway
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.delivery import MessageStatus
from storage.database import create_engine, migrate
from storage.tables.messages import outbox as outbox_table
from storage.tables.people import channel_accounts, persons

SHARES = (("telegram", 0.4), ("vk", 0.4), ("email", 0.1), ("sms", 0.1))
LIMITS = {"telegram": 30.0, "vk": 20.0, "max": 30.0, "email": 50.0, "sms": 10.0}
MAX_PER_CHAT = 2  # MAX's messages per second to one chat (its emulator refuses a third with 429, always)


# the emulators, in a child process ----------------------------------------------------------------


class Letters:
    def __init__(self) -> None:
        self.received: Counter[str] = Counter()  # notice text -> letters with distinct Message-IDs
        self.ids: set[str] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content.decode("utf-8", "replace") if isinstance(envelope.content, bytes) else envelope.content
        head, _, _ = raw.partition("\r\n\r\n")
        message_id = next((line.split(":", 1)[1].strip() for line in head.splitlines()
                           if line.lower().startswith("message-id:")), "")
        if message_id not in self.ids:
            self.ids.add(message_id)
            self.received[message_id] += 1
        return "250 OK"


async def serve_emulators(ready: Any, limited: bool) -> None:
    telegram, vk, sms = TelegramEmulator(), VkEmulator(), SmsGateway()
    max_ = MaxEmulator(token="max-bench-token", per_second=int(LIMITS["max"]), per_chat=MAX_PER_CHAT)
    for server in (telegram, vk, sms, max_):
        await server.start()
    if limited:
        telegram.rate_limit, vk.rate_limit = int(LIMITS["telegram"]), int(LIMITS["vk"])
    letters = Letters()
    smtp = await asyncio.get_running_loop().create_server(lambda: SMTP(letters), "127.0.0.1", 0)
    stop = asyncio.Event()

    async def stats(request: web.Request) -> web.Response:
        tg_texts = Counter(m.text for messages in telegram.outbox.by_user.values() for m in messages)
        vk_texts = Counter(m.text for messages in vk.outbox.by_user.values() for m in messages)
        sms_texts = Counter(m.text for m in sms.all())
        vk_requests = sum(1 for _, method, _ in vk.calls if method.startswith("messages."))
        max_texts = Counter(m.text for messages in max_.outbox.by_user.values() for m in messages)
        max_requests = sum(1 for _, call, _ in max_.calls if call in ("POST /messages", "POST /answers"))
        return web.json_response({
            "max": max_texts, "max_requests": max_requests, "max_all_requests": len(max_.calls),
            "max_429": max_.too_many,
            "max_per_chat_peak": _peak_per_second(max_), "max_token_peak": _token_peak(max_),
            "telegram": tg_texts, "vk": vk_texts, "sms": sms_texts, "email": len(letters.ids),
            "email_resent": sum(letters.received.values()) - len(letters.ids),
            "vk_requests": vk_requests, "telegram_429": telegram.too_many, "vk_errors_6": vk.too_many,
            "sms_refused": sms.too_many})

    async def users(request: web.Request) -> web.Response:
        ids = await request.json()
        for user in ids.get("telegram", []):
            telegram.set_user(int(user), "Winner")
        for user in ids.get("max", []):
            max_.set_user(int(user), "Winner")  # a dialog with the bot exists: MAX writes only into dialogs
        return web.json_response({"ok": True})

    async def chat(request: web.Request) -> web.Response:
        """One chatter's turn: write, and answer when the reply came (seconds waited)."""
        body = await request.json()
        channel, user, text = body["channel"], int(body["user"]), body["text"]
        emulator: Any = {"telegram": telegram, "vk": vk, "max": max_}[channel]
        before = emulator.outbox.count(user)
        started = time.monotonic()
        await emulator.user_text(user, text)
        await emulator.outbox.wait(user, before + 1, 30)
        return web.json_response({"waited": time.monotonic() - started})

    async def quit_(request: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    control = web.Application()
    control.router.add_get("/stats", stats)
    control.router.add_post("/users", users)
    control.router.add_post("/chat", chat)
    control.router.add_post("/quit", quit_)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ready.send({"control": f"http://127.0.0.1:{port}", "telegram": telegram.base_url, "vk": vk.api_url,
                "max": max_.base_url, "max_token": max_.token,
                "vk_group": vk.group_id, "sms": sms.base_url, "smtp_port": smtp.sockets[0].getsockname()[1]})
    await stop.wait()
    await runner.cleanup()
    for server in (telegram, vk, sms, max_):
        await server.stop()
    smtp.close()


def _peak_per_second(emulator: MaxEmulator) -> int:
    """The most messages one chat received within any one second (by the emulator's own clock)."""
    peak = 0
    for messages in emulator.outbox.by_user.values():
        times = sorted(m.timestamp for m in messages)
        start = 0
        for end, at in enumerate(times):
            while at - times[start] >= 1000:
                start += 1
            peak = max(peak, end - start + 1)
    return peak


def _token_peak(emulator: MaxEmulator) -> int:
    """The most requests the bot's token made within any one second (every request counts, as MAX counts)."""
    times = sorted(at for at, _, _ in emulator.calls)
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def emulator_process(ready: Any, limited: bool) -> None:
    logging.disable(logging.CRITICAL)
    asyncio.run(serve_emulators(ready, limited))


class Emulators:
    def __init__(self, limited: bool) -> None:
        self.limited = limited
        self.process: multiprocessing.Process | None = None
        self.urls: dict[str, Any] = {}

    async def __aenter__(self) -> Emulators:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(target=emulator_process,
                                                                    args=(child, self.limited), daemon=True)
        self.process.start()
        self.urls = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.urls["control"] + path, json=body) as answer:
            return await answer.json()

    async def __aexit__(self, *exc: object) -> None:
        await self.call("POST", "/quit")
        await self.http.close()
        assert self.process is not None
        self.process.join(10)


# people and their notices ---------------------------------------------------------------------------


def plan(messages: int) -> list[tuple[int, str, str]]:
    """(person id, channel, address) for every person."""
    people, person_id = [], 0
    for channel, share in SHARES:
        for n in range(int(messages * share)):
            person_id += 1
            address = {"telegram": str(500_000 + n), "vk": str(600_000 + n), "email": f"w{n}@mail.example",
                       "sms": f"+7999{n:07d}"}[channel]
            people.append((person_id, channel, address))
    return people


async def seed(url: str, people: list[tuple[int, str, str]], now: datetime) -> None:
    engine = create_engine(url)
    await migrate(engine)
    page = 5_000
    async with engine.begin() as connection:
        for start in range(0, len(people), page):
            chunk = people[start:start + page]
            await connection.execute(insert(persons), [
                {"id": p, "locale": "ru", "created_at": now, "registered_at": now, "phone_verified": False,
                 "email_verified": False} for p, _, _ in chunk])
            await connection.execute(insert(channel_accounts), [
                {"person_id": p, "channel": c, "external_id": a, "display_name": "", "created_at": now,
                 "last_seen_at": now if c in ("telegram", "vk") else None,
                 "verified_at": now if c in ("email", "sms") else None} for p, c, a in chunk])
            await connection.execute(insert(outbox_table), [
                {"person_id": p, "template": "notify.announcement", "params": {"text": f"notice {p}"},
                 "locale": "ru", "status": MessageStatus.PENDING.value, "bulk": True, "attempts": 0,
                 "next_attempt_at": now, "created_at": now, "round": 0} for p, _, _ in chunk])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequence past them
            from sqlalchemy import text

            await connection.execute(text("SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))"))
    await engine.dispose()
