"""A messenger's Mini App: a page of our web app opened inside the chat, the person proved by the messenger.

Telegram (``web_app`` buttons) and VK (``open_app`` buttons) open a page of ours in the chat and hand
it launch data they signed: Telegram's ``initData`` with the bot token, VK's launch parameters with the
app's secret. The page passes that data back with whatever it sends us. A channel that offers such a
page gives the web app a ``MiniApp``: it checks the signature and the launch's age, names the account,
and turns what the page sent into an update of that account — stored by the intake and read back by the
channel like anything the person typed. Nothing the page says about who it is counts: only the
signature does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.channels import ChannelName
from core.ports import NewUpdate

# launch data older than this is refused: a copy of someone's launch (a log, a shared screen) does not stay a
# key to their chat, while a person scanning several receipts in one sitting never meets the limit
MAX_LAUNCH_AGE = timedelta(hours=1)
# a launch signed this much ahead of our clock is a clock that runs fast, not a launch from the future
CLOCK_SKEW = timedelta(minutes=5)
MAX_LAUNCH_DATA = 4096  # characters: real launch data is under 1,000; a bigger one is not hashed at all


class LaunchRefused(Exception):
    """The launch data does not prove who opened the page; ``reason`` is what the page is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "missing", "malformed", "forged", "expired", "another_app"


@dataclass(frozen=True)
class Launch:
    """Who opened the page, as the messenger signed it."""

    account: str  # the person's account in the channel: where the bot answers them
    signature: str  # the launch's own signature: the same launch and the same text are one update
    signed_at: datetime
    user: dict[str, object]  # what the messenger says of the person (name, language), used as their messages'


class MiniApp(Protocol):
    channel: ChannelName
    bot: str  # the intake's key of the channel's bot
    platform: str  # the page's own path and bridge: ``/scan/<platform>`` loads that messenger's script

    def check(self, launch_data: str, now: datetime) -> Launch:
        """The launch the page was opened with, proved; ``LaunchRefused`` when it proves nothing."""
        ...

    def typed(self, launch: Launch, text: str, key: str) -> NewUpdate:
        """``text`` as an update of the launch's account, in the channel's own shape, as if the person had typed
        it in the chat; ``key`` identifies it in the intake (the same key twice is one update)."""
        ...


def check_age(signed_at: datetime, now: datetime) -> None:
    if signed_at < now - MAX_LAUNCH_AGE:
        raise LaunchRefused("expired")
    if signed_at > now + CLOCK_SKEW:
        raise LaunchRefused("malformed")


def check_size(launch_data: str) -> None:
    if not launch_data:
        raise LaunchRefused("missing")
    if len(launch_data) > MAX_LAUNCH_DATA:
        raise LaunchRefused("malformed")


def offered_by(channels: Iterable[object]) -> list[MiniApp]:
    """The Mini Apps the running channels open (a channel offers one as its ``mini_app``, None when not set up)."""
    return [app for channel in channels if (app := getattr(channel, "mini_app", None)) is not None]
