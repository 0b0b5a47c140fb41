"""Erasure (152-FZ) leaves nothing that names the person anywhere in the store, and every column is accounted for.

A person with a history in every feature — an earlier profile merged into theirs, messages both
ways, a delivery error naming their address, the router's decisions, contact codes, a receipt
check's raw answer naming the buyer, a payout, a ticket, a draw win with a delivery address, a
webchat browser, link attempts — is erased through ``core.support.personal_data.erase_person``;
then every row of every table (SQL) or memory table is read raw and must not contain any of
their identifying values. A second person's identical history stays whole.

``REVIEWED`` lists every column of every table as either erased or kept on purpose (keeps no
personal data): a table or column added without being reviewed here fails the test, so a new
feature cannot keep personal data that erasure forgets.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.delivery import MessageStatus
from core.events import InboundEvent, OutgoingMessage
from core.merging import merge_persons
from core.ports import NewUpdate, Outcome
from core.ports.draws import NewWinner, WinnerStatus
from core.ports.ledger import PayoutStatus
from core.ports.link_codes import LinkAttempt, LinkOutcome
from core.ports.personal_data import ERASED
from core.ports.routes import Candidate, RouteDecision
from core.ports.scenario_states import ScenarioState
from core.ports.tickets import TicketEventKind
from core.support.personal_data import ErasureRefused, erase_person
from promo import ledger
from promo.campaigns import Award
from storage.memory import MemoryStore
from storage.tables import metadata
from tests.contract.helpers import NOW, TELEGRAM, at
from tests.contract.test_draws import TIERS
from tests.contract.test_receipts import ACCEPTED, CAMPAIGN, fiscal

# erased: what may name the person; blanked, pseudonymised or removed by erasure
# kept: ids, amounts, times, statuses, codes of our own — nothing that names anyone
REVIEWED: dict[str, tuple[str, str]] = {
    "persons": ("name phone email", "id phone_verified email_verified locale source created_at registered_at "
                "merged_into_id withdrawn_at"),  # withdrawn_at: set by erasure itself (consent withdrawn)
    "channel_accounts": ("external_id display_name", "id person_id channel created_at last_seen_at unreachable_since "
                         "unreachable_reason verified_at"),
    "consents": ("", "id person_id kind text_version channel accepted_at given source"),  # evidence of consent
    "campaign_members": ("", "id person_id campaign source joined_at"),
    "channel_preferences": ("", "id person_id channel time_zone updated_at"),
    "contact_codes": ("address origin_account", "id person_id channel code_hash link_hash created_at expires_at "
                      "failures used_at origin_channel"),
    "route_decisions": ("external_id candidates detail", "id message_id person_id round decided_at channel outcome"),
    "message_log": ("external_id body params", "id person_id channel direction kind created_at"),
    "outbox": ("external_id params last_error tried", "id person_id channel template locale status bulk attempts "
               "next_attempt_at lease_owner created_at sent_at ack_window_s deadline acked_at round broadcast_id"),
    "inbox": ("account_id raw last_error", "id bot update_id received_at processed_at attempts lease_owner "
              "leased_until dead_at"),  # a dead update's error may quote its body: erased with it
    "photos": ("data", "id person_id sha256 size created_at"),  # deleted whole
    "scenario_states": ("data", "id person_id scenario state active version updated_at"),
    "link_codes": ("account_external_id", "id person_id code channel created_at expires_at used_at"),
    "link_attempts": ("external_id", "id channel code_id outcome at"),
    "payouts": ("phone", "id person_id amount_kopecks status requested_at paid_at"),
    "receipts": ("", "id person_id campaign fn document_number fiscal_sign issued_at sum_kopecks operation "
                 "canonical source status cashback_kopecks entries created_at next_check_at check_attempts "
                 "photo_sha256 counted_at"),
    "receipt_checks": ("raw", "receipt_id shop_inn items checked_at"),
    "receipt_flags": ("", "id receipt_id person_id reason created_at resolved_at"),
    "ledger_transactions": ("", "id kind receipt_id payout_id created_at"),
    "ledger_entries": ("", "id transaction_id account person_id amount_kopecks"),
    "person_merges": ("details", "id survivor_id absorbed_id reason moved moved_rows merged_at"),
    "merge_undos": ("", "id merge_id staff_id undone_at"),
    "tickets": ("external_id subject", "id person_id campaign channel status assigned_to rating created_at "
                "updated_at last_person_at last_staff_at closed_at version"),
    "ticket_events": ("body photo_sha256", "id ticket_id person_id kind staff_id created_at"),
    "draws": ("", "id campaign code status entries_from entries_to draw_at tiers commitment seed participant_key "
              "algorithm created_at beacon_chain beacon_round beacon_randomness beacon_signature beacon_previous "
              "entries_hash participants entries excluded drawn_at entry_list entrants sealed_seed frozen_at "
              "exclusions"),
    # a moderator's note may name people; the decision (campaign, reason code, when, by whom) stays
    "draw_changes": ("", "id draw_id draw_at_before draw_at_after reason staff_id changed_at"),  # names no person
    "draw_exclusions": ("note", "id campaign person_id reason staff_id decided_at"),
    # the list names pseudonyms only; entrants are internal person ids (like person_id), kept so the frozen list stays
    # the one whose hash was published
    "draw_winners": ("details", "id draw_id person_id participant tier tier_order position reserve status deadline "
                     "updated_at"),
    "broadcasts": ("", "id template params segment created_at people advertising"),  # recipients are outbox rows
    "campaigns": ("", "id code title status starts_on ends_on rules created_at updated_at"),
    "report_days": ("", "id zone day figure channel key fallback count rolled_at"),  # counts only
    # staff's own, and the platform's: no consumer's data
    "staff_users": ("", "id username display_name role password_hash active locale created_at"),
    "staff_sessions": ("", "id staff_id token_hash csrf_token created_at expires_at"),
    "staff_logins": ("", "id username address ok at"),
    "staff_audit": ("", "id staff_id action target detail at"),  # ids and staff's words (reasons), never a body
    "workers": ("", "id started_at seen_at"),
    "inbox_cursors": ("", "bot value updated_at"),
    # ids, amounts, template keys, our own reasons (a delivery error without addresses: core.outbox): no names
    "domain_events": ("", "id tx kind version person_id occurred_at data"),
    "event_cursors": ("", "consumer tx event_id"),
    "timers": ("data", "id person_id scenario name due_at fired_at lease_owner leased_until"),  # deleted whole
    "channel_health_log": ("", "id channel state reason changed_by at manual"),  # staff's words about a channel
}


def test_every_column_of_every_table_was_reviewed_for_personal_data() -> None:
    found = {table.name: {c.name for c in table.c} for table in metadata.sorted_tables}
    reviewed = {name: set(f"{erased} {kept}".split()) for name, (erased, kept) in REVIEWED.items()}
    unreviewed = {name: sorted(columns - reviewed.get(name, set())) for name, columns in found.items()
                  if columns - reviewed.get(name, set())}
    assert unreviewed == {}, "say whether these keep personal data (and erase them if so): REVIEWED"
    assert set(reviewed) - set(found) == set()


def _who(n: int) -> dict[str, str]:
    return {"name": f"Зоя Стёркина{n}", "phone": f"+7999000112{n}", "email": f"zoya{n}.sterkina@example.ru",
            "telegram": f"77123456{n}", "webchat": f"ab12cd34ef56ab12cd34ef56ab12cd34ef5{n}",
            "address": f"Москва, ул. Стирания, д. {n}7"}


async def _history(store, n: int) -> int:
    who = _who(n)
    async with store.transaction() as tx:
        earlier = await tx.people.create("ru", NOW)  # their first profile, joined into this one: a merge names both
        await tx.people.save(dataclasses.replace(earlier, phone=who["phone"], phone_verified=True))
        person = await tx.people.create("ru", NOW)
        await tx.people.save(dataclasses.replace(person, name=who["name"], email=who["email"], registered_at=NOW))
        await merge_persons(tx, person.id, earlier.id, "same verified phone", NOW)
        await tx.people.add_account(person.id, TELEGRAM, who["telegram"], who["name"], NOW)
        await tx.people.add_account(person.id, "webchat", who["webchat"], "", NOW)
        await tx.people.add_consent(person.id, "2026-11", TELEGRAM, NOW)
        await tx.messages.log_inbound(person.id, InboundEvent.from_text(TELEGRAM, who["telegram"],
                                                                        f"я {who['name']}, {who['phone']}"), NOW)
        message = tx.messages.enqueue(OutgoingMessage(person.id, "common.menu", {"name": who["name"]}),
                                      at(seconds=1))
        await tx.states.save(ScenarioState(person.id, "registration", "email", True,
                                           {"name": who["name"], "phone": who["phone"]}), NOW)
        await tx.contact_codes.issue(person.id, "email", who["email"], "h" * 64, NOW, at(minutes=10),
                                     origin=(TELEGRAM, who["telegram"]))
        await tx.link_codes.record_attempt(LinkAttempt(0, TELEGRAM, who["telegram"], None, LinkOutcome.WRONG, NOW))
        [dead] = await tx.inbox.add("telegram:1", [NewUpdate(f"dead{n}", who["telegram"], {"text": who["name"]})],
                                    "a", NOW, lease_until=at(minutes=1))  # a message the bot gave up on
        await tx.inbox.bury(dead.id, f"ValueError('{who['phone']}')", NOW)
    async with store.transaction() as tx:
        await tx.messages.record([Outcome(message.id, MessageStatus.SENT, TELEGRAM, who["telegram"],
                                          error=f"email: 550 {who['email']}: no such user",
                                          tried=(f"email:{who['email']}",), round=1)], at(seconds=2))
        tx.routes.record([RouteDecision(message.id, person.id, 1, at(seconds=2), (
            Candidate(TELEGRAM, who["telegram"], 61.0, outcome="delivered"),
            Candidate("email", who["email"], dropped=f"bounced: 550 {who['email']}")),
            TELEGRAM, who["telegram"], "delivered", f"fell back from {who['email']}")])
        photo = await tx.photos.put(person.id, b"jpeg of " + who["name"].encode(), at(seconds=3))
        receipt = await tx.receipts.add(person.id, CAMPAIGN, fiscal(100 + n), "photo", ACCEPTED,
                                        Award(500, 2, False), at(seconds=3), None, photo_sha256=photo)
        await tx.receipts.record_check(receipt.id, "7701234567", [], {"buyerPhoneOrAddress": who["phone"],
                                                                     "buyer": who["name"]}, at(seconds=4))
        await tx.ledger.post(ledger.accrual(person.id, 500), at(seconds=4), receipt_id=receipt.id)
        payout = await tx.ledger.add_payout(person.id, 100, who["phone"], at(seconds=5))
        await tx.ledger.settle_payout(payout.id, PayoutStatus.PAID, at(seconds=5))  # erasure waits for a requested one
        ticket = await tx.tickets.open(person.id, CAMPAIGN, TELEGRAM, who["telegram"], f"это {who['name']}",
                                       at(seconds=6))
        await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, at(seconds=6), body=who["phone"],
                                   photo_sha256=photo)
        draw = await tx.draws.add(CAMPAIGN, f"week-{n}", NOW.date(), NOW.date(), at(days=1), TIERS, "ab" * 32,
                                  "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", NOW)
        [win] = await tx.draws.add_winners(draw.id, [NewWinner(person.id, f"{n}" * 24, "car", 1, False,
                                                               WinnerStatus.NOTIFIED, at(days=3))], NOW)
        await tx.draws.save_winner(dataclasses.replace(win, status=WinnerStatus.CONFIRMED, details={
            "full_name": who["name"], "address": who["address"], "phone": who["phone"]}))
    return person.id


async def _rows(store) -> list[tuple[str, str, Any]]:
    """(table, column, value) of every row of every table, read raw."""
    if isinstance(store, MemoryStore):
        found = []
        for table in store._tables.all():
            for row in table.rows():
                fields = (dataclasses.asdict(row) if dataclasses.is_dataclass(row) else {"row": row})
                found += [(table.name, name, value) for name, value in fields.items()]
        return found
    found = []
    async with store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                found += [(table.name, name, value) for name, value in row.items()]
    return found


def _naming(rows: list[tuple[str, str, Any]], who: dict[str, str]) -> set[tuple[str, str, str]]:
    values = list(who.values())
    hits = set()
    for table, column, value in rows:
        text = value.decode(errors="replace") if isinstance(value, bytes) else repr(value)
        hits |= {(table, column, v) for v in values if v in text}
    return hits


async def test_erasure_leaves_nothing_naming_the_person_in_any_table(store) -> None:
    erased = await _history(store, 1)
    await _history(store, 2)
    async with store.transaction() as tx:
        total, balances = await tx.ledger.total(), await tx.ledger.balances(erased)
        await erase_person(tx, erased, NOW + timedelta(days=1))
    rows = await _rows(store)
    assert _naming(rows, _who(1)) == set()
    left = {table for table, _, _ in _naming(rows, _who(2))}  # the other's stay
    assert {"persons", "outbox", "route_decisions", "contact_codes", "receipt_checks", "draw_winners", "payouts",
            "link_attempts", "scenario_states", "tickets", "ticket_events", "photos", "person_merges", "inbox"} <= left
    async with store.transaction() as tx:
        assert await tx.ledger.total() == total and await tx.ledger.balances(erased) == balances
        assert [d.update_id for d in await tx.inbox.dead(10)] == ["dead2"]  # theirs ended with their data
        message = (await tx.messages.entries(erased))[0]
        assert (message.round, message.last_error) == (1, f"email: 550 {ERASED}: no such user")
        [decision] = await tx.routes.decisions(person_id=erased)
        assert [(c.channel, c.score, c.account_id) for c in decision.candidates] == [
            ("telegram", 61.0, ERASED), ("email", None, ERASED)]
        [win] = await tx.draws.wins_of(erased)
        assert (win.participant, win.tier, win.status, win.details) == ("1" * 24, "car", WinnerStatus.CONFIRMED, {})
        receipt = (await tx.receipts.of_person(erased))[0]
        check = await tx.receipts.check_of(receipt.id)
        assert receipt.sum_kopecks == 150_000 and check is not None and check.shop_inn == "7701234567"


async def test_erasure_waits_while_a_payout_is_requested_to_the_phone_it_would_blank(store) -> None:
    """The money would go to a phone nobody could name any more: it is paid or taken back first."""
    async with store.transaction() as tx:
        person = await tx.people.create("ru", NOW)
        await tx.people.save(dataclasses.replace(person, name="Зоя", phone="+79990001121", phone_verified=True))
        payout = await tx.ledger.add_payout(person.id, 100, "+79990001121", NOW)
    with pytest.raises(ErasureRefused, match=f"payout {payout.id}"):
        async with store.transaction() as tx:
            await erase_person(tx, person.id, at(days=1))
    async with store.transaction() as tx:
        assert (await tx.people.get(person.id)).phone == "+79990001121"
        assert [p.phone for p in await tx.ledger.payouts(person_id=person.id)] == ["+79990001121"]
        await tx.ledger.settle_payout(payout.id, PayoutStatus.CANCELLED, at(days=1))
    async with store.transaction() as tx:
        await erase_person(tx, person.id, at(days=1))
    async with store.transaction() as tx:
        assert (await tx.people.get(person.id)).phone is None
