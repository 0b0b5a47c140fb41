"""Starts the platform: storage, the scenario engine, the outbox, both bots and the web app, in one loop.

    python run.py

With no bot tokens configured it runs the sandbox: both bots talk to built-in
Telegram and VK emulators, and http://127.0.0.1:8080/sandbox lets you chat with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import ValidationError

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.receipt_check import HttpReceiptVerifier
from bots.telegram import TelegramChannel
from bots.vk import VkChannel
from bots.web.app import build_app
from bots.web.sandbox import attach_sandbox
from core.delivery import ChannelSender
from core.engine import Engine
from core.outbox import Outbox
from core.scenarios import all_scenarios
from core.settings import Settings, describe_error
from core.templates import Templates
from core.verification import ReceiptChecker
from storage.database import StorageError, create_engine, migrate, session_factory
from storage.payouts import as_csv, mark_paid, payouts_due
from storage.store import SqlStore

log = logging.getLogger("promo")
SANDBOX_TELEGRAM_TOKEN = "123456789:sandbox-token"
SANDBOX_VK_TOKEN = "sandbox-token"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Platform:
    """Everything ``python run.py`` runs, started and stopped as one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.channels: dict[str, TelegramChannel | VkChannel] = {}
        self.emulators: tuple[TelegramEmulator, VkEmulator] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._web: web.AppRunner | None = None
        self.web_url = ""

    async def start(self) -> None:
        settings = self.settings
        self.database = create_engine(settings.database_url)
        await migrate(self.database)
        self.store = SqlStore(session_factory(self.database))
        self.templates = Templates.load(default_locale=settings.locale)
        self.engine = Engine(self.store, all_scenarios(), settings, clock=utc_now)
        self.outbox = Outbox(self.store, self.templates, {}, clock=utc_now)
        self.engine.on_committed = self.outbox.submit
        if not self.engine.services.qr.has_pyzbar:
            log.warning("the zbar library is not installed: receipts are read with zxing-cpp alone "
                        "(apt-get install libzbar0 adds pyzbar as a second reader)")
        self.verifier: HttpReceiptVerifier | None = None
        if settings.receipt_check_url:
            token = settings.receipt_check_token.get_secret_value() if settings.receipt_check_token else ""
            self.verifier = HttpReceiptVerifier(settings.receipt_check_url, token)
            checker = ReceiptChecker(self.store, self.verifier, utc_now,
                                     timedelta(minutes=settings.receipt_check_interval_minutes),
                                     notify=self.outbox.wake)
            self._checker: ReceiptChecker | None = checker
        else:
            self._checker = None

        app = build_app(settings)
        telegram_token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
        vk_token = settings.vk_bot_token.get_secret_value() if settings.vk_bot_token else None
        telegram_base, vk_base, vk_group = settings.telegram_api_base, settings.vk_api_base, settings.vk_group_id
        if settings.sandbox_enabled:
            telegram_emulator, vk_emulator = TelegramEmulator(), VkEmulator()
            telegram_base, vk_base = await telegram_emulator.start(), await vk_emulator.start()
            vk_base = vk_emulator.api_url
            telegram_token, vk_token, vk_group = SANDBOX_TELEGRAM_TOKEN, SANDBOX_VK_TOKEN, vk_emulator.group_id
            self.emulators = (telegram_emulator, vk_emulator)
            attach_sandbox(app, telegram_emulator, vk_emulator)
        if telegram_token:
            self.channels["telegram"] = TelegramChannel(telegram_token, telegram_base, self.engine.handle)
        if vk_token:
            self.channels["vk"] = VkChannel(vk_token, vk_base, vk_group, self.engine.handle)
        senders: dict[str, ChannelSender] = dict(self.channels)
        self.outbox.senders = senders

        webhooks = settings.bot_mode == "webhook" and not settings.sandbox_enabled
        if webhooks:
            if "telegram" in self.channels:
                self.channels["telegram"].register_webhook(app, "/webhook/telegram", settings.webhook_path_secret)
            if "vk" in self.channels:
                self.channels["vk"].register_callback(app, "/webhook/vk", settings.vk_callback_secret,
                                                      settings.vk_confirmation_code)
        self._web = web.AppRunner(app, access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, settings.web_host, settings.web_port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.web_url = f"http://{settings.web_host}:{port}"

        self._tasks.append(asyncio.create_task(self.outbox.run()))
        if self._checker is not None:
            self._tasks.append(asyncio.create_task(self._checker.run()))
        if not webhooks:
            for channel in self.channels.values():
                await channel.start_polling()
        log.info("platform started: %s, channels: %s, web: %s%s", self.database.url.get_backend_name(),
                 ", ".join(self.channels) or "none", self.web_url, " (sandbox: /sandbox)" if self.emulators else "")

    async def stop(self) -> None:
        """Stop taking updates, finish the ones taken, deliver what is queued, then close."""
        for channel in self.channels.values():
            await channel.stop()
        self.outbox.stop()
        if self._checker is not None:
            self._checker.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.verifier is not None:
            await self.verifier.close()
        if self._web is not None:
            await self._web.cleanup()
        if self.emulators is not None:
            for emulator in self.emulators:
                await emulator.stop()
        await self.database.dispose()


async def serve(settings: Settings) -> None:
    platform = Platform(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await platform.start()
    print(f"ready: {platform.web_url}" + (f"  sandbox: {platform.web_url}/sandbox" if platform.emulators else ""),
          flush=True)
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await platform.stop()


async def manage(settings: Settings, command: list[str]) -> int:
    """Managers' commands: ``export-payouts`` (CSV to stdout) and ``payout-paid ID``."""
    database = create_engine(settings.database_url)
    await migrate(database)
    store = SqlStore(session_factory(database))
    try:
        if command == ["export-payouts"]:
            sys.stdout.write(as_csv(await payouts_due(store)))
            return 0
        if len(command) == 2 and command[0] == "payout-paid" and command[1].isdigit():
            if await mark_paid(store, int(command[1]), utc_now()):
                print(f"payout {command[1]} marked paid")
                return 0
            print(f"no requested payout {command[1]}", file=sys.stderr)
            return 1
        print("usage: run.py [export-payouts | payout-paid ID]", file=sys.stderr)
        return 2
    finally:
        await database.dispose()


def main() -> int:
    try:
        settings = Settings()
    except ValidationError as e:
        print(describe_error(e), file=sys.stderr)
        return 2
    if len(sys.argv) > 1:
        try:
            return asyncio.run(manage(settings, sys.argv[1:]))
        except StorageError as e:
            print(f"start-up error: {e}", file=sys.stderr)
            return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    vkbottle_log = logging.getLogger("vkbottle")
    vkbottle_log.handlers.clear()  # vkbottle adds its own console handler at import: log once, through ours
    vkbottle_log.setLevel(logging.WARNING)
    try:
        asyncio.run(serve(settings))
    except StorageError as e:
        print(f"start-up error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"start-up error: cannot serve on {settings.web_host}:{settings.web_port}: {e.strerror}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
