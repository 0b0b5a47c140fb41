"""Runs the whole platform (run.py's ``Platform``) against our API emulators, for end-to-end tests."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from core.settings import Settings
from run import Platform


def platform_settings(tmp_path: Path, telegram: TelegramEmulator, vk: VkEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'platform.db'}",
        "telegram_bot_token": "123456:test-token", "telegram_api_base": telegram.base_url,
        "vk_bot_token": "vk-test-token", "vk_api_base": vk.base_url, "vk_group_id": vk.group_id,
        "web_port": 0, "sandbox": False,
    }
    return Settings(_env_file=None, **{**values, **overrides})


async def started(settings: Settings, vk: VkEmulator | None = None) -> Platform:
    """Start the platform; with ``vk`` given, wait until its bot listens (VK drops earlier events)."""
    platform = Platform(settings)
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
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)
