from __future__ import annotations

import asyncio

import pytest

from core.context import Context
from core.engine import Engine
from core.errors import ScenarioDeclarationError
from core.events import EventKind, InboundEvent
from core.machine import Catalog, Scenario, State, on
from core.scenarios import core_scenarios
from core.scenarios.registration import REGISTRATION
from tests.chat import TELEGRAM, VK, Chat
from tests.conftest import services_for


async def count(ctx: Context) -> None:
    ctx.data["count"] = ctx.data.get("count", 0) + 1
    ctx.say("common.unexpected")


async def explode(ctx: Context) -> None:
    raise RuntimeError("a bug in an action")


COUNTER = Scenario(
    name="counter", commands=("/count",), initial=("counting",), needs_registration=False,
    states=(State("counting", transitions=(
        on(EventKind.TEXT, action=count),
        on(EventKind.PHOTO, action=explode),
    )),),
)


async def _counter(store, person_id: int) -> dict:
    async with store.transaction() as tx:
        return (await tx.states.load(person_id))["counter"].data


def _engine(store, settings, clock, photo_reader) -> Engine:
    return Engine(store, Catalog([*core_scenarios(), COUNTER]), services_for(settings, photo_reader), settings,
                  clock=clock)


async def test_redelivered_update_is_applied_once(telegram: Chat, store) -> None:
    event = InboundEvent.from_text(TELEGRAM, "1001", "/start", update_id="42")
    assert [m.template for m in await telegram.engine.handle(event)] == ["registration.consent"]
    assert await telegram.engine.handle(event) == []
    async with store.transaction() as tx:
        found = await tx.people.find_by_account(TELEGRAM, "1001")
        assert found is not None
        outbox = await tx.messages.entries()
        inbound = await tx.messages.inbound(found[1].id)
    assert (len(outbox), len(inbound)) == (1, 1)


async def test_same_update_id_in_another_channel_is_a_different_update(engine: Engine) -> None:
    first = InboundEvent.from_text(TELEGRAM, "1", "/start", update_id="7")
    second = InboundEvent.from_text(VK, "1", "/start", update_id="7")
    assert await engine.handle(first) and await engine.handle(second)


async def test_fifty_concurrent_events_for_one_person_lose_nothing(store, settings, clock, photo_reader) -> None:
    # two engines over one database stand for two processes: only row versions keep them honest
    engines = [_engine(store, settings, clock, photo_reader), _engine(store, settings, clock, photo_reader)]
    await engines[0].handle(InboundEvent.from_text(TELEGRAM, "9", "/count", update_id="c0"))
    events = [InboundEvent.from_text(TELEGRAM, "9", f"tick {i}", update_id=f"c{i + 1}") for i in range(50)]
    replies = await asyncio.gather(*(engines[i % 2].handle(event) for i, event in enumerate(events)))
    async with store.transaction() as tx:
        person_id = (await tx.people.find_by_account(TELEGRAM, "9"))[1].id  # type: ignore[index]
        queued = await tx.messages.entries()
    assert (await _counter(store, person_id))["count"] == 50
    assert sum(len(r) for r in replies) == len(queued) == 50  # /count itself says nothing


async def test_concurrent_redelivery_of_one_update_applies_it_once(store, settings, clock, photo_reader) -> None:
    engines = [_engine(store, settings, clock, photo_reader) for _ in range(2)]
    await engines[0].handle(InboundEvent.from_text(TELEGRAM, "9", "/count", update_id="d0"))
    same = InboundEvent.from_text(TELEGRAM, "9", "tick", update_id="d1")
    await asyncio.gather(*(engines[i % 2].handle(same) for i in range(10)))
    async with store.transaction() as tx:
        person_id = (await tx.people.find_by_account(TELEGRAM, "9"))[1].id  # type: ignore[index]
    assert (await _counter(store, person_id))["count"] == 1


async def test_a_crashing_step_answers_with_an_apology_and_is_not_retried(store, settings, clock,
                                                                          photo_reader) -> None:
    engine = _engine(store, settings, clock, photo_reader)
    await engine.handle(InboundEvent.from_text(TELEGRAM, "9", "/count", update_id="e0"))
    photo = InboundEvent(TELEGRAM, "9", EventKind.PHOTO, update_id="e1", photo=b"x")
    assert [m.template for m in await engine.handle(photo)] == ["common.error"]
    assert await engine.handle(photo) == []
    after = await engine.handle(InboundEvent.from_text(TELEGRAM, "9", "tick", update_id="e2"))
    assert [m.template for m in after] == ["common.unexpected"]


def test_a_transition_to_an_undeclared_state_is_refused_at_declaration() -> None:
    with pytest.raises(ScenarioDeclarationError, match="nowhere"):
        Scenario(name="broken", initial=("a",), states=(State("a", transitions=(
            on(EventKind.TEXT, to="nowhere"),)),))


def test_registration_exports_as_mermaid() -> None:
    diagram = REGISTRATION.to_mermaid()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> consent\n")
    for edge in ("consent --> name : consent:yes / yes", "name --> phone : name:given / name",
                 "phone --> email : phone", "phone --> confirm_merge : phone",
                 "email --> done : email:skip / /cancel / skip / e-mail", "done --> [*]"):
        assert edge in diagram


def test_readme_shows_the_current_registration_diagram() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert REGISTRATION.to_mermaid().strip() in readme


async def test_a_broken_constraint_that_is_no_conflict_is_not_retried_and_gets_an_apology(
        db_engine, settings, clock, photo_reader, caplog) -> None:
    from storage.sql import SqlStore

    calls = 0

    async def consent_for_nobody(ctx: Context) -> None:
        nonlocal calls
        calls += 1
        await ctx.tx.people.add_consent(987_654, "v1", ctx.event.channel, ctx.now)  # no such person: a bug

    broken = Scenario(name="broken", commands=("/broken",), needs_registration=False, initial=("a",),
                      states=(State("a", on_enter=consent_for_nobody, final=True),))
    store = SqlStore(db_engine)
    engine = Engine(store, Catalog([*core_scenarios(), broken]), services_for(settings, photo_reader),
                    settings, clock=clock)
    replies = await engine.handle(InboundEvent.from_text(TELEGRAM, "9", "/broken", update_id="b1"))
    await store.close()
    assert [m.template for m in replies] == ["common.error"]
    assert calls == 1  # a foreign key that fails is a bug, not a race: running it again changes nothing
    assert sum("failed" in r.message for r in caplog.records if r.levelname == "ERROR") == 1


async def test_a_unique_key_race_is_retried_until_it_settles(store, settings, clock, photo_reader) -> None:
    """Two first messages of one new account at once: one creates the person, the other finds it."""
    engines = [_engine(store, settings, clock, photo_reader) for _ in range(2)]
    events = [InboundEvent.from_text(TELEGRAM, "77", "/help", update_id=f"u{i}") for i in range(2)]
    replies = await asyncio.gather(*(engine.handle(event) for engine, event in zip(engines, events, strict=True)))
    assert [[m.template for m in r] for r in replies] == [["common.help_guest"]] * 2
    async with store.transaction() as tx:
        found = await tx.people.find_by_account(TELEGRAM, "77")
    assert found is not None
