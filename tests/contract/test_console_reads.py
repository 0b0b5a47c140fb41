"""What the console reads and erases: the unified timeline, the dashboard's figures, personal data erasure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.delivery import MessageStatus
from core.events import InboundEvent, OutgoingMessage
from core.ports import Outcome, Store
from core.ports.draws import DrawStatus, NewWinner, WinnerStatus
from core.ports.personal_data import ERASED, ErasureSubject
from core.ports.routes import Candidate, RouteDecision
from core.ports.tickets import TicketEventKind
from promo import ledger
from promo.campaigns import Award, CampaignStatus
from tests.contract.helpers import NOW, TELEGRAM, VK, at, new_people, read
from tests.contract.test_campaigns import MILK
from tests.contract.test_draws import TIERS
from tests.contract.test_receipts import ACCEPTED, CAMPAIGN, MODERATION, fiscal


async def _history(store: Store, person: int) -> int:
    """A person who wrote, was answered, sent a receipt, got money and opened a ticket; the receipt id."""
    account = str(1000 + person)
    async with store.transaction() as tx:
        await tx.people.add_account(person, TELEGRAM, account, "Анна", NOW)
        await tx.messages.log_inbound(person, InboundEvent.from_text(TELEGRAM, account, "привет"), NOW)
        tx.messages.enqueue(OutgoingMessage(person, "common.menu", {"name": "Анна"}), at(seconds=1))
    async with store.transaction() as tx:
        photo = await tx.photos.put(person, b"jpeg bytes", at(seconds=2))
        receipt = await tx.receipts.add(person, CAMPAIGN, fiscal(person), "photo", ACCEPTED, Award(500, 1, False),
                                        at(seconds=2), None, photo_sha256=photo)
        await tx.ledger.post(ledger.accrual(person, 500), at(seconds=3), receipt_id=receipt.id)
        ticket = await tx.tickets.open(person, CAMPAIGN, TELEGRAM, account, "где кешбэк", at(seconds=4))
        await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, at(seconds=4), body="где кешбэк")
        await tx.ledger.add_payout(person, 100, "+79123456789", at(seconds=5))
    return receipt.id


async def test_the_timeline_interleaves_every_source_newest_first_and_pages(store: Store) -> None:
    person, other = await new_people(store, 2)
    receipt_id = await _history(store, person)
    items = await read(store, lambda tx: tx.timeline.of_person(person))
    assert [i.source for i in items] == ["ticket", "ledger", "receipt", "outbound", "inbound"]
    assert items[2].row_id == receipt_id and items[2].data["status"] == "accepted"
    assert items[3].data["template"] == "common.menu" and items[3].data["status"] == "pending"
    assert items[4].data["body"] == "привет" and items[4].data["channel"] == "telegram"
    older = await read(store, lambda tx: tx.timeline.of_person(person, before=items[1].at, limit=2))
    assert [i.source for i in older] == ["receipt", "outbound"]
    assert await read(store, lambda tx: tx.timeline.of_person(other)) == []


async def test_the_dashboard_counts_receipts_refusals_channels_the_funnel_and_deliveries(store: Store) -> None:
    a, b, c = await new_people(store, 3)
    async with store.transaction() as tx:
        await tx.people.add_account(a, TELEGRAM, "1", "", NOW)
        await tx.people.add_account(b, VK, "2", "", NOW)
        await tx.people.add_account(c, VK, "3", "", NOW)
        await tx.people.save(replace(await tx.people.get(a), registered_at=NOW))
        await tx.people.save(replace(await tx.people.get(b), registered_at=NOW))
        await tx.receipts.add(a, CAMPAIGN, fiscal(1), "photo", ACCEPTED, Award(1, 0, False), NOW, None)
        await tx.receipts.add(b, CAMPAIGN, fiscal(2), "photo", MODERATION, Award(1, 0, False), at(hours=22), None)
        sent = tx.messages.enqueue(OutgoingMessage(a, "receipt.refused_min_sum"), NOW)
        fell_back = tx.messages.enqueue(OutgoingMessage(b, "receipt.refused_min_sum"), NOW)
        tx.messages.enqueue(OutgoingMessage(c, "receipt.refused_daily_limit"), NOW)
    async with store.transaction() as tx:
        await tx.messages.record([
            Outcome(sent.id, MessageStatus.SENT, TELEGRAM, "1"),
            Outcome(fell_back.id, MessageStatus.SENT, VK, "2", error="telegram: unreachable blocked")], at(seconds=1))
    since = at(days=-1)
    per_day = await read(store, lambda tx: tx.reports.receipts_per_day(since, "Europe/Moscow"))
    assert per_day == [(date(2026, 11, 23), "accepted", 1), (date(2026, 11, 24), "moderation", 1)]
    assert await read(store, lambda tx: tx.reports.refusals(since)) == {"min_sum": 2, "daily_limit": 1}
    assert await read(store, lambda tx: tx.reports.channel_mix()) == {"telegram": 1, "vk": 2}
    funnel = await read(store, lambda tx: tx.reports.funnel())
    assert (funnel.scanned, funnel.registered, funnel.first_receipt, funnel.rewarded) == (3, 2, 2, 1)
    figures = {(f.channel, f.status, f.fallback): f.count for f in await read(store, lambda tx: tx.reports.deliveries(
        since))}
    assert figures == {("telegram", "sent", False): 1, ("vk", "sent", True): 1, ("", "pending", False): 1}
    assert await read(store, lambda tx: tx.reports.refusals(at(days=1))) == {}


async def test_erasure_blanks_personal_data_everywhere_and_keeps_ids_and_amounts(store: Store) -> None:
    person, other = await new_people(store, 2)
    await _history(store, person)
    await _history(store, other)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(person), name="Анна", phone="+79123456789",
                                     email="anna@example.ru", registered_at=NOW))
        total_before = await tx.ledger.total()
        balances_before = await tx.ledger.balances(person)
    async with store.transaction() as tx:
        subject = ErasureSubject(person, tuple((a.channel, a.external_id)
                                               for a in await tx.people.accounts_of(person)))
        for repository in tx.personal_data():
            await repository.erase_personal(subject, at(days=1))

    async def check(tx):
        erased = await tx.people.get(person)
        assert (erased.name, erased.phone, erased.email) == (None, None, None)
        assert erased.registered_at is not None  # who took part stays known, pseudonymously
        assert [a.external_id.startswith("erased:") and a.display_name == ""
                for a in await tx.people.accounts_of(person)] == [True]
        assert await tx.people.find_by_account(TELEGRAM, str(1000 + person)) is None
        assert await tx.people.find_by_account(TELEGRAM, str(1000 + other)) is not None
        assert [m.body for m in await tx.messages.inbound(person)] == [ERASED]
        assert [e.params for e in await tx.messages.entries(person)] == [{}]
        receipt = (await tx.receipts.of_person(person))[0]
        assert await tx.photos.get(person, receipt.photo_sha256) is None
        assert receipt.sum_kopecks == 150_000  # amounts stay
        assert await tx.ledger.balances(person) == balances_before and await tx.ledger.total() == total_before == 0
        assert [p.phone for p in await tx.ledger.payouts() if p.person_id == person] == [ERASED]
        kept = (await tx.receipts.of_person(other))[0]
        assert await tx.photos.get(other, kept.photo_sha256) == b"jpeg bytes"
        assert [m.body for m in await tx.messages.inbound(other)] == ["привет"]

    await read(store, check)


async def test_the_timeline_shows_draw_entries_per_draw_wins_and_router_decisions(store: Store) -> None:
    person, other = await new_people(store, 2)
    await _history(store, person)  # one accepted receipt of the autumn campaign, 1 entry
    autumn = replace(MILK, code=CAMPAIGN, zone=ZoneInfo("Europe/Moscow"), starts_on=date(2026, 11, 1),
                     ends_on=date(2026, 11, 30), status=CampaignStatus.ACTIVE)
    async with store.transaction() as tx:
        await tx.campaigns.add(autumn, NOW)
        await tx.receipts.add(person, CAMPAIGN, fiscal(2000 + person), "photo", ACCEPTED, Award(0, 4, False),
                              at(seconds=10), None)
        await tx.receipts.add(person, CAMPAIGN, fiscal(3000 + person), "photo", MODERATION, Award(0, 9, False),
                              at(seconds=11), None)  # not counted until accepted
        week = await tx.draws.add(CAMPAIGN, "week-47", date(2026, 11, 16), date(2026, 11, 22), at(hours=1),
                                  TIERS, "ab" * 32, "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", NOW)
        await tx.draws.add(CAMPAIGN, "week-48", date(2026, 11, 23), date(2026, 11, 29), at(days=7), TIERS,
                           "ab" * 32, "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", NOW)  # no entries there
        await tx.draws.save(replace(week, status=DrawStatus.DRAWN, entries=20, participants=4,
                                    entries_hash="12" * 32, drawn_at=at(hours=2)))
        await tx.draws.add_winners(week.id, [NewWinner(person, "a" * 24, "car", 1, False, WinnerStatus.NOTIFIED,
                                                       at(days=3))], at(hours=2, seconds=1))
        tx.routes.record([RouteDecision(77, person, 1, at(hours=3), (
            Candidate(TELEGRAM, "1001", 72.5, {"recency": 40.0}, outcome="delivered"),
            Candidate(VK, "2002", dropped="blocked the bot")), TELEGRAM, "1001", "delivered")])
    items = await read(store, lambda tx: tx.timeline.of_person(person))
    assert [i.source for i in items[:3]] == ["route", "win", "draw_entries"]
    route, win, entries = items[:3]
    assert (route.data["channel"], route.data["outcome"], route.data["round"], route.data["message"]) == (
        "telegram", "delivered", 1, 77)
    assert [(c["channel"], c["score"], c["dropped"], c["outcome"]) for c in route.data["candidates"]] == [
        ("telegram", 72.5, None, "delivered"), ("vk", None, "blocked the bot", None)]
    assert (win.data["draw"], win.data["tier"], win.data["status"], win.data["reserve"]) == (
        "week-47", "car", "notified", False)
    assert entries.row_id == week.id and entries.at == at(hours=2)
    assert {k: entries.data[k] for k in ("draw", "status", "entries", "receipts", "total")} == {
        "draw": "week-47", "status": "drawn", "entries": 5, "receipts": 2, "total": 20}
    assert sum(i.source == "draw_entries" for i in items) == 1  # one line per draw, however many entries
    older = await read(store, lambda tx: tx.timeline.of_person(person, before=at(hours=2)))
    assert {i.source for i in older} & {"route", "win", "draw_entries"} == set()
    assert await read(store, lambda tx: tx.timeline.of_person(other)) == []


async def test_the_outbox_figures_over_whole_days_equal_a_direct_count_as_days_close_and_settle(store: Store) -> None:
    """Closed days may come from roll-ups (SQL): whatever is read, it is what a direct count gives."""
    zone = "Europe/Moscow"
    since = datetime.combine(NOW.astimezone(ZoneInfo(zone)).date() - timedelta(days=4), time.min, ZoneInfo(zone))
    a, b = await new_people(store, 2)
    async with store.transaction() as tx:
        sent = [tx.messages.enqueue(OutgoingMessage(a, template), at(days=-days, hours=-hour))
                for days in range(6) for hour, template in enumerate(("receipt.refused_min_sum", "common.menu",
                                                                      "receipt.refused_daily_limit"))]
        waiting = tx.messages.enqueue(OutgoingMessage(b, "receipt.refused_min_sum"), at(days=-3))
        asking = tx.messages.enqueue(OutgoingMessage(b, "draws.won"), at(days=-2))
    async with store.transaction() as tx:
        await tx.messages.record([
            *[Outcome(m.id, MessageStatus.SENT, TELEGRAM, "1") for m in sent[::2]],
            *[Outcome(m.id, MessageStatus.SENT, VK, "2", error="telegram: unreachable blocked") for m in sent[1::4]],
            *[Outcome(m.id, MessageStatus.FAILED, TELEGRAM, "1", error="400") for m in sent[3::4]],
            Outcome(asking.id, MessageStatus.AWAITING_ACK, TELEGRAM, "1", retry_at=at(days=1))], at(seconds=1))

    async def both(now):
        direct = await read(store, lambda tx: tx.reports.refusals(since))
        rolled = await read(store, lambda tx: tx.reports.refusals(since, zone=zone, now=now))
        assert rolled == direct
        direct_d = await read(store, lambda tx: tx.reports.deliveries(since))
        rolled_d = await read(store, lambda tx: tx.reports.deliveries(since, zone=zone, now=now))
        assert sorted(rolled_d, key=repr) == sorted(direct_d, key=repr)
        return direct, {(f.channel, f.status, f.fallback): f.count for f in direct_d}

    refusals, deliveries = await both(NOW)
    assert refusals == {"min_sum": 6, "daily_limit": 5} and deliveries[("", "pending", False)] == 1
    assert deliveries[("vk", "sent", True)] > 0 and deliveries[("telegram", "awaiting_ack", False)] == 1
    assert await both(NOW) == (refusals, deliveries)  # again, now from the roll-ups of the settled days
    async with store.transaction() as tx:  # the unsettled days settle; a new day begins
        await tx.messages.record([Outcome(waiting.id, MessageStatus.SENT, VK, "2", error="telegram: blocked"),
                                  Outcome(asking.id, MessageStatus.UNREACHED, TELEGRAM, "1")], at(days=1))
        tx.messages.enqueue(OutgoingMessage(a, "receipt.refused_min_sum"), at(days=1))
    later, delivered = await both(at(days=1, hours=2))
    assert later == {"min_sum": 7, "daily_limit": 5} and delivered[("", "pending", False)] == 1  # the new one
    assert delivered[("telegram", "unreached", False)] == 1
    assert await both(at(days=1, hours=2)) == (later, delivered)
