"""Which platform processes are alive: leases of a worker that stopped beating are taken over."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class WorkerRepository(Protocol):
    async def beat(self, worker_id: str, now: datetime) -> None: ...
    async def forget(self, worker_id: str) -> None: ...
    async def forget_others(self, worker_id: str) -> int:
        """Where only one process may run, every other worker is a dead one."""
        ...
