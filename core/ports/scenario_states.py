"""Where each person is in each scenario; a row version catches two steps racing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass
class ScenarioState:
    person_id: int
    scenario: str
    state: str
    active: bool
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # 0: not stored yet


class ScenarioStateRepository(Protocol):
    async def load(self, person_id: int) -> dict[str, ScenarioState]: ...
    async def save(self, state: ScenarioState, now: datetime) -> None:
        """Insert (version 0) or update where the version still matches, then bump ``state.version``;
        ``ConflictError`` when another step changed it first."""
        ...
    async def drop(self, person_id: int) -> None: ...
