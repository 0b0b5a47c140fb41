"""Console staff: unique usernames, sessions that expire or end, login failures counted, the audit, undone merges."""

from __future__ import annotations

import pytest

from core.errors import ConflictError
from core.ports import Store
from core.ports.staff import LoginFailures, StaffRole
from tests.contract.helpers import NOW, at, conflicts, new_people, read


async def test_usernames_are_unique(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, "h", NOW)
    await conflicts(store, lambda tx: tx.staff.add_user("olga", "Другая", StaffRole.ADMIN, "h", NOW))
    assert [u.username for u in await read(store, lambda tx: tx.staff.users())] == ["olga"]


async def test_a_session_lives_until_it_expires_or_ends_and_only_for_an_active_user(store: Store) -> None:
    async with store.transaction() as tx:
        user = await tx.staff.add_user("ivan", "Иван", StaffRole.MANAGER, "h", NOW)
        await tx.staff.start_session(user.id, "a" * 64, "csrf", NOW, at(hours=8))
        await tx.staff.start_session(user.id, "b" * 64, "csrf2", NOW, at(hours=8))
    found = await read(store, lambda tx: tx.staff.session("a" * 64, at(hours=1)))
    assert found is not None and found[1].username == "ivan" and found[0].csrf_token == "csrf"
    assert await read(store, lambda tx: tx.staff.session("a" * 64, at(hours=8))) is None
    assert await read(store, lambda tx: tx.staff.session("c" * 64, NOW)) is None
    async with store.transaction() as tx:
        await tx.staff.end_session("a" * 64)
    assert await read(store, lambda tx: tx.staff.session("a" * 64, NOW)) is None
    async with store.transaction() as tx:
        user.active = False
        await tx.staff.save_user(user)
    assert await read(store, lambda tx: tx.staff.session("b" * 64, NOW)) is None
    async with store.transaction() as tx:
        assert await tx.staff.end_sessions_of(user.id) == 1


async def test_failed_logins_are_counted_per_name_and_per_address_within_a_window(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.staff.add_user("ivan", "Иван", StaffRole.MANAGER, "h", NOW)
        for minute in range(3):
            await tx.staff.record_login("olga", "10.0.0.1", False, at(minutes=minute))
        await tx.staff.record_login("ivan", "10.0.0.1", False, at(minutes=3))
        await tx.staff.record_login("olga", "10.0.0.2", True, at(minutes=4))
    olga = await read(store, lambda tx: tx.staff.login_failures(NOW, username="olga"))
    assert olga == LoginFailures(3, at(minutes=2))
    assert (await read(store, lambda tx: tx.staff.login_failures(NOW, address="10.0.0.1"))).count == 4
    assert (await read(store, lambda tx: tx.staff.login_failures(at(minutes=2), username="olga"))).count == 1
    none = await read(store, lambda tx: tx.staff.login_failures(at(minutes=9), username="olga"))
    assert none == LoginFailures(0, None)
    # names no account has: a scan of made-up names is counted apart from failures for real accounts
    only_unknown = await read(store, lambda tx: tx.staff.login_failures(NOW, address="10.0.0.1", unknown_names=True))
    assert only_unknown.count == 3
    groups = await read(store, lambda tx: tx.staff.failure_groups(NOW))
    assert [(g.username, g.address, g.known, g.count, g.last_at) for g in groups] == [
        ("ivan", "10.0.0.1", True, 1, at(minutes=3)), ("olga", "10.0.0.1", False, 3, at(minutes=2))]
    async with store.transaction() as tx:
        assert await tx.staff.forget_failures(address="10.0.0.1", unknown_names=True) == 3
    assert (await read(store, lambda tx: tx.staff.login_failures(NOW, address="10.0.0.1"))).count == 1


async def test_the_audit_keeps_who_did_what_to_what_newest_first(store: Store) -> None:
    async with store.transaction() as tx:
        user = await tx.staff.add_user("olga", "Ольга", StaffRole.SUPPORT, "h", NOW)
        await tx.staff.audit(user.id, "reply", "ticket:1", NOW, {"outbox": 5})
        await tx.staff.audit(user.id, "note", "ticket:2", at(seconds=1))
        await tx.staff.audit(None, "login_failed", "staff:olga", at(seconds=2))
    log = await read(store, lambda tx: tx.staff.audit_log())
    assert [(e.action, e.target) for e in log] == [("login_failed", "staff:olga"), ("note", "ticket:2"),
                                                   ("reply", "ticket:1")]
    assert [e.detail for e in await read(store, lambda tx: tx.staff.audit_log(target="ticket:1"))] == [{"outbox": 5}]


async def test_a_merge_is_undone_once(store: Store) -> None:
    survivor, absorbed = await new_people(store, 2)
    async with store.transaction() as tx:
        merge = await tx.people.record_merge(survivor, absorbed, "link", {}, NOW)
        await tx.staff.record_undo(merge.id, None, at(hours=1))
    assert await read(store, lambda tx: tx.staff.undone_merges([merge.id, 999])) == {merge.id: at(hours=1)}
    with pytest.raises(ConflictError):
        async with store.transaction() as tx:
            await tx.staff.record_undo(merge.id, None, at(hours=2))
