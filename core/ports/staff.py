"""Staff of the console: users with roles, their server-side sessions, login attempts, and the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class StaffRole(StrEnum):
    ADMIN = "admin"  # everything, and staff accounts
    MANAGER = "manager"  # campaigns, dashboards, moderation
    SUPPORT = "support"  # tickets and what a ticket needs


@dataclass
class StaffUser:
    id: int
    username: str
    display_name: str
    role: StaffRole
    password_hash: str
    created_at: datetime
    active: bool = True
    locale: str = "ru"


@dataclass(frozen=True)
class StaffSession:
    id: int
    staff_id: int
    token_hash: str  # the cookie holds the token; only its hash is stored
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LoginFailures:
    """Failed sign-ins of one key (a name, an address, or both) still counted: how many, and the latest."""

    count: int
    last_at: datetime | None


@dataclass(frozen=True)
class FailureGroup:
    """Failed sign-ins still counted for one (name, address); ``known``: the name is a staff account's."""

    username: str
    address: str
    known: bool
    count: int
    last_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    id: int
    staff_id: int | None
    action: str  # login, reply, note, assign, status, approve, reject, undo_merge, export, erase, …
    target: str  # "ticket:17", "receipt:5", "person:3", "staff:2"
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


class StaffRepository(Protocol):
    async def add_user(self, username: str, display_name: str, role: StaffRole, password_hash: str,
                       now: datetime) -> StaffUser:
        """``ConflictError`` when the username is taken."""
        ...
    async def get_user(self, staff_id: int) -> StaffUser | None: ...
    async def find_user(self, username: str) -> StaffUser | None: ...
    async def users(self) -> list[StaffUser]: ...
    async def save_user(self, user: StaffUser) -> None: ...

    async def start_session(self, staff_id: int, token_hash: str, csrf_token: str, now: datetime,
                            expires_at: datetime) -> StaffSession: ...
    async def session(self, token_hash: str, now: datetime) -> tuple[StaffSession, StaffUser] | None:
        """The live session with this token and its active user; None when expired, ended or unknown."""
        ...
    async def end_session(self, token_hash: str) -> None: ...
    async def end_sessions_of(self, staff_id: int) -> int: ...

    async def record_login(self, username: str, address: str, ok: bool, now: datetime) -> None: ...
    async def login_failures(self, since: datetime, *, username: str | None = None, address: str | None = None,
                             unknown_names: bool = False) -> LoginFailures:
        """Failures since ``since`` for this name and/or address; ``unknown_names``: only names no account has."""
        ...
    async def failure_groups(self, since: datetime, limit: int = 500) -> list[FailureGroup]:
        """Failures since ``since`` per (name, address), the latest first: what the lockouts are made of."""
        ...
    async def forget_failures(self, *, username: str | None = None, address: str | None = None,
                              unknown_names: bool = False) -> int:
        """Drop these failures (a lockout lifted, or a correct password): the audit log keeps each one."""
        ...

    async def audit(self, staff_id: int | None, action: str, target: str, now: datetime,
                    detail: dict[str, Any] | None = None) -> None: ...
    async def audit_log(self, *, target: str | None = None, limit: int = 200) -> list[AuditEntry]:
        """Newest first."""
        ...
    async def undone_merges(self, merge_ids: list[int]) -> dict[int, datetime]:
        """Which of these merges were undone, and when."""
        ...
    async def record_undo(self, merge_id: int, staff_id: int | None, now: datetime) -> None:
        """``ConflictError`` when the merge was undone already."""
        ...
