from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.context import Context
from core.engine import Engine
from core.errors import ScenarioDeclarationError
from core.events import Channel, EventKind, InboundEvent
from core.machine import Scenario, State, on
from core.scenarios import core_scenarios
from core.scenarios.registration import REGISTRATION
from storage.models import MessageLogRow, OutboxRow, ProcessedUpdateRow, ScenarioStateRow
from tests.chat import Chat


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


def _engine(store, settings, clock) -> Engine:
    return Engine(store, [*core_scenarios(), COUNTER], settings, clock=clock)


async def test_redelivered_update_is_applied_once(telegram: Chat, store) -> None:
    event = InboundEvent.from_text(Channel.TELEGRAM, "1001", "/start", update_id="42")
    assert [m.template for m in await telegram.engine.handle(event)] == ["registration.consent"]
    assert await telegram.engine.handle(event) == []
    async with store.transaction() as tx:
        outbox = await tx.session.scalar(select(func.count()).select_from(OutboxRow))
        inbound = await tx.session.scalar(select(func.count()).select_from(MessageLogRow).where(
            MessageLogRow.direction == "in"))
    assert (outbox, inbound) == (1, 1)


async def test_same_update_id_in_another_channel_is_a_different_update(engine: Engine) -> None:
    first = InboundEvent.from_text(Channel.TELEGRAM, "1", "/start", update_id="7")
    second = InboundEvent.from_text(Channel.VK, "1", "/start", update_id="7")
    assert await engine.handle(first) and await engine.handle(second)


async def test_fifty_concurrent_events_for_one_person_lose_nothing(store, settings, clock) -> None:
    # two engines over one database stand for two processes: only row versions keep them honest
    engines = [_engine(store, settings, clock), _engine(store, settings, clock)]
    await engines[0].handle(InboundEvent.from_text(Channel.TELEGRAM, "9", "/count", update_id="c0"))
    events = [InboundEvent.from_text(Channel.TELEGRAM, "9", f"tick {i}", update_id=f"c{i + 1}")
              for i in range(50)]
    await asyncio.gather(*(engines[i % 2].handle(event) for i, event in enumerate(events)))
    async with store.transaction() as tx:
        row = (await tx.session.scalars(select(ScenarioStateRow).where(
            ScenarioStateRow.scenario == "counter"))).one()
        processed = await tx.session.scalar(select(func.count()).select_from(ProcessedUpdateRow))
        replies = await tx.session.scalar(select(func.count()).select_from(OutboxRow))
    assert row.data["count"] == 50
    assert processed == 51 and replies == 50  # /count itself says nothing


async def test_concurrent_redelivery_of_one_update_applies_it_once(store, settings, clock) -> None:
    engines = [_engine(store, settings, clock) for _ in range(2)]
    await engines[0].handle(InboundEvent.from_text(Channel.TELEGRAM, "9", "/count", update_id="d0"))
    same = InboundEvent.from_text(Channel.TELEGRAM, "9", "tick", update_id="d1")
    await asyncio.gather(*(engines[i % 2].handle(same) for i in range(10)))
    async with store.transaction() as tx:
        row = (await tx.session.scalars(select(ScenarioStateRow).where(
            ScenarioStateRow.scenario == "counter"))).one()
    assert row.data["count"] == 1


async def test_a_crashing_step_answers_with_an_apology_and_is_not_retried(store, settings, clock) -> None:
    engine = _engine(store, settings, clock)
    await engine.handle(InboundEvent.from_text(Channel.TELEGRAM, "9", "/count", update_id="e0"))
    photo = InboundEvent(Channel.TELEGRAM, "9", EventKind.PHOTO, update_id="e1", photo=b"x")
    assert [m.template for m in await engine.handle(photo)] == ["common.error"]
    assert await engine.handle(photo) == []
    after = await engine.handle(InboundEvent.from_text(Channel.TELEGRAM, "9", "tick", update_id="e2"))
    assert [m.template for m in after] == ["common.unexpected"]


def test_a_transition_to_an_undeclared_state_is_refused_at_declaration() -> None:
    with pytest.raises(ScenarioDeclarationError, match="nowhere"):
        Scenario(name="broken", initial=("a",), states=(State("a", transitions=(
            on(EventKind.TEXT, to="nowhere"),)),))


def test_registration_exports_as_mermaid() -> None:
    diagram = REGISTRATION.to_mermaid()
    assert diagram.startswith("stateDiagram-v2\n    [*] --> consent\n")
    for edge in ("consent --> name : consent:yes", "name --> phone : name", "phone --> email : phone",
                 "phone --> confirm_merge : phone", "email --> done : email:skip", "done --> [*]"):
        assert edge in diagram


def test_readme_shows_the_current_registration_diagram() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert REGISTRATION.to_mermaid().strip() in readme
