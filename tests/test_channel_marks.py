"""Marking a whole channel down and up: from the command line, checked, logged, shown in the status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.channel_marks import MarkError, mark_channel, standings
from core.ports.channel_health import ChannelState, HealthChange
from storage.memory import MemoryStore
from tests.contract.helpers import NOW, at

ROOT = Path(__file__).parents[1]
KNOWN = ("telegram", "vk", "max")


def cli(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run([sys.executable, str(ROOT / "run.py"), "channel", *args], cwd=database.parent,
                          env=environment, capture_output=True, text=True, timeout=120)


async def test_a_mark_needs_a_known_channel_and_a_reason_and_up_needs_a_mark() -> None:
    store = MemoryStore()
    async with store.transaction() as tx:
        with pytest.raises(MarkError, match="unknown channel 'telegramm'"):
            await mark_channel(tx, "telegramm", ChannelState.DOWN, "blocked", "anna", NOW, KNOWN)
        with pytest.raises(MarkError, match="say why"):
            await mark_channel(tx, "telegram", ChannelState.DOWN, "  \n ", "anna", NOW, KNOWN)
        with pytest.raises(MarkError, match="longer than"):
            await mark_channel(tx, "telegram", ChannelState.DOWN, "x" * 501, "anna", NOW, KNOWN)
        with pytest.raises(MarkError, match="not marked"):
            await mark_channel(tx, "telegram", ChannelState.HEALTHY, "", "anna", NOW, KNOWN)
        change = await mark_channel(tx, "telegram", ChannelState.DOWN, " blocked\n since 10:00 ", "anna", NOW, KNOWN)
        assert (change.reason, change.by, change.manual) == ("blocked since 10:00", "anna", True)


async def test_standing_is_the_mark_else_the_latest_measured_change() -> None:
    store = MemoryStore()
    async with store.transaction() as tx:
        await tx.channel_health.record(HealthChange("vk", ChannelState.DOWN, "5 of 5 failed", "measured", NOW, False))
        await tx.channel_health.record(HealthChange("vk", ChannelState.HEALTHY, "a probe got through", "measured",
                                                    at(minutes=1), False))
        await mark_channel(tx, "telegram", ChannelState.DOWN, "national block", "anna", at(minutes=2), KNOWN)
        telegram, vk, max_ = await standings(tx, list(KNOWN))
    assert (telegram.state, telegram.reason, telegram.mark is not None) == (ChannelState.DOWN, "national block", True)
    assert (vk.state, vk.reason, vk.mark) == (ChannelState.HEALTHY, "a probe got through", None)
    assert (max_.state, max_.mark, max_.measured) == (ChannelState.HEALTHY, None, None)


def test_the_command_line_marks_down_shows_it_and_marks_up(tmp_path) -> None:
    database = tmp_path / "promo.db"
    refused = cli(database, "down", "telegram")
    assert refused.returncode == 2 and "--reason" in refused.stderr
    unknown = cli(database, "down", "telegrm", "--reason", "blocked")
    assert unknown.returncode == 2 and "unknown channel 'telegrm'" in unknown.stderr
    marked = cli(database, "down", "telegram", "--reason", "заблокирован в РФ с 10:00")
    assert marked.returncode == 0, marked.stderr
    assert "telegram marked down: заблокирован в РФ с 10:00" in marked.stdout
    status = cli(database, "status")
    assert status.returncode == 0, status.stderr
    line = next(row for row in status.stdout.splitlines() if row.startswith("telegram"))
    assert "down" in line and "marked" in line and "заблокирован" in line
    assert "cli" in status.stdout.split("latest changes:")[1]
    lifted = cli(database, "up", "telegram")
    assert lifted.returncode == 0 and "telegram marked up" in lifted.stdout
    again = cli(database, "up", "telegram")
    assert again.returncode == 2 and "not marked" in again.stderr
    line = next(row for row in cli(database, "status").stdout.splitlines() if row.startswith("telegram"))
    assert "healthy" in line
