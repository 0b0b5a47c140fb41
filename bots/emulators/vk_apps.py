"""VK's side of a Mini App, for the emulator: the apps it knows and the launch it opens an ``open_app`` button with.

A VK client opens the app's address (set in VK's settings for developers) with launch parameters
and their ``sign`` — HMAC-SHA256 of the sorted ``vk_*`` parameters as a query string, keyed with the
app's protected key, URL-safe base64 without padding
(https://dev.vk.com/ru/mini-apps/development/launch-params-sign) — and ``#<hash>`` of the button.
Written out here on purpose, not borrowed from the code that checks it: the two must agree on their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class App:
    app_id: int
    secret: str
    url: str


def launch_params(app: App, user_id: int, ts: int | None = None, platform: str = "mobile_android") -> dict[str, str]:
    params = {"vk_access_token_settings": "", "vk_app_id": str(app.app_id), "vk_are_notifications_enabled": "0",
              "vk_is_app_user": "1", "vk_is_favorite": "0", "vk_language": "ru", "vk_platform": platform,
              "vk_ref": "im_chat", "vk_ts": str(int(time.time()) if ts is None else ts), "vk_user_id": str(user_id)}
    signed = urlencode(dict(sorted(item for item in params.items() if item[0][:3] == "vk_")), doseq=True)
    digest = hmac.new(app.secret.encode(), signed.encode(), hashlib.sha256).digest()
    return {**params, "sign": base64.b64encode(digest).decode().rstrip("=").replace("+", "-").replace("/", "_")}


def launch_url(app: App, user_id: int, hash_: str = "", **launch: Any) -> str:
    return f"{app.url}?{urlencode(launch_params(app, user_id, **launch))}" + (f"#{hash_}" if hash_ else "")


def open_app_problem(action: dict[str, Any], apps: dict[int, App]) -> str | None:
    """VK's keyboard check for an ``open_app`` button: an app it knows, the community as owner, a label."""
    if action.get("type") != "open_app":
        return None
    if not isinstance(action.get("app_id"), int) or action["app_id"] not in apps:
        return "Keyboard format is invalid: app_id is not a Mini App"
    if not isinstance(action.get("owner_id"), int) or not action.get("label"):
        return "Keyboard format is invalid: open_app needs owner_id and label"
    return None
