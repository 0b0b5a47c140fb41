"""Machines driven by a timer and by a domain event: declared with ``core.machine`` as registration is,
persisted, resumed after a restart, and fired exactly once (also by two processes on PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.context import Context
from core.domain_events import Happened, event
from core.engine import Engine
from core.event_feed import EventFeed
from core.events import EventKind
from core.machine import Catalog, Scenario, State, on
from core.ports import ScenarioState
from core.scenarios import catalog
from core.timekeeper import Timekeeper
from core.triggers import details
from storage.database import create_engine
from storage.sql import SqlStore
from tests.chat import Chat
from tests.conftest import Clock, services_for

TIMER, HAPPENED = EventKind.TIMER, EventKind.HAPPENED


async def plan_nudge(ctx: Context) -> str | None:
    ctx.data["channel"] = details(ctx)["channel"]  # where they registered: what the event said
    await ctx.set_timer("nudge", timedelta(days=1), round=1)
    return None


async def nudge(ctx: Context) -> str | None:
    ctx.say("notify.announcement", text=f"Прошёл день (round {details(ctx)['round']}): пришлите чек")
    return None


async def thank(ctx: Context) -> str | None:
    ctx.data["thanked"] = ctx.data.get("thanked", 0) + 1
    ctx.say("notify.announcement", text="Спасибо за чек!")
    await ctx.cancel_timers("nudge")  # a receipt came: no nudge needed
    return None


WELCOME = Scenario(
    name="welcome_journey",
    needs_registration=False,
    started_by=("person.registered",),
    initial=("new",),
    states=(
        State("new", transitions=(on(HAPPENED, payload="person.registered", action=plan_nudge, to="waiting"),)),
        State("waiting", transitions=(
            on(TIMER, payload="nudge", action=nudge, to="nudged"),
            on(HAPPENED, payload="receipt.approved", action=thank, to="done"),
        )),
        State("nudged", transitions=(on(HAPPENED, payload="receipt.approved", action=thank, to="done"),)),
        State("done", final=True),
    ),
)


def journey_engine(store, settings, clock, photo_reader, worker: str = "w1") -> Engine:
    return Engine(store, Catalog([*catalog(), WELCOME]), services_for(settings, photo_reader), settings,
                  clock=clock, worker_id=worker)


async def state_of(store, person_id: int) -> tuple[str, dict]:
    async with store.transaction() as tx:
        state = (await tx.states.load(person_id))["welcome_journey"]
    return state.state, state.data


async def notices(store, person_id: int) -> list[str]:
    async with store.transaction() as tx:
        return [m.params["text"] for m in await tx.messages.entries(person_id, template="notify.announcement")]


async def approve(store, person_id: int, clock: Clock) -> None:
    async with store.transaction() as tx:
        tx.events.add(event(Happened.RECEIPT_APPROVED, person_id, clock(), receipt_id=1, cashback_kopecks=500,
                            by="test"))


async def test_a_journey_starts_on_an_event_waits_on_a_timer_and_survives_restarts(store, settings, clock,
                                                                                    photo_reader) -> None:
    engine = journey_engine(store, settings, clock, photo_reader)
    telegram = Chat.telegram(engine, "1001")
    await telegram.register(phone="+79123456789")
    person_id = telegram.last[0].person_id
    feed = EventFeed(store, engine, clock)
    assert await feed.pass_once() >= 1
    assert await state_of(store, person_id) == ("waiting", {"channel": "telegram"})
    assert await feed.pass_once() == 0  # each event once

    restarted = journey_engine(store, settings, clock, photo_reader, worker="w2")  # a new process, the same store
    assert await EventFeed(store, restarted, clock).pass_once() == 0
    keeper = Timekeeper(store, restarted, clock, "w2")
    assert await keeper.fire_due() == 0  # not yet due
    clock.advance(days=1, seconds=1)
    assert await keeper.fire_due() == 1
    assert await keeper.fire_due() == 0  # fired once
    assert await state_of(store, person_id) == ("nudged", {"channel": "telegram"})
    (text,) = await notices(store, person_id)
    assert text == "Прошёл день (round 1): пришлите чек"
    async with store.transaction() as tx:
        (queued,) = await tx.messages.entries(person_id, template="notify.announcement")
    assert queued.channel is None  # no account in a background step: the router places it

    await approve(store, person_id, clock)
    assert await EventFeed(store, journey_engine(store, settings, clock, photo_reader), clock).pass_once() == 1
    assert (await state_of(store, person_id))[0] == "done"
    assert (await notices(store, person_id))[-1] == "Спасибо за чек!"


async def test_an_event_cancels_the_timer_and_a_finished_journey_ignores_what_comes_later(store, settings, clock,
                                                                                          photo_reader) -> None:
    engine = journey_engine(store, settings, clock, photo_reader)
    telegram = Chat.telegram(engine, "1001")
    await telegram.register(phone="+79123456789")
    person_id = telegram.last[0].person_id
    feed = EventFeed(store, engine, clock)
    await feed.pass_once()
    await approve(store, person_id, clock)
    assert await feed.pass_once() == 1
    clock.advance(days=2)
    assert await Timekeeper(store, engine, clock, "w1").fire_due() == 0  # the nudge was cancelled
    await approve(store, person_id, clock)
    await feed.pass_once()
    state, data = await state_of(store, person_id)
    assert state == "done" and data["thanked"] == 1
    assert await notices(store, person_id) == ["Спасибо за чек!"]
    async with store.transaction() as tx:
        assert await tx.timers.pending(person_id) == []


async def test_a_failing_step_is_passed_over_alone_and_the_feed_goes_on(store, settings, clock, photo_reader,
                                                                        caplog) -> None:
    async def explode(ctx: Context) -> str | None:
        if details(ctx)["receipt_id"] == 13:
            raise RuntimeError("a bug in one journey")
        ctx.data["seen"] = details(ctx)["receipt_id"]
        return None

    fragile = Scenario(name="fragile", needs_registration=False, started_by=("receipt.approved",),
                       initial=("open",), states=(State("open", transitions=(
                           on(HAPPENED, payload="receipt.approved", action=explode),)),))
    engine = Engine(store, Catalog([*catalog(), fragile]), services_for(settings, photo_reader), settings,
                    clock=clock)
    telegram = Chat.telegram(engine, "1001")
    await telegram.send("/start")
    person_id = telegram.last[0].person_id
    async with store.transaction() as tx:
        for receipt_id in (12, 13, 14):
            tx.events.add(event(Happened.RECEIPT_APPROVED, person_id, clock(), receipt_id=receipt_id,
                                cashback_kopecks=1, by="test"))
    feed = EventFeed(store, engine, clock)
    taken = 0
    for _ in range(5):
        taken += await feed.pass_once()
    assert taken == 3 and "could not be applied; passed over" in caplog.text
    async with store.transaction() as tx:
        assert (await tx.states.load(person_id))["fragile"].data == {"seen": 14}


async def waiting_people(engine: Engine, store, clock: Clock, count: int) -> list[int]:
    """People whose journey waits for its nudge, due a minute from now."""
    people = []
    for n in range(count):
        chat = Chat.telegram(engine, str(5000 + n))
        await chat.send("/start")
        person_id = chat.last[0].person_id
        people.append(person_id)
        async with store.transaction() as tx:
            await tx.states.save(ScenarioState(person_id, "welcome_journey", "waiting", False), clock())
            await tx.timers.set(person_id, "welcome_journey", "nudge", clock() + timedelta(minutes=1), {"round": n})
    return people


@pytest.mark.parametrize("sql_database", ["postgresql"], indirect=True)
async def test_two_processes_fire_each_timer_exactly_once(database_url, settings, clock, photo_reader) -> None:
    databases = [create_engine(database_url) for _ in range(2)]
    stores = [SqlStore(database) for database in databases]
    engines = [journey_engine(s, settings, clock, photo_reader, worker=w) for s, w in zip(stores, ("one", "two"),
                                                                                          strict=True)]
    try:
        people = await waiting_people(engines[0], stores[0], clock, 20)
        clock.advance(minutes=2)
        async with stores[0].transaction() as tx:  # both processes hold the first ten, as after a lost lease
            held = await tx.timers.claim_due(clock(), "one", clock() + timedelta(minutes=1), clock(), 10)
        both = await asyncio.gather(*(engine.fire(timer) for timer in held for engine in engines))
        assert sum(len(queued) for queued in both) == 10  # each step made by one of them
        async with stores[0].transaction() as tx:  # both alive, as their heartbeats say: neither takes over a lease
            for worker in ("one", "two"):
                await tx.workers.beat(worker, clock())
        keepers = [Timekeeper(s, e, clock, w) for s, e, w in zip(stores, engines, ("one", "two"), strict=True)]
        fired = await asyncio.gather(*(keeper.fire_due() for keeper in keepers))
        assert sum(fired) == 10  # the other ten, shared between them
        for person_id in people:
            assert len(await notices(stores[0], person_id)) == 1
            assert (await state_of(stores[0], person_id))[0] == "nudged"
        async with stores[1].transaction() as tx:
            assert [t for p in people for t in await tx.timers.pending(p)] == []
    finally:
        for s, database in zip(stores, databases, strict=True):
            await s.close()
            await database.dispose()
