"""What a channel is to the platform: one module in ``bots/`` that declares this, and nothing else changes.

A module exposes a ``ChannelPlugin``: its settings (read from the environment under its own
names), whether they enable it, and how to build it. The built channel receives updates
(polling, or the web routes it asks for), hands them to the durable intake, reads a stored
update back into the core's event through its own library, and sends rendered messages.
``run.py`` loops over the registry (``bots.registry``) and never names a channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ChannelPlugin:
    name: str
    settings: type[ChannelSettings]
    build: Callable[[Any, Mode], Channel]  # (its settings, the platform's mode) -> the channel
