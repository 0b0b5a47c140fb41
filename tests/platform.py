"""Runs the whole platform (``run.bootstrap``) against our API emulators, for end-to-end tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bots.channel import ChannelPlugin
from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.registry import CHANNELS
from core.settings import Settings
from run import Platform, bootstrap, configure

TELEGRAM_TOKEN = "123456:test-token"
Launch = Callable[..., Awaitable[Platform]]  # the ``launch`` fixture: start the platform with settings overridden


def point_channels_at(monkeypatch: pytest.MonkeyPatch, telegram: TelegramEmulator | None, vk: VkEmulator | None,
                      **extra: str | None) -> None:
    """The channels' own settings, as the environment gives them: at our emulators."""
    values: dict[str, str | None] = {"TELEGRAM_BOT_TOKEN": None, "VK_BOT_TOKEN": None, "MAX_BOT_TOKEN": None,
                                     "OK_BOT_TOKEN": None, "WHATSAPP_TOKEN": None}
    if telegram is not None:
        values.update(TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_API_BASE=telegram.base_url)
    if vk is not None:
        values.update(VK_BOT_TOKEN="vk-test-token", VK_API_BASE=vk.base_url, VK_GROUP_ID=str(vk.group_id))
    values.update(extra)
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def platform_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}", "web_port": 0,
                              "sandbox": False, "photo_workers": 1}
    return Settings(_env_file=None, **{**values, **overrides})


async def started(settings: Settings, vk: VkEmulator | None = None,
                  plugins: Sequence[ChannelPlugin] = CHANNELS) -> Platform:
    """Start the platform; with ``vk`` given, wait until its bot listens (VK drops earlier events)."""
    platform = await bootstrap(configure(settings, plugins))
    if vk is not None:
        vk.polling.clear()
    await platform.start()
    if vk is not None and settings.bot_mode == "polling":
        await asyncio.wait_for(vk.polling.wait(), 10)
    return platform


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check() if asyncio.iscoroutinefunction(check) else check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition never became true")
        await asyncio.sleep(0.02)


def link_code_in(text: str) -> str:
    found = re.search(r"/link (\d{8})\b", text)
    assert found, text
    return found.group(1)
