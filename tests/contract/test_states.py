"""Where each person is in each scenario, guarded by a row version: ``tx.states``."""

from __future__ import annotations

from core.ports import ScenarioState, Store
from tests.contract.helpers import NOW, abandon, at, conflicts, new_people, new_person, read


async def test_a_new_state_is_stored_at_version_one(store: Store) -> None:
    person_id = await new_person(store)
    state = ScenarioState(person_id, "registration", "ask_name", True, {"tries": 1, "seen": ["a", "b"]})
    async with store.transaction() as tx:
        await tx.states.save(state, NOW)
    assert state.version == 1
    loaded = await read(store, lambda tx: tx.states.load(person_id))
    assert loaded == {"registration": ScenarioState(person_id, "registration", "ask_name", True,
                                                    {"tries": 1, "seen": ["a", "b"]}, 1)}


async def test_each_save_bumps_the_version_by_one(store: Store) -> None:
    person_id = await new_person(store)
    state = ScenarioState(person_id, "registration", "ask_name", True)
    async with store.transaction() as tx:
        await tx.states.save(state, NOW)
    async with store.transaction() as tx:
        loaded = (await tx.states.load(person_id))["registration"]
        loaded.state, loaded.data = "ask_phone", {"name": "Anna"}
        await tx.states.save(loaded, at(minutes=1))
        assert loaded.version == 2
        loaded.active = False
        await tx.states.save(loaded, at(minutes=2))
        assert loaded.version == 3
    again = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    assert (again.state, again.active, again.data, again.version) == ("ask_phone", False, {"name": "Anna"}, 3)


async def test_a_state_saved_with_a_stale_version_conflicts(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(person_id, "registration", "ask_name", True), NOW)
    first = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    second = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    first.state = "ask_phone"
    async with store.transaction() as tx:
        await tx.states.save(first, NOW)
    second.state = "ask_email"
    await conflicts(store, lambda tx: tx.states.save(second, NOW))
    assert second.version == 1  # not bumped by a save that failed
    stored = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    assert (stored.state, stored.version) == ("ask_phone", 2)


async def test_a_new_state_where_one_is_stored_conflicts(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(person_id, "registration", "ask_name", True), NOW)
    await conflicts(store, lambda tx: tx.states.save(ScenarioState(person_id, "registration", "other", True), NOW))
    stored = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    assert (stored.state, stored.version) == ("ask_name", 1)


async def test_updating_a_state_that_is_not_stored_conflicts(store: Store) -> None:
    person_id = await new_person(store)
    await conflicts(store, lambda tx: tx.states.save(ScenarioState(person_id, "registration", "x", True,
                                                                   version=3), NOW))
    assert await read(store, lambda tx: tx.states.load(person_id)) == {}


async def test_states_are_kept_per_person_and_scenario(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(first, "registration", "done", False), NOW)
        await tx.states.save(ScenarioState(first, "receipts", "wait_photo", True), NOW)
        await tx.states.save(ScenarioState(second, "registration", "ask_name", True), NOW)
    mine = await read(store, lambda tx: tx.states.load(first))
    assert {name: (s.person_id, s.state) for name, s in mine.items()} == {
        "registration": (first, "done"), "receipts": (first, "wait_photo")}
    assert await read(store, lambda tx: tx.states.load(999_999)) == {}


async def test_loaded_states_are_copies(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(person_id, "registration", "ask_name", True, {"list": [1]}), NOW)
    async with store.transaction() as tx:
        loaded = (await tx.states.load(person_id))["registration"]
        loaded.state = "changed"
        loaded.data["list"].append(2)
        loaded.data["new"] = True
        assert (await tx.states.load(person_id))["registration"].data == {"list": [1]}
    stored = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    assert (stored.state, stored.data, stored.version) == ("ask_name", {"list": [1]}, 1)


async def test_data_saved_is_not_changed_by_later_changes_of_the_callers_state(store: Store) -> None:
    person_id = await new_person(store)
    state = ScenarioState(person_id, "registration", "ask_name", True, {"list": [1]})
    async with store.transaction() as tx:
        await tx.states.save(state, NOW)
        state.data["list"].append(2)
    stored = (await read(store, lambda tx: tx.states.load(person_id)))["registration"]
    assert stored.data == {"list": [1]}


async def test_drop_forgets_every_state_of_the_person_only(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(first, "registration", "done", False), NOW)
        await tx.states.save(ScenarioState(first, "receipts", "wait_photo", True), NOW)
        await tx.states.save(ScenarioState(second, "registration", "ask_name", True), NOW)
    async with store.transaction() as tx:
        await tx.states.drop(first)
    assert await read(store, lambda tx: tx.states.load(first)) == {}
    assert set(await read(store, lambda tx: tx.states.load(second))) == {"registration"}
    # after a drop the scenario starts again from version 0
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(first, "registration", "ask_name", True), NOW)


async def test_states_saved_in_an_abandoned_unit_are_not_kept(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(person_id, "registration", "ask_name", True), NOW)

    async def change(tx):
        loaded = (await tx.states.load(person_id))["registration"]
        loaded.state = "ask_phone"
        await tx.states.save(loaded, NOW)
        await tx.states.save(ScenarioState(person_id, "receipts", "wait_photo", True), NOW)

    await abandon(store, change)
    stored = await read(store, lambda tx: tx.states.load(person_id))
    assert set(stored) == {"registration"}
    assert (stored["registration"].state, stored["registration"].version) == ("ask_name", 1)


async def test_a_drop_in_an_abandoned_unit_is_undone(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.states.save(ScenarioState(person_id, "registration", "ask_name", True), NOW)
    await abandon(store, lambda tx: tx.states.drop(person_id))
    assert set(await read(store, lambda tx: tx.states.load(person_id))) == {"registration"}
