"""Receipt photos: kept once per person and content, readable only under their person, gone when unlinked."""

from __future__ import annotations

import hashlib

from core.ports import ReceiptStatus
from core.ports.tickets import TicketEventKind
from promo.campaigns import Award
from promo.receipts import parse
from tests.contract.helpers import NOW, TELEGRAM, Abandoned, at, new_person

FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"


async def test_a_photo_is_kept_under_its_hash_once_per_person(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        sha = await tx.photos.put(anna, b"jpeg bytes", NOW)
        assert await tx.photos.put(anna, b"jpeg bytes", at(minutes=1)) == sha
        assert await tx.photos.put(petr, b"jpeg bytes", NOW) == sha
    async with store.transaction() as tx:
        assert sha == hashlib.sha256(b"jpeg bytes").hexdigest()
        assert await tx.photos.get(anna, sha) == b"jpeg bytes"
        assert await tx.photos.get(anna, "0" * 64) is None


async def test_only_its_person_reaches_a_photo(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        sha = await tx.photos.put(anna, b"only hers", NOW)
    async with store.transaction() as tx:
        assert await tx.photos.get(petr, sha) is None


async def test_photos_no_receipt_refers_to_are_purged_after_a_while(store) -> None:
    anna = await new_person(store)
    async with store.transaction() as tx:
        linked = await tx.photos.put(anna, b"the receipt's photo", NOW)
        loose = await tx.photos.put(anna, b"a refused photo", NOW)
        fresh = await tx.photos.put(anna, b"just sent", at(hours=2))
        await tx.receipts.add(anna, "promo", parse(FISCAL, NOW.tzinfo), "photo", ReceiptStatus.MODERATION,  # type: ignore[arg-type]
                              Award(100, 1, False), NOW, None, photo_sha256=linked)
    async with store.transaction() as tx:
        assert await tx.photos.purge_unlinked(at(hours=1)) == 1
        assert await tx.photos.get(anna, linked) == b"the receipt's photo"
        assert await tx.photos.get(anna, loose) is None
        assert await tx.photos.get(anna, fresh) == b"just sent"
        (receipt,) = await tx.receipts.of_person(anna)
    assert receipt.photo_sha256 == linked


async def test_a_photo_a_support_ticket_keeps_is_not_purged(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        attached = await tx.photos.put(anna, b"a screenshot for support", NOW)
        same_elsewhere = await tx.photos.put(petr, b"a screenshot for support", NOW)  # petr's ticket has none
        ticket = await tx.tickets.open(anna, "promo", TELEGRAM, "1", "не пришёл кешбэк", NOW)
        await tx.tickets.add_event(ticket.id, TicketEventKind.PERSON, NOW, body="вот", photo_sha256=attached)
        await tx.tickets.open(petr, "promo", TELEGRAM, "2", "вопрос", NOW)
    async with store.transaction() as tx:
        assert await tx.photos.purge_unlinked(at(days=2)) == 1
        assert await tx.photos.get(anna, attached) == b"a screenshot for support"
        assert await tx.photos.get(petr, same_elsewhere) is None


async def test_a_photo_moves_with_a_merge_and_back(store) -> None:
    anna, petr = await new_person(store), await new_person(store)
    async with store.transaction() as tx:
        sha = await tx.photos.put(petr, b"petr's", NOW)
        moved = await tx.photos.reassign(petr, anna)
        assert await tx.photos.get(anna, sha) == b"petr's"
        assert await tx.photos.restore(moved, petr) == 1
        assert await tx.photos.get(petr, sha) == b"petr's"


async def test_a_photo_kept_in_an_abandoned_unit_is_not_kept(store) -> None:
    anna = await new_person(store)
    try:
        async with store.transaction() as tx:
            sha = await tx.photos.put(anna, b"gone", NOW)
            raise Abandoned
    except Abandoned:
        pass
    async with store.transaction() as tx:
        assert await tx.photos.get(anna, sha) is None
