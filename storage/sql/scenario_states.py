"""Scenario states in SQL: an update only lands while the row version still matches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update

from core.errors import ConflictError
from core.ports.scenario_states import ScenarioState
from storage.sql.db import Db
from storage.tables.scenario_states import scenario_states as table

_load = select(table.c.scenario, table.c.state, table.c.active, table.c.data, table.c.version).where(
    table.c.person_id == bindparam("person_"))
_insert = insert(table)
_update = update(table).where(table.c.person_id == bindparam("person_"), table.c.scenario == bindparam("scenario_"),
                              table.c.version == bindparam("version_")).values(
    version=bindparam("next_version"), state=bindparam("state"), active=bindparam("active"), data=bindparam("data"),
    updated_at=bindparam("updated_at"))


class SqlScenarioStates:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def load(self, person_id: int) -> dict[str, ScenarioState]:
        rows = await self.db.rows(_load, {"person_": person_id})
        return {row.scenario: ScenarioState(person_id, row.scenario, row.state, row.active, dict(row.data),
                                            row.version) for row in rows}

    async def save(self, state: ScenarioState, now: datetime) -> None:
        values = {"state": state.state, "active": state.active, "data": dict(state.data), "updated_at": now}
        if state.version == 0:
            await self.db.execute(_insert, {"person_id": state.person_id, "scenario": state.scenario, "version": 1,
                                            **values})
        else:
            result = await self.db.execute(_update, {"person_": state.person_id, "scenario_": state.scenario,
                                                     "version_": state.version, "next_version": state.version + 1,
                                                     **values})
            if result.rowcount != 1:
                raise ConflictError(f"{state.scenario} of person {state.person_id} changed concurrently")
        state.version += 1

    async def drop(self, person_id: int) -> None:
        await self.db.execute(delete(table).where(table.c.person_id == person_id))
