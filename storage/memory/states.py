"""Scenario states in memory: one row per (person, scenario), guarded by its version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.errors import ConflictError
from core.ports.scenario_states import ScenarioState
from storage.memory.table import Table, json_copy, utc


@dataclass(frozen=True)
class StateRow:
    person_id: int
    scenario: str
    state: str
    active: bool
    data: dict[str, Any]
    version: int
    updated_at: datetime

    def record(self) -> ScenarioState:
        return ScenarioState(self.person_id, self.scenario, self.state, self.active, json_copy(self.data),
                             self.version)


class MemoryStates:
    def __init__(self, states: Table[tuple[int, str], StateRow]) -> None:
        self._states = states

    async def load(self, person_id: int) -> dict[str, ScenarioState]:
        rows = self._states.where(lambda s: s.person_id == person_id)
        return {row.scenario: row.record() for row in rows}

    async def save(self, state: ScenarioState, now: datetime) -> None:
        key = (state.person_id, state.scenario)
        stored = self._states.get(key)
        if (stored.version if stored is not None else 0) != state.version:
            raise ConflictError(f"{state.scenario} of person {state.person_id} changed concurrently")
        self._states.put(key, StateRow(state.person_id, state.scenario, state.state, state.active,
                                       json_copy(state.data), state.version + 1, utc(now)))
        state.version += 1

    async def drop(self, person_id: int) -> None:
        for key, row in self._states.items():
            if row.person_id == person_id:
                self._states.delete(key)
