"""One-time link codes and the attempts to use them: ``tx.link_codes``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.channels import ChannelName
from core.identity import LinkCode
from core.ports import LinkAttempt, Store
from core.ports.link_codes import FAILED_OUTCOMES, LinkOutcome
from tests.contract.helpers import NOW, TELEGRAM, VK, abandon, at, new_people, new_person, read


def code_of(person_id: int, text: str = "123456", created: datetime = NOW, minutes: int = 10,
            channel: ChannelName = TELEGRAM, account_id: str = "1001") -> LinkCode:
    return LinkCode(0, person_id, text, channel, account_id, created, created + (at(minutes=minutes) - NOW))


async def test_a_created_code_gets_an_id_and_reads_back(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        created = await tx.link_codes.create(code_of(person_id))
    assert created.id > 0
    assert created == replace(code_of(person_id), id=created.id)
    assert await read(store, lambda tx: tx.link_codes.get(created.id)) == created
    assert await read(store, lambda tx: tx.link_codes.find("123456")) == created


async def test_find_gives_the_newest_code_with_that_text(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        newest = await tx.link_codes.create(code_of(first, created=at(minutes=5)))
        await tx.link_codes.create(code_of(second, created=NOW))
        await tx.link_codes.create(code_of(second, text="654321", created=at(minutes=9)))
    assert await read(store, lambda tx: tx.link_codes.find("123456")) == newest
    assert await read(store, lambda tx: tx.link_codes.find("000000")) is None


async def test_of_codes_made_at_the_same_time_find_gives_the_last_made(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.link_codes.create(code_of(first))
        last = await tx.link_codes.create(code_of(second))
    assert await read(store, lambda tx: tx.link_codes.find("123456")) == last


async def test_save_stores_use_and_expiry(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        code = await tx.link_codes.create(code_of(person_id))
    async with store.transaction() as tx:
        await tx.link_codes.save(replace(code, used_at=at(minutes=2), expires_at=at(minutes=3)))
    assert await read(store, lambda tx: tx.link_codes.get(code.id)) == replace(
        code, used_at=at(minutes=2), expires_at=at(minutes=3))


async def test_a_returned_code_is_a_copy_until_saved(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        code = await tx.link_codes.create(code_of(person_id))
        code.used_at = at(minutes=1)
        found = await tx.link_codes.find("123456")
        assert found is not None and found.used_at is None
        found.used_at = at(minutes=1)
        assert (await tx.link_codes.get(code.id)).used_at is None
    assert (await read(store, lambda tx: tx.link_codes.get(code.id))).used_at is None


async def test_expire_for_ends_only_the_persons_live_unused_codes(store: Store) -> None:
    person_id, other_id = await new_people(store, 2)
    async with store.transaction() as tx:
        live = await tx.link_codes.create(code_of(person_id, "111111"))
        used = await tx.link_codes.create(code_of(person_id, "222222"))
        await tx.link_codes.save(replace(used, used_at=at(minutes=1)))
        expired = await tx.link_codes.create(code_of(person_id, "333333", created=at(minutes=-30)))
        others = await tx.link_codes.create(code_of(other_id, "444444"))
    async with store.transaction() as tx:
        await tx.link_codes.expire_for(person_id, at(minutes=2))
    assert (await read(store, lambda tx: tx.link_codes.get(live.id))).expires_at == at(minutes=2)
    assert (await read(store, lambda tx: tx.link_codes.get(used.id))).expires_at == used.expires_at
    assert (await read(store, lambda tx: tx.link_codes.get(expired.id))).expires_at == expired.expires_at
    assert (await read(store, lambda tx: tx.link_codes.get(others.id))).expires_at == others.expires_at
    assert (await read(store, lambda tx: tx.link_codes.get(live.id))).is_expired(at(minutes=2))


async def test_a_code_created_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    person_id = await new_person(store)

    async def create(tx):
        await tx.link_codes.create(code_of(person_id))
        await tx.link_codes.record_attempt(attempt(TELEGRAM, "1", None, LinkOutcome.WRONG))

    await abandon(store, create)
    assert await read(store, lambda tx: tx.link_codes.find("123456")) is None
    assert await read(store, lambda tx: tx.link_codes.attempts()) == []


async def test_an_expiry_in_an_abandoned_unit_is_undone(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        code = await tx.link_codes.create(code_of(person_id))
    await abandon(store, lambda tx: tx.link_codes.expire_for(person_id, at(minutes=1)))
    assert await read(store, lambda tx: tx.link_codes.get(code.id)) == code


# attempts ----------------------------------------------------------------------------------------

def attempt(channel: ChannelName, external_id: str, code_id: int | None, outcome: LinkOutcome,
            when: datetime = NOW) -> LinkAttempt:
    return LinkAttempt(0, channel, external_id, code_id, outcome, when)


async def test_a_recorded_attempt_gets_an_id_and_reads_back(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        code = await tx.link_codes.create(code_of(person_id))
        first = await tx.link_codes.record_attempt(attempt(VK, "2002", code.id, LinkOutcome.REQUESTED))
        second = await tx.link_codes.record_attempt(attempt(VK, "2002", None, LinkOutcome.WRONG))
    assert first == replace(attempt(VK, "2002", code.id, LinkOutcome.REQUESTED), id=first.id)
    assert 0 < first.id != second.id > 0
    assert await read(store, lambda tx: tx.link_codes.get_attempt(first.id)) == first
    assert await read(store, lambda tx: tx.link_codes.get_attempt(999_999)) is None


async def test_attempts_are_listed_newest_first(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        code = await tx.link_codes.create(code_of(person_id))
        recorded = [await tx.link_codes.record_attempt(a) for a in (
            attempt(TELEGRAM, "1", None, LinkOutcome.WRONG, NOW),
            attempt(VK, "2", code.id, LinkOutcome.APPROVED, at(minutes=2)),
            attempt(TELEGRAM, "1", code.id, LinkOutcome.EXPIRED, at(minutes=1)))]
    assert await read(store, lambda tx: tx.link_codes.attempts()) == [recorded[1], recorded[2], recorded[0]]
    assert await read(store, lambda tx: tx.link_codes.attempts(limit=2)) == [recorded[1], recorded[2]]


async def test_only_failed_attempts_are_counted(store: Store) -> None:
    async with store.transaction() as tx:
        for outcome in LinkOutcome:
            await tx.link_codes.record_attempt(attempt(TELEGRAM, "1", None, outcome))
    assert await read(store, lambda tx: tx.link_codes.count_failures(NOW)) == len(FAILED_OUTCOMES) == 4
    assert {LinkOutcome.OWN, LinkOutcome.THROTTLED, LinkOutcome.REQUESTED, LinkOutcome.APPROVED}.isdisjoint(
        FAILED_OUTCOMES)


async def test_failures_are_counted_since_the_time_given(store: Store) -> None:
    async with store.transaction() as tx:
        for minutes in (-10, -5, 0, 5):
            await tx.link_codes.record_attempt(attempt(TELEGRAM, "1", None, LinkOutcome.WRONG, at(minutes=minutes)))
    assert await read(store, lambda tx: tx.link_codes.count_failures(at(minutes=-5))) == 3
    assert await read(store, lambda tx: tx.link_codes.count_failures(at(minutes=6))) == 0


async def test_failures_are_counted_per_account_or_per_code(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        first = await tx.link_codes.create(code_of(person_id, "111111"))
        second = await tx.link_codes.create(code_of(person_id, "222222"))
        for a in (attempt(TELEGRAM, "1", first.id, LinkOutcome.WRONG),
                  attempt(TELEGRAM, "1", None, LinkOutcome.WRONG),
                  attempt(TELEGRAM, "2", first.id, LinkOutcome.EXPIRED),
                  attempt(VK, "1", second.id, LinkOutcome.USED),
                  attempt(TELEGRAM, "1", second.id, LinkOutcome.APPROVED)):
            await tx.link_codes.record_attempt(a)

    async def count(**where):
        return await read(store, lambda tx: tx.link_codes.count_failures(at(minutes=-1), **where))

    assert await count() == 4
    assert await count(channel=TELEGRAM, external_id="1") == 2
    assert await count(channel=VK, external_id="1") == 1
    assert await count(channel=TELEGRAM) == 3
    assert await count(code_id=first.id) == 2
    assert await count(code_id=second.id) == 1


async def test_failures_recorded_in_an_abandoned_unit_do_not_count(store: Store) -> None:
    await abandon(store, lambda tx: tx.link_codes.record_attempt(attempt(TELEGRAM, "1", None, LinkOutcome.WRONG)))
    assert await read(store, lambda tx: tx.link_codes.count_failures(at(days=-1))) == 0
