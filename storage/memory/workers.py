"""Worker heartbeats in memory; the outbox and the inbox ask them who is alive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.memory.table import Table, utc


@dataclass(frozen=True)
class WorkerRow:
    id: str
    started_at: datetime
    seen_at: datetime


class Workers(Table[str, WorkerRow]):
    def alive(self, worker_id: str, since: datetime) -> bool:
        """Whether the worker beat at or after ``since``."""
        row = self.get(worker_id)
        return row is not None and row.seen_at >= since


class MemoryWorkers:
    def __init__(self, workers: Workers) -> None:
        self._workers = workers

    async def beat(self, worker_id: str, now: datetime) -> None:
        row = self._workers.get(worker_id)
        started = row.started_at if row is not None else utc(now)
        self._workers.put(worker_id, WorkerRow(worker_id, started, utc(now)))

    async def forget(self, worker_id: str) -> None:
        self._workers.delete(worker_id)

    async def forget_others(self, worker_id: str) -> int:
        others = [key for key, _ in self._workers.items() if key != worker_id]
        for key in others:
            self._workers.delete(key)
        return len(others)
