"""The sandbox: with no channel configured, every channel that has an emulator runs against it.

``/sandbox`` on the web app shows one chat column per emulated messenger, side by side. Which
channels take part is each plugin's own ``sandbox`` factory: a new channel joins by declaring one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bots.channel import ChannelPlugin, ChannelSettings, SandboxTwin
from bots.web.sandbox import sandbox_routes


@dataclass
class Sandbox:
    twins: dict[str, SandboxTwin]

    def settings_for(self, channel: str) -> ChannelSettings | None:
        """The settings that point a channel at its emulator (None: the channel has none)."""
        twin = self.twins.get(channel)
        return None if twin is None else twin.settings

    def emulator(self, channel: str) -> Any:
        return self.twins[channel].emulator

    def routes(self) -> list[web.AbstractRouteDef]:
        return sandbox_routes({name: twin.chat for name, twin in self.twins.items() if twin.chat is not None})

    async def stop(self) -> None:
        for twin in self.twins.values():
            with contextlib.suppress(Exception):  # one emulator failing to stop must not keep the others up
                await twin.stop()


async def start_sandbox(plugins: Sequence[ChannelPlugin], web_url: str) -> Sandbox:
    sandbox = Sandbox({})
    try:
        for plugin in plugins:
            if plugin.sandbox is not None:
                sandbox.twins[plugin.name] = await plugin.sandbox(web_url)
    except BaseException:
        await sandbox.stop()
        raise
    return sandbox
