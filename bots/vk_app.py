"""VK's Mini App (an ``open_app`` button) as a ``bots.mini_apps.MiniApp``: launch parameters checked with its secret.

VK opens the app's page with launch parameters in the query (``vk_user_id``, ``vk_app_id``, ``vk_ts``, …)
and ``sign``: the HMAC-SHA256 of the ``vk_*`` parameters, sorted by name and written as a query string,
keyed with the app's secret (its "protected key"), in URL-safe base64 without padding
(https://dev.vk.com/ru/mini-apps/development/launch-params-sign). What the page then sends becomes a
``message_new`` event of the person's dialog with the community, which the channel reads back through
vkbottle like any message they typed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from bots.mini_apps import Launch, LaunchRefused, check_age, check_size
from core.channels import ChannelName
from core.ports import NewUpdate

PLATFORM = "vk"
PAGE_PATH = f"/scan/{PLATFORM}"  # the address the app is given in VK's settings for developers


def launch_sign(params: dict[str, str], secret: str) -> str:
    """VK's ``sign`` of launch parameters: what a real launch carries (and what the emulator gives)."""
    signed = urlencode(sorted((k, v) for k, v in params.items() if k.startswith("vk_")))
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class VkMiniApp:
    platform = PLATFORM

    def __init__(self, channel: ChannelName, bot: str, group_id: int, app_id: int, secret: str) -> None:
        self.channel = channel
        self.bot = bot
        self.group_id = group_id
        self.app_id = app_id
        self._secret = secret

    def check(self, launch_data: str, now: datetime) -> Launch:
        check_size(launch_data)
        try:
            pairs = parse_qsl(launch_data.lstrip("?"), keep_blank_values=True, strict_parsing=True)
        except ValueError as e:
            raise LaunchRefused("malformed") from e
        params = dict(pairs)
        if len(params) != len(pairs):  # a name given twice: which one was signed is anyone's guess
            raise LaunchRefused("malformed")
        sign = params.get("sign", "")
        if not sign or not hmac.compare_digest(launch_sign(params, self._secret).encode(), sign.encode()):
            raise LaunchRefused("forged")
        if params.get("vk_app_id") != str(self.app_id):
            raise LaunchRefused("another_app")
        user, ts = params.get("vk_user_id", ""), params.get("vk_ts", "")
        if not (user.isdigit() and int(user) > 0 and ts.isdigit()):
            raise LaunchRefused("malformed")
        signed_at = datetime.fromtimestamp(int(ts), UTC)
        check_age(signed_at, now)
        return Launch(str(int(user)), sign, signed_at, {"id": int(user), "language": params.get("vk_language", "")})

    def typed(self, launch: Launch, text: str, key: str) -> NewUpdate:
        peer = int(launch.account)
        message = {"date": int(time.time()), "from_id": peer, "peer_id": peer, "id": 0, "out": 0, "text": text,
                   "attachments": [], "conversation_message_id": 0, "fwd_messages": []}
        # no message id of VK's: the intake knows this update by ``key`` (the channel reads ``event_id`` as its id)
        event = {"group_id": self.group_id, "type": "message_new", "event_id": f"scan:{key}", "v": "5.199",
                 "object": {"message": message}}
        return NewUpdate(f"scan:{key}", launch.account, event)
