"""Channel health log in memory: appended to, never changed."""

from __future__ import annotations

from dataclasses import replace

from core.channels import ChannelName
from core.ports.channel_health import BY_LENGTH, REASON_LENGTH, ChannelState, HealthChange
from storage.memory.table import Table, utc


class MemoryChannelHealth:
    def __init__(self, table: Table[int, HealthChange]) -> None:
        self._log = table

    async def record(self, change: HealthChange) -> None:
        key = self._log.next_id()
        self._log.put(key, replace(change, id=key, at=utc(change.at), reason=change.reason[:REASON_LENGTH],
                                   by=change.by[:BY_LENGTH]))

    async def marks(self) -> dict[ChannelName, HealthChange]:
        latest: dict[ChannelName, HealthChange] = {}
        for change in self._log.rows():
            if change.manual:
                latest[change.channel] = change
        return {name: change for name, change in latest.items() if change.state is not ChannelState.HEALTHY}

    async def history(self, channel: ChannelName | None = None, limit: int = 50) -> list[HealthChange]:
        changes = [c for c in self._log.rows() if channel is None or c.channel == channel]
        return list(reversed(changes))[:limit]
