"""Console staff, sessions, login attempts, the audit log and undone merges, in memory."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.errors import ConflictError
from core.ports.staff import AuditEntry, FailureGroup, LoginFailures, StaffRole, StaffSession, StaffUser
from storage.memory.table import Table, json_copy, utc


@dataclass(frozen=True)
class LoginRow:
    id: int
    username: str
    address: str
    ok: bool
    at: datetime


class StaffTables:
    def __init__(self) -> None:
        self.users: Table[int, StaffUser] = Table("staff_users", unique={"username": lambda u: u.username})
        self.sessions: Table[int, StaffSession] = Table("staff_sessions", unique={"token": lambda s: s.token_hash})
        self.logins: Table[int, LoginRow] = Table("staff_logins")
        self.audit: Table[int, AuditEntry] = Table("staff_audit")
        self.undos: Table[int, datetime] = Table("merge_undos")  # merge id -> when it was undone

    def all(self) -> list[Table]:
        return [self.users, self.sessions, self.logins, self.audit, self.undos]


class MemoryStaff:
    def __init__(self, tables: StaffTables) -> None:
        self._t = tables

    async def add_user(self, username: str, display_name: str, role: StaffRole, password_hash: str,
                       now: datetime) -> StaffUser:
        user = StaffUser(self._t.users.next_id(), username, display_name[:128], role, password_hash, utc(now))
        return replace(self._t.users.put(user.id, user))

    async def get_user(self, staff_id: int) -> StaffUser | None:
        user = self._t.users.get(staff_id)
        return None if user is None else replace(user)

    async def find_user(self, username: str) -> StaffUser | None:
        user = self._t.users.find("username", username)
        return None if user is None else replace(user)

    async def users(self) -> list[StaffUser]:
        return [replace(u) for u in sorted(self._t.users.rows(), key=lambda u: u.id)]

    async def save_user(self, user: StaffUser) -> None:
        stored = self._t.users.one(user.id)
        self._t.users.put(user.id, replace(user, username=stored.username, created_at=stored.created_at,
                                           display_name=user.display_name[:128]))

    async def start_session(self, staff_id: int, token_hash: str, csrf_token: str, now: datetime,
                            expires_at: datetime) -> StaffSession:
        self._t.users.one(staff_id)
        for old in self._t.sessions.where(lambda s: s.staff_id == staff_id and s.expires_at <= now):
            self._t.sessions.delete(old.id)
        session = StaffSession(self._t.sessions.next_id(), staff_id, token_hash, csrf_token, utc(now),
                               utc(expires_at))
        return self._t.sessions.put(session.id, session)

    async def session(self, token_hash: str, now: datetime) -> tuple[StaffSession, StaffUser] | None:
        session = self._t.sessions.find("token", token_hash)
        if session is None or session.expires_at <= now:
            return None
        user = self._t.users.one(session.staff_id)
        return (session, replace(user)) if user.active else None

    async def end_session(self, token_hash: str) -> None:
        session = self._t.sessions.find("token", token_hash)
        if session is not None:
            self._t.sessions.delete(session.id)

    async def end_sessions_of(self, staff_id: int) -> int:
        ended = self._t.sessions.where(lambda s: s.staff_id == staff_id)
        for session in ended:
            self._t.sessions.delete(session.id)
        return len(ended)

    async def record_login(self, username: str, address: str, ok: bool, now: datetime) -> None:
        row = LoginRow(self._t.logins.next_id(), username[:64], address[:64], ok, utc(now))
        self._t.logins.put(row.id, row)

    def _failed(self, since: datetime | None, username: str | None, address: str | None,
                unknown_names: bool) -> list[LoginRow]:
        known = {u.username for u in self._t.users.rows()} if unknown_names else set()
        return self._t.logins.where(lambda r: not r.ok and (since is None or r.at >= since)
                                    and (username is None or r.username == username[:64])
                                    and (address is None or r.address == address[:64])
                                    and r.username not in known)

    async def login_failures(self, since: datetime, *, username: str | None = None, address: str | None = None,
                             unknown_names: bool = False) -> LoginFailures:
        rows = self._failed(since, username, address, unknown_names)
        return LoginFailures(len(rows), max((r.at for r in rows), default=None))

    async def failure_groups(self, since: datetime, limit: int = 500) -> list[FailureGroup]:
        known = {u.username for u in self._t.users.rows()}
        groups: dict[tuple[str, str], list[datetime]] = {}
        for row in self._failed(since, None, None, False):
            groups.setdefault((row.username, row.address), []).append(row.at)
        found = [FailureGroup(name, address, name in known, len(times), max(times))
                 for (name, address), times in groups.items()]
        return sorted(found, key=lambda g: (g.last_at, g.username, g.address), reverse=True)[:limit]

    async def forget_failures(self, *, username: str | None = None, address: str | None = None,
                              unknown_names: bool = False) -> int:
        rows = self._failed(None, username, address, unknown_names)
        for row in rows:
            self._t.logins.delete(row.id)
        return len(rows)

    async def audit(self, staff_id: int | None, action: str, target: str, now: datetime,
                    detail: dict[str, Any] | None = None) -> None:
        if staff_id is not None:
            self._t.users.one(staff_id)
        entry = AuditEntry(self._t.audit.next_id(), staff_id, action[:32], target[:64], utc(now),
                           json_copy(detail or {}))
        self._t.audit.put(entry.id, entry)

    async def audit_log(self, *, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
        rows = self._t.audit.where(lambda e: target is None or e.target == target)
        return [replace(e, detail=json_copy(e.detail))
                for e in sorted(rows, key=lambda e: -e.id)[:max(1, min(limit, 1000))]]

    async def undone_merges(self, merge_ids: list[int]) -> dict[int, datetime]:
        return {merge_id: at for merge_id in merge_ids if (at := self._t.undos.get(merge_id)) is not None}

    async def record_undo(self, merge_id: int, staff_id: int | None, now: datetime) -> None:
        if self._t.undos.get(merge_id) is not None:
            raise ConflictError(f"merge {merge_id} was undone already")
        self._t.undos.put(merge_id, utc(now))
