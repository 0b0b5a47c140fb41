"""A channel is one module: this one is declared only here, and reaches the platform end to end.

Nothing outside this file knows it: ``run.bootstrap`` builds it from the plugin list, serves
the route it asks for, stores what arrives there in the intake, and the outbox sends the
replies through it, rendered for its own profile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import pytest
from aiohttp import web
from pydantic_settings import SettingsConfigDict

from bots.channel import ChannelPlugin, ChannelSettings, Mode
from bots.registry import CHANNELS
from core.channels import ChannelName, ChannelProfile, TextFormat
from core.delivery import DELIVERED, DeliveryResult
from core.events import InboundEvent
from core.intake import Intake
from core.ports import InboxEntry, NewUpdate
from core.templates import Rendered
from tests.platform import eventually, platform_settings, point_channels_at, started

PIGEON = ChannelName("pigeon")
LOFT: list[tuple[str, Rendered]] = []  # what the pigeons carried away


class PigeonSettings(ChannelSettings):
    model_config = SettingsConfigDict(env_prefix="PIGEON_", extra="ignore")

    loft: str | None = None

    @property
    def enabled(self) -> bool:
        return self.loft is not None


class PigeonPost:
    profile = ChannelProfile(PIGEON, "Pigeon post", TextFormat.PLAIN, max_text=300, max_label=12)

    def __init__(self, settings: PigeonSettings, mode: Mode) -> None:
        self.bot = f"pigeon:{settings.loft}"

    def routes(self, intake: Intake) -> Sequence[web.AbstractRouteDef]:
        async def arrive(request: web.Request) -> web.Response:
            note = await request.json()
            await intake.receive(self.bot, [NewUpdate(str(note["id"]), str(note["from"]), note)])
            return web.Response(text="coo")

        return [web.post("/pigeon", arrive)]

    async def start(self, intake: Intake) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def read(self, entry: InboxEntry) -> InboundEvent | None:
        return InboundEvent.from_text(PIGEON, entry.raw["from"], entry.raw["text"], update_id=entry.update_id)

    async def send(self, account_id: str, message: Rendered, idempotency_key: int) -> DeliveryResult:
        LOFT.append((account_id, message))
        return DELIVERED


PIGEON_PLUGIN = ChannelPlugin(PIGEON, PigeonSettings, PigeonPost, PigeonPost.profile)


@pytest.fixture
async def platform(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    point_channels_at(monkeypatch, None, None, PIGEON_LOFT="roof")
    LOFT.clear()
    running = await started(platform_settings(tmp_path), plugins=(*CHANNELS, PIGEON_PLUGIN))
    yield running
    await running.stop()


async def _fly(platform, number: int, text: str) -> None:
    async with aiohttp.ClientSession(platform.web_url) as http:
        answer = await http.post("/pigeon", json={"id": number, "from": "42", "text": text})
        assert answer.status == 200 and await answer.text() == "coo"


async def test_a_channel_declared_only_here_runs_end_to_end(platform) -> None:
    assert [c.profile.name for c in platform.channels] == ["pigeon"]
    await _fly(platform, 1, "/start")
    await eventually(lambda: len(LOFT) == 1)
    account, consent = LOFT[0]
    assert account == "42" and "согласие" in consent.text and not consent.is_html
    assert all(len(b.label) <= 12 for row in consent.buttons for b in row)  # its own label limit
    await _fly(platform, 2, "да")
    await eventually(lambda: len(LOFT) == 2)
    assert "Как вас зовут" in LOFT[1][1].text
    await _fly(platform, 2, "да")  # the same note again: stored once, answered once
    await asyncio.sleep(0.3)
    assert len(LOFT) == 2
