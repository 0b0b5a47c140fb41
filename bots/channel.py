"""What a channel is to the platform: one module in ``bots/`` that declares this, and nothing else changes.

A module exposes a ``ChannelPlugin``: its settings (read from the environment under its own
names), whether they enable it, and how to build it. The built channel receives updates
(polling, or the web routes it asks for), hands them to the durable intake, reads a stored
update back into the core's event through its own library, and sends rendered messages.
``run.py`` loops over the registry (``bots.registry``) and never names a channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from aiohttp import web
from pydantic_settings import BaseSettings

from core.channels import ChannelProfile
from core.delivery import DeliveryResult
from core.events import InboundEvent
from core.intake import Intake
from core.ports import InboxEntry
from core.templates import Rendered

Mode = Literal["polling", "webhook"]


class Channel(Protocol):
    profile: ChannelProfile
    bot: str  # the intake's key of this bot: channel and bot identity ("telegram:123456")

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        """Web routes the channel needs on the platform's web app (webhooks, callbacks, pages)."""
        ...

    async def start(self, intake: Intake) -> None:
        """Begin taking updates (polling starts here; webhook routes are already served)."""
        ...

    async def stop(self) -> None:
        """Stop taking updates; updates already stored stay in the intake. Sending still works."""
        ...

    async def close(self) -> None:
        """Let go of connections, once nothing is being sent any more."""
        ...

    async def read(self, entry: InboxEntry) -> InboundEvent | None: ...

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult: ...


class ChannelSettings(BaseSettings):
    """A channel's own settings; ``enabled`` says whether this configuration turns the channel on."""

    @property
    def enabled(self) -> bool:
        raise NotImplementedError

    def check(self, mode: Mode) -> None:
        """Raise ``ValueError("SETTING_NAME: why")`` when this configuration cannot run in ``mode``."""


class SandboxChat(Protocol):
    """A person chatting with the bot on the sandbox page, through the channel's emulator."""

    title: str  # the heading of its column ("Telegram")
    first_user: int  # the user id the page starts as
    shares_contact: bool  # the page offers "share my contact"

    def shown(self, user_id: int) -> list[dict[str, Any]]:
        """The bot's messages to the user, oldest first: ``{"id", "text", "html", "buttons"}``, each button
        ``{"label", "payload"?, "url"?, "contact"?, "reply"?}`` in rows."""
        ...

    async def say(self, user_id: int, text: str) -> None: ...

    async def press(self, user_id: int, payload: str, label: str) -> None: ...

    async def photo(self, user_id: int, data: bytes) -> None: ...

    async def contact(self, user_id: int, phone: str) -> None: ...


@dataclass
class SandboxTwin:
    """A channel's emulator, started for the sandbox: the settings that point the channel at it."""

    settings: ChannelSettings
    stop: Callable[[], Awaitable[None]]
    chat: SandboxChat | None = None  # None: the sandbox page has no column for it
    emulator: Any = None  # the emulator itself, for tests that drive it directly


@dataclass(frozen=True)
class ChannelPlugin:
    name: str
    settings: type[ChannelSettings]
    build: Callable[[Any, Mode], Channel]  # (its settings, the platform's mode) -> the channel
    profile: ChannelProfile  # what the core knows of the channel, running or not
    # starts its emulator for the sandbox, given where the platform's web app is reached (its webhooks, links)
    sandbox: Callable[[str], Awaitable[SandboxTwin]] | None = None
    quiet_loggers: tuple[str, ...] = field(default=())  # its library's chatty loggers, kept at WARNING


class Receiving:
    """A channel taking updates, as a platform service: the last to start, the first to stop."""

    def __init__(self, channel: Channel, intake: Intake) -> None:
        self.name = f"{channel.profile.name} updates"
        self.channel = channel
        self.intake = intake

    async def start(self) -> None:
        await self.channel.start(self.intake)

    async def run(self) -> None:
        return None

    async def stop(self) -> None:
        await self.channel.stop()


class Connections:
    """The channels' connections, let go once nothing is sent any more (after the outbox stops)."""

    name = "channel connections"

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = list(channels)

    async def start(self) -> None:
        return None

    async def run(self) -> None:
        return None

    async def stop(self) -> None:
        for channel in self.channels:
            await channel.close()
