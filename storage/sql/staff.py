"""Console staff, sessions, login attempts, the audit log and undone merges in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from core.ports.staff import AuditEntry, FailureGroup, LoginFailures, StaffRole, StaffSession, StaffUser
from storage.sql.db import Db
from storage.sql.records import record
from storage.tables.staff import merge_undos, staff_audit, staff_logins, staff_sessions, staff_users

_session = (select(staff_sessions, staff_users.c.username, staff_users.c.display_name, staff_users.c.role,
                   staff_users.c.password_hash, staff_users.c.active, staff_users.c.locale,
                   staff_users.c.created_at.label("user_created_at"))
            .join(staff_users, staff_users.c.id == staff_sessions.c.staff_id)
            .where(staff_sessions.c.token_hash == bindparam("hash_"), staff_sessions.c.expires_at > bindparam("now_"),
                   staff_users.c.active.is_(True)))


def _failed(since: datetime | None, username: str | None, address: str | None, unknown_names: bool) -> list[Any]:
    """The conditions picking counted failures of a name and/or an address (only unknown names, if asked)."""
    where: list[Any] = [staff_logins.c.ok.is_(False)]
    if since is not None:
        where.append(staff_logins.c.at >= since)
    if username is not None:
        where.append(staff_logins.c.username == username[:64])
    if address is not None:
        where.append(staff_logins.c.address == address[:64])
    if unknown_names:
        where.append(staff_logins.c.username.not_in(select(staff_users.c.username)))
    return where


def _user(row: Any) -> StaffUser:
    return record(StaffUser, row, role=StaffRole(row.role))


class SqlStaff:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add_user(self, username: str, display_name: str, role: StaffRole, password_hash: str,
                       now: datetime) -> StaffUser:
        values = {"username": username, "display_name": display_name[:128], "role": role.value,
                  "password_hash": password_hash, "active": True, "locale": "ru", "created_at": now}
        staff_id = await self.db.scalar(insert(staff_users).values(values).returning(staff_users.c.id))
        return StaffUser(staff_id, username, display_name[:128], role, password_hash, now)

    async def get_user(self, staff_id: int) -> StaffUser | None:
        row = await self.db.first(select(staff_users).where(staff_users.c.id == staff_id))
        return None if row is None else _user(row)

    async def find_user(self, username: str) -> StaffUser | None:
        row = await self.db.first(select(staff_users).where(staff_users.c.username == username))
        return None if row is None else _user(row)

    async def users(self) -> list[StaffUser]:
        return [_user(row) for row in await self.db.rows(select(staff_users).order_by(staff_users.c.id))]

    async def save_user(self, user: StaffUser) -> None:
        await self.db.execute(update(staff_users).where(staff_users.c.id == user.id).values(
            display_name=user.display_name[:128], role=user.role.value, password_hash=user.password_hash,
            active=user.active, locale=user.locale))

    async def start_session(self, staff_id: int, token_hash: str, csrf_token: str, now: datetime,
                            expires_at: datetime) -> StaffSession:
        await self.db.execute(delete(staff_sessions).where(staff_sessions.c.staff_id == staff_id,
                                                           staff_sessions.c.expires_at <= now))
        session_id = await self.db.scalar(insert(staff_sessions).values(
            staff_id=staff_id, token_hash=token_hash, csrf_token=csrf_token, created_at=now,
            expires_at=expires_at).returning(staff_sessions.c.id))
        return StaffSession(session_id, staff_id, token_hash, csrf_token, now, expires_at)

    async def session(self, token_hash: str, now: datetime) -> tuple[StaffSession, StaffUser] | None:
        row = await self.db.first(_session, {"hash_": token_hash, "now_": now})
        if row is None:
            return None
        user = StaffUser(row.staff_id, row.username, row.display_name, StaffRole(row.role), row.password_hash,
                         row.user_created_at, row.active, row.locale)
        return record(StaffSession, row), user

    async def end_session(self, token_hash: str) -> None:
        await self.db.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == token_hash))

    async def end_sessions_of(self, staff_id: int) -> int:
        result = await self.db.execute(delete(staff_sessions).where(staff_sessions.c.staff_id == staff_id))
        return int(result.rowcount)

    async def record_login(self, username: str, address: str, ok: bool, now: datetime) -> None:
        await self.db.execute(insert(staff_logins).values(username=username[:64], address=address[:64], ok=ok,
                                                          at=now))

    async def login_failures(self, since: datetime, *, username: str | None = None, address: str | None = None,
                             unknown_names: bool = False) -> LoginFailures:
        query = select(func.count(), func.max(staff_logins.c.at)).where(
            *_failed(since, username, address, unknown_names))
        row = await self.db.first(query)
        return LoginFailures(int(row[0] or 0), row[1]) if row is not None else LoginFailures(0, None)

    async def failure_groups(self, since: datetime, limit: int = 500) -> list[FailureGroup]:
        last = func.max(staff_logins.c.at).label("last_at")
        query = (select(staff_logins.c.username, staff_logins.c.address, func.count().label("count"), last,
                        func.max(staff_users.c.id).label("account"))
                 .select_from(staff_logins.outerjoin(staff_users, staff_users.c.username == staff_logins.c.username))
                 .where(*_failed(since, None, None, False))
                 .group_by(staff_logins.c.username, staff_logins.c.address)
                 .order_by(last.desc(), staff_logins.c.username.desc(), staff_logins.c.address.desc())
                 .limit(max(1, limit)))
        return [FailureGroup(row.username, row.address, row.account is not None, int(row.count), row.last_at)
                for row in await self.db.rows(query)]

    async def forget_failures(self, *, username: str | None = None, address: str | None = None,
                              unknown_names: bool = False) -> int:
        result = await self.db.execute(delete(staff_logins).where(*_failed(None, username, address, unknown_names)))
        return int(result.rowcount)

    async def audit(self, staff_id: int | None, action: str, target: str, now: datetime,
                    detail: dict[str, Any] | None = None) -> None:
        await self.db.execute(insert(staff_audit).values(staff_id=staff_id, action=action[:32], target=target[:64],
                                                         detail=detail or {}, at=now))

    async def audit_log(self, *, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
        query = select(staff_audit).order_by(staff_audit.c.id.desc()).limit(max(1, min(limit, 1000)))
        if target is not None:
            query = query.where(staff_audit.c.target == target)
        return [record(AuditEntry, row, detail=dict(row.detail or {})) for row in await self.db.rows(query)]

    async def undone_merges(self, merge_ids: list[int]) -> dict[int, datetime]:
        if not merge_ids:
            return {}
        rows = await self.db.rows(select(merge_undos.c.merge_id, merge_undos.c.undone_at)
                                  .where(merge_undos.c.merge_id.in_(merge_ids)))
        return {int(merge_id): at for merge_id, at in rows}

    async def record_undo(self, merge_id: int, staff_id: int | None, now: datetime) -> None:
        await self.db.execute(insert(merge_undos).values(merge_id=merge_id, staff_id=staff_id, undone_at=now))
