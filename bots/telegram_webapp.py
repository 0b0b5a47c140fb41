"""Telegram's Mini App (a ``web_app`` button) as a ``bots.mini_apps.MiniApp``: initData checked with aiogram.

Telegram hands the page ``initData``, signed with a key derived from the bot token
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app); aiogram's
``safe_parse_webapp_init_data`` checks that signature as Telegram documents it. What the page then
sends becomes a Telegram ``message`` update of the person's private chat with the bot, which the
channel reads back through aiogram like any message they typed.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aiogram.utils.web_app import safe_parse_webapp_init_data

from bots.mini_apps import Launch, LaunchRefused, check_age, check_size
from core.channels import ChannelName
from core.ports import NewUpdate

PLATFORM = "telegram"
PAGE_PATH = f"/scan/{PLATFORM}"
USER_FIELDS = ("first_name", "last_name", "username", "language_code")


class TelegramMiniApp:
    platform = PLATFORM

    def __init__(self, channel: ChannelName, bot: str, token: str, public_url: str) -> None:
        self.channel = channel
        self.bot = bot
        self.url = f"{public_url.rstrip('/')}{PAGE_PATH}"  # what the ``web_app`` button opens
        self._token = token

    def check(self, launch_data: str, now: datetime) -> Launch:
        check_size(launch_data)
        try:
            data = safe_parse_webapp_init_data(self._token, launch_data)
        except (ValueError, TypeError) as e:  # a wrong hash, or fields no Telegram client sends
            raise LaunchRefused("forged") from e
        check_age(data.auth_date, now)
        if data.user is None:  # launched where there is no person of ours (inline mode)
            raise LaunchRefused("malformed")
        user = {name: getattr(data.user, name) for name in USER_FIELDS if getattr(data.user, name)}
        return Launch(str(data.user.id), data.hash, data.auth_date, {"id": data.user.id, **user})

    def typed(self, launch: Launch, text: str, key: str) -> NewUpdate:
        user: dict[str, Any] = {"is_bot": False, "first_name": "", **launch.user}
        message = {"message_id": 0, "date": int(time.time()), "from": user, "text": text,
                   "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]}}
        # the update's own number is ours, not Telegram's: the intake knows this update by ``key`` instead
        return NewUpdate(f"scan:{key}", launch.account, {"update_id": 0, "message": message})
