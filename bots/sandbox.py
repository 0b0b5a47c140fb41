"""The sandbox: with no channel configured, Telegram and VK run against built-in emulators.

``/sandbox`` on the web app shows a Telegram user and a VK user side by side.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.telegram import TelegramSettings
from bots.vk import VkSettings
from bots.web.sandbox import sandbox_routes
from bots.webchat import WebChatSettings


@dataclass
class Sandbox:
    telegram: TelegramEmulator
    vk: VkEmulator

    def settings_for(self, channel: str) -> Any | None:
        """The settings that point a channel at its emulator (None: the channel has none)."""
        if channel == "telegram":
            # a bot id of its own per run: a restarted sandbox is a new bot, whose update ids never collide
            return TelegramSettings(_env_file=None, bot_token=f"{secrets.randbelow(10**9) + 10**9}:sandbox",
                                    api_base=self.telegram.base_url)
        if channel == "vk":
            return VkSettings(_env_file=None, bot_token="sandbox-token", group_id=self.vk.group_id,
                              api_base=self.vk.api_url)
        if channel == "webchat":  # the site's own chat needs no emulator
            return WebChatSettings(_env_file=None, WEBCHAT_ENABLED=True)
        return None

    def routes(self) -> list[web.AbstractRouteDef]:
        return sandbox_routes(self.telegram, self.vk)

    async def stop(self) -> None:
        await self.telegram.stop()
        await self.vk.stop()


async def start_sandbox() -> Sandbox:
    # a community id of its own per run, as a bot id for Telegram: a restarted sandbox is a new
    # community, whose message ids (counted from 1 again) never collide with the last run's
    telegram, vk = TelegramEmulator(), VkEmulator(group_id=200_000_000 + secrets.randbelow(10**8))
    await telegram.start()
    await vk.start()
    return Sandbox(telegram, vk)
