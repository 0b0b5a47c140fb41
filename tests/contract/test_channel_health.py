"""Channel health log: changes kept newest first; a channel's standing mark is its latest manual change."""

from __future__ import annotations

from core.channels import ChannelName
from core.ports import Store
from core.ports.channel_health import REASON_LENGTH, ChannelState, HealthChange
from tests.contract.helpers import NOW, abandon, at, read

TELEGRAM, VK = ChannelName("telegram"), ChannelName("vk")


def change(channel: ChannelName, state: ChannelState, *, manual: bool, minutes: int = 0,
           reason: str = "why") -> HealthChange:
    return HealthChange(channel, state, reason, "manager" if manual else "measured", at(minutes=minutes), manual)


async def record(store: Store, *changes: HealthChange) -> None:
    async with store.transaction() as tx:
        for one in changes:
            await tx.channel_health.record(one)


async def test_a_manual_down_mark_stands_until_a_manual_up(store: Store) -> None:
    assert await read(store, lambda tx: tx.channel_health.marks()) == {}
    await record(store, change(TELEGRAM, ChannelState.DOWN, manual=True, reason="blocked nationally"),
                 change(TELEGRAM, ChannelState.HEALTHY, manual=False, minutes=1))  # measured: not a mark
    marks = await read(store, lambda tx: tx.channel_health.marks())
    assert list(marks) == [TELEGRAM]
    assert (marks[TELEGRAM].state, marks[TELEGRAM].reason, marks[TELEGRAM].by) == (
        ChannelState.DOWN, "blocked nationally", "manager")
    assert marks[TELEGRAM].at == NOW and marks[TELEGRAM].id > 0
    await record(store, change(TELEGRAM, ChannelState.HEALTHY, manual=True, minutes=2))
    assert await read(store, lambda tx: tx.channel_health.marks()) == {}


async def test_marks_are_per_channel(store: Store) -> None:
    await record(store, change(TELEGRAM, ChannelState.DOWN, manual=True),
                 change(VK, ChannelState.DEGRADED, manual=True, minutes=1),
                 change(TELEGRAM, ChannelState.HEALTHY, manual=True, minutes=2))
    marks = await read(store, lambda tx: tx.channel_health.marks())
    assert {name: mark.state for name, mark in marks.items()} == {VK: ChannelState.DEGRADED}


async def test_history_is_newest_first_and_filters_by_channel(store: Store) -> None:
    await record(store, *(change(TELEGRAM if i % 2 else VK, ChannelState.DOWN if i % 3 else ChannelState.HEALTHY,
                                 manual=False, minutes=i, reason=f"r{i}") for i in range(6)))
    history = await read(store, lambda tx: tx.channel_health.history())
    assert [c.reason for c in history] == ["r5", "r4", "r3", "r2", "r1", "r0"]
    telegram = await read(store, lambda tx: tx.channel_health.history(TELEGRAM, limit=2))
    assert [c.reason for c in telegram] == ["r5", "r3"]


async def test_a_long_reason_is_cut_and_a_change_is_undone_with_its_unit_of_work(store: Store) -> None:
    await record(store, change(VK, ChannelState.DOWN, manual=True, reason="x" * 2000))
    (kept,) = await read(store, lambda tx: tx.channel_health.history())
    assert len(kept.reason) == REASON_LENGTH
    await abandon(store, lambda tx: tx.channel_health.record(change(VK, ChannelState.HEALTHY, manual=True)))
    assert list(await read(store, lambda tx: tx.channel_health.marks())) == [VK]
