"""People, channel accounts, consents, joining two profiles and undoing it: ``tx.people``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from core.ports import Store
from tests.contract.helpers import NOW, TELEGRAM, VK, abandon, at, conflicts, new_people, new_person, read

PHONE = "+79123456789"
OTHER_PHONE = "+79998887766"


# people ---------------------------------------------------------------------------------------

async def test_a_new_person_is_unregistered_with_only_a_locale(store: Store) -> None:
    async with store.transaction() as tx:
        created = await tx.people.create("en", NOW)
    person = await read(store, lambda tx: tx.people.get(created.id))
    assert person == created
    assert (person.locale, person.created_at) == ("en", NOW)
    assert (person.name, person.phone, person.email, person.registered_at, person.source) == (None,) * 5
    assert not person.phone_verified and not person.email_verified
    assert person.merged_into_id is None and not person.is_registered


async def test_people_get_distinct_increasing_ids(store: Store) -> None:
    first, second = await new_people(store, 2)
    assert 0 < first < second


async def test_times_come_back_aware_and_in_utc(store: Store) -> None:
    moscow = timezone(timedelta(hours=3))
    created = datetime(2026, 3, 1, 12, 0, tzinfo=moscow)
    person_id = await new_person(store, now=created)
    person = await read(store, lambda tx: tx.people.get(person_id))
    assert person.created_at == created and person.created_at.tzinfo == UTC


async def test_save_stores_every_field_but_id_and_creation_time(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        person = await tx.people.get(person_id)
        await tx.people.save(replace(person, locale="en", name="Anna", phone=PHONE, phone_verified=True,
                                     email="anna@example.com", email_verified=True, registered_at=at(hours=1),
                                     source="flyer", created_at=at(days=-9)))
    saved = await read(store, lambda tx: tx.people.get(person_id))
    assert saved == replace(person, locale="en", name="Anna", phone=PHONE, phone_verified=True,
                            email="anna@example.com", email_verified=True, registered_at=at(hours=1),
                            source="flyer")
    assert saved.created_at == NOW and saved.is_registered


async def test_a_returned_person_is_a_copy_until_saved(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        person = await tx.people.get(person_id)
        person.name = "Changed"
        assert (await tx.people.get(person_id)).name is None
    assert (await read(store, lambda tx: tx.people.get(person_id))).name is None


async def test_a_person_is_found_by_phone(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(person_id), phone=PHONE))
    found = await read(store, lambda tx: tx.people.find_by_phone(PHONE))
    assert found is not None and found.id == person_id
    assert await read(store, lambda tx: tx.people.find_by_phone(OTHER_PHONE)) is None


async def test_saving_a_phone_another_person_has_conflicts(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(first), phone=PHONE))

    async def take_phone(tx):
        await tx.people.save(replace(await tx.people.get(second), phone=PHONE, name="Thief"))

    await conflicts(store, take_phone)
    assert (await read(store, lambda tx: tx.people.get(second))).phone is None


async def test_many_people_may_have_no_phone(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        for person_id in (first, second):
            await tx.people.save(replace(await tx.people.get(person_id), name="Nobody", phone=None))
    assert (await read(store, lambda tx: tx.people.get(second))).name == "Nobody"


async def test_saving_a_person_again_with_their_own_phone_is_no_conflict(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(person_id), phone=PHONE))
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(person_id), name="Anna"))
    assert (await read(store, lambda tx: tx.people.get(person_id))).phone == PHONE


async def test_a_phone_given_up_may_be_taken_by_another_in_a_later_unit(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(first), phone=PHONE))
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(first), phone=None))
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(second), phone=PHONE))
    assert (await read(store, lambda tx: tx.people.find_by_phone(PHONE))).id == second


async def test_a_person_created_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    async def create(tx):
        person = await tx.people.create("ru", NOW)
        await tx.people.add_account(person.id, TELEGRAM, "1", "Anna", NOW)
        await tx.people.save(replace(person, phone=PHONE))

    await abandon(store, create)
    assert await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1")) is None
    assert await read(store, lambda tx: tx.people.find_by_phone(PHONE)) is None
    # the phone and the account are free again
    other = await new_person(store)
    async with store.transaction() as tx:
        await tx.people.add_account(other, TELEGRAM, "1", "Anna", NOW)
        await tx.people.save(replace(await tx.people.get(other), phone=PHONE))
    assert (await read(store, lambda tx: tx.people.find_by_phone(PHONE))).id == other


async def test_a_save_in_an_abandoned_unit_is_undone(store: Store) -> None:
    person_id = await new_person(store)

    async def rename(tx):
        await tx.people.save(replace(await tx.people.get(person_id), name="Anna", phone=PHONE))

    await abandon(store, rename)
    person = await read(store, lambda tx: tx.people.get(person_id))
    assert (person.name, person.phone) == (None, None)


# accounts ---------------------------------------------------------------------------------------

async def test_an_account_is_found_with_its_person(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        added = await tx.people.add_account(person_id, TELEGRAM, "1001", "Anna", NOW)
    found = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1001"))
    assert found is not None
    account, person = found
    assert account == added
    assert (account.person_id, account.channel, account.external_id, account.display_name) == (
        person_id, TELEGRAM, "1001", "Anna")
    assert account.unreachable_since is None
    assert person.id == person_id
    assert await read(store, lambda tx: tx.people.find_by_account(VK, "1001")) is None
    assert await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1002")) is None


async def test_a_second_account_with_the_same_channel_id_conflicts(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.add_account(first, TELEGRAM, "1001", "Anna", NOW)
    await conflicts(store, lambda tx: tx.people.add_account(second, TELEGRAM, "1001", "Boris", NOW))
    await conflicts(store, lambda tx: tx.people.add_account(first, TELEGRAM, "1001", "Anna", NOW))
    account, _ = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1001"))
    assert (account.person_id, account.display_name) == (first, "Anna")


async def test_the_same_external_id_on_another_channel_is_another_account(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.add_account(first, TELEGRAM, "1001", "Anna", NOW)
        await tx.people.add_account(second, VK, "1001", "Boris", NOW)
    found = await read(store, lambda tx: tx.people.find_by_account(VK, "1001"))
    assert found is not None and found[1].id == second


async def test_display_names_are_cut_to_128_characters(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        added = await tx.people.add_account(person_id, TELEGRAM, "1", "x" * 300, NOW)
    assert added.display_name == "x" * 128
    account, _ = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1"))
    assert account.display_name == "x" * 128


async def test_touch_account_stores_owner_name_last_activity_and_reachability(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        account = await tx.people.add_account(first, TELEGRAM, "1", "Anna", NOW)
    async with store.transaction() as tx:
        await tx.people.touch_account(replace(account, person_id=second, display_name="Anna K",
                                              last_seen_at=at(minutes=5), unreachable_since=at(minutes=1)))
    touched, person = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1"))
    assert touched == replace(account, person_id=second, display_name="Anna K", last_seen_at=at(minutes=5),
                              unreachable_since=at(minutes=1))
    assert person.id == second
    async with store.transaction() as tx:
        await tx.people.touch_account(replace(touched, unreachable_since=None))
    again, _ = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1"))
    assert again.unreachable_since is None


async def test_a_returned_account_is_a_copy_until_touched(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.people.add_account(person_id, TELEGRAM, "1", "Anna", NOW)
    async with store.transaction() as tx:
        account, _ = await tx.people.find_by_account(TELEGRAM, "1")
        account.display_name = "Changed"
        account.last_seen_at = at(hours=1)
    again, _ = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1"))
    assert (again.display_name, again.last_seen_at) == ("Anna", None)


async def test_a_touch_in_an_abandoned_unit_is_undone(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        account = await tx.people.add_account(person_id, TELEGRAM, "1", "Anna", NOW)
    await abandon(store, lambda tx: tx.people.touch_account(replace(account, display_name="Other",
                                                                    last_seen_at=at(hours=1))))
    again, _ = await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "1"))
    assert (again.display_name, again.last_seen_at) == ("Anna", None)


async def test_accounts_of_lists_a_persons_accounts_oldest_first(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        vk = await tx.people.add_account(first, VK, "7", "Anna", NOW)
        await tx.people.add_account(second, TELEGRAM, "2", "Boris", NOW)
        telegram = await tx.people.add_account(first, TELEGRAM, "1", "Anna", NOW)
    assert await read(store, lambda tx: tx.people.accounts_of(first)) == [vk, telegram]
    assert await read(store, lambda tx: tx.people.accounts_of(999_999)) == []


async def test_mark_unreachable_keeps_the_first_time(store: Store) -> None:
    person_id = await new_person(store)
    async with store.transaction() as tx:
        await tx.people.add_account(person_id, TELEGRAM, "1", "Anna", NOW)
        await tx.people.add_account(person_id, VK, "1", "Anna", NOW)
    async with store.transaction() as tx:
        await tx.people.mark_unreachable(TELEGRAM, "1", at(minutes=1))
    async with store.transaction() as tx:
        await tx.people.mark_unreachable(TELEGRAM, "1", at(minutes=9))
    telegram, vk = await read(store, lambda tx: tx.people.accounts_of(person_id))
    assert telegram.unreachable_since == at(minutes=1)
    assert vk.unreachable_since is None


async def test_marking_an_unknown_account_unreachable_does_nothing(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.people.mark_unreachable(TELEGRAM, "nobody", NOW)
    assert await read(store, lambda tx: tx.people.find_by_account(TELEGRAM, "nobody")) is None


# consents --------------------------------------------------------------------------------------

async def test_consents_are_kept_in_the_order_given(store: Store) -> None:
    first, second = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.add_consent(first, "v1", TELEGRAM, NOW)
        await tx.people.add_consent(second, "v1", VK, NOW)
        await tx.people.add_consent(first, "v2", VK, at(days=1))
    consents = await read(store, lambda tx: tx.people.consents_of(first))
    assert [(c.person_id, c.text_version, c.channel, c.accepted_at) for c in consents] == [
        (first, "v1", TELEGRAM, NOW), (first, "v2", VK, at(days=1))]
    assert await read(store, lambda tx: tx.people.consents_of(999_999)) == []


async def test_a_consent_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    person_id = await new_person(store)
    await abandon(store, lambda tx: tx.people.add_consent(person_id, "v1", TELEGRAM, NOW))
    assert await read(store, lambda tx: tx.people.consents_of(person_id)) == []


# joining two profiles ------------------------------------------------------------------------------

async def test_absorb_fills_the_survivors_empty_fields_and_marks_the_absorbed_merged(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(survivor_id), source="flyer"))
        await tx.people.save(replace(await tx.people.get(absorbed_id), name="Anna", phone=PHONE, phone_verified=True,
                                     email="anna@example.com", email_verified=True, registered_at=at(hours=-1),
                                     source="radio"))
    async with store.transaction() as tx:
        await tx.people.absorb(survivor_id, absorbed_id)
    survivor = await read(store, lambda tx: tx.people.get(survivor_id))
    absorbed = await read(store, lambda tx: tx.people.get(absorbed_id))
    assert (survivor.name, survivor.phone, survivor.phone_verified, survivor.email, survivor.email_verified,
            survivor.registered_at, survivor.source) == (
        "Anna", PHONE, True, "anna@example.com", True, at(hours=-1), "flyer")
    assert survivor.merged_into_id is None
    assert absorbed.phone is None and absorbed.merged_into_id == survivor_id
    assert (await read(store, lambda tx: tx.people.find_by_phone(PHONE))).id == survivor_id


async def test_absorb_keeps_the_survivors_own_phone_and_email(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(survivor_id), name="Boris", phone=OTHER_PHONE,
                                     phone_verified=False, email="boris@example.com", email_verified=False))
        await tx.people.save(replace(await tx.people.get(absorbed_id), name="Anna", phone=PHONE, phone_verified=True,
                                     email="anna@example.com", email_verified=True))
    async with store.transaction() as tx:
        await tx.people.absorb(survivor_id, absorbed_id)
    survivor = await read(store, lambda tx: tx.people.get(survivor_id))
    absorbed = await read(store, lambda tx: tx.people.get(absorbed_id))
    assert (survivor.name, survivor.phone, survivor.phone_verified, survivor.email, survivor.email_verified) == (
        "Boris", OTHER_PHONE, False, "boris@example.com", False)
    assert absorbed.phone is None and absorbed.merged_into_id == survivor_id
    assert await read(store, lambda tx: tx.people.find_by_phone(PHONE)) is None


async def test_absorb_points_earlier_merges_at_the_new_survivor(store: Store) -> None:
    survivor_id, absorbed_id, earlier_id = await new_people(store, 3)
    async with store.transaction() as tx:
        await tx.people.absorb(absorbed_id, earlier_id)
    async with store.transaction() as tx:
        await tx.people.absorb(survivor_id, absorbed_id)
    earlier = await read(store, lambda tx: tx.people.get(earlier_id))
    absorbed = await read(store, lambda tx: tx.people.get(absorbed_id))
    assert earlier.merged_into_id == survivor_id and absorbed.merged_into_id == survivor_id


async def test_an_abandoned_absorb_leaves_both_people_as_they_were(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        await tx.people.save(replace(await tx.people.get(absorbed_id), name="Anna", phone=PHONE))
    await abandon(store, lambda tx: tx.people.absorb(survivor_id, absorbed_id))
    survivor = await read(store, lambda tx: tx.people.get(survivor_id))
    absorbed = await read(store, lambda tx: tx.people.get(absorbed_id))
    assert (survivor.name, survivor.phone) == (None, None)
    assert (absorbed.phone, absorbed.merged_into_id) == (PHONE, None)


async def test_merges_are_kept_with_what_moved_oldest_first(store: Store) -> None:
    a, b, c = await new_people(store, 3)
    async with store.transaction() as tx:
        first = await tx.people.record_merge(a, b, "same phone", {"channel_accounts": [1, 2]}, NOW)
        second = await tx.people.record_merge(c, a, "link code", {}, at(hours=1))
    assert (first.survivor_id, first.absorbed_id, first.reason, first.moved, first.merged_at) == (
        a, b, "same phone", {"channel_accounts": [1, 2]}, NOW)
    assert first.id != second.id
    assert await read(store, lambda tx: tx.people.merges()) == [first, second]
    assert await read(store, lambda tx: tx.people.merges(a)) == [first, second]
    assert await read(store, lambda tx: tx.people.merges(b)) == [first]
    assert await read(store, lambda tx: tx.people.merges(c)) == [second]


async def test_a_returned_merge_is_a_copy(store: Store) -> None:
    a, b = await new_people(store, 2)
    async with store.transaction() as tx:
        merge = await tx.people.record_merge(a, b, "same phone", {"consents": [1]}, NOW)
        merge.moved["consents"].append(99)
    assert (await read(store, lambda tx: tx.people.merges()))[0].moved == {"consents": [1]}


async def test_a_merge_recorded_in_an_abandoned_unit_is_not_kept(store: Store) -> None:
    a, b = await new_people(store, 2)
    await abandon(store, lambda tx: tx.people.record_merge(a, b, "same phone", {}, NOW))
    assert await read(store, lambda tx: tx.people.merges()) == []


async def test_reassign_moves_accounts_and_consents_and_restore_moves_exactly_them_back(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        kept = await tx.people.add_account(survivor_id, TELEGRAM, "1", "Boris", NOW)
        telegram = await tx.people.add_account(absorbed_id, TELEGRAM, "2", "Anna", NOW)
        vk = await tx.people.add_account(absorbed_id, VK, "2", "Anna", NOW)
        await tx.people.add_consent(absorbed_id, "v1", TELEGRAM, NOW)
        await tx.people.add_consent(survivor_id, "v1", TELEGRAM, NOW)
    async with store.transaction() as tx:
        moved = await tx.people.reassign(absorbed_id, survivor_id)
    assert set(moved) == {"channel_accounts", "consents"}
    assert sorted(moved["channel_accounts"]) == sorted([telegram.id, vk.id])
    assert len(moved["consents"]) == 1
    assert [a.id for a in await read(store, lambda tx: tx.people.accounts_of(survivor_id))] == [
        kept.id, telegram.id, vk.id]
    assert len(await read(store, lambda tx: tx.people.consents_of(survivor_id))) == 2
    assert await read(store, lambda tx: tx.people.accounts_of(absorbed_id)) == []

    # an account the survivor got later stays with the survivor
    async with store.transaction() as tx:
        later = await tx.people.add_account(survivor_id, VK, "9", "Boris", NOW)
        restored = await tx.people.restore({**moved, "receipts": [1, 2, 3]}, absorbed_id)
    assert restored == 3
    assert await read(store, lambda tx: tx.people.accounts_of(absorbed_id)) == [telegram, vk]
    assert [a.id for a in await read(store, lambda tx: tx.people.accounts_of(survivor_id))] == [kept.id, later.id]
    consents = await read(store, lambda tx: tx.people.consents_of(absorbed_id))
    assert [(c.person_id, c.text_version) for c in consents] == [(absorbed_id, "v1")]
    assert len(await read(store, lambda tx: tx.people.consents_of(survivor_id))) == 1


async def test_reassign_names_only_tables_where_rows_moved(store: Store) -> None:
    survivor_id, absorbed_id, empty_id = await new_people(store, 3)
    async with store.transaction() as tx:
        await tx.people.add_consent(absorbed_id, "v1", TELEGRAM, NOW)
    async with store.transaction() as tx:
        assert await tx.people.reassign(empty_id, survivor_id) == {}
        assert set(await tx.people.reassign(absorbed_id, survivor_id)) == {"consents"}
        assert await tx.people.restore({}, absorbed_id) == 0


async def test_an_abandoned_reassign_moves_nothing(store: Store) -> None:
    survivor_id, absorbed_id = await new_people(store, 2)
    async with store.transaction() as tx:
        account = await tx.people.add_account(absorbed_id, TELEGRAM, "2", "Anna", NOW)
    await abandon(store, lambda tx: tx.people.reassign(absorbed_id, survivor_id))
    assert await read(store, lambda tx: tx.people.accounts_of(absorbed_id)) == [account]
