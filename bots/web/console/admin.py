"""Admins' pages: staff accounts (create, role, deactivate), sign-in lockouts (lift) and the audit log."""

from __future__ import annotations

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, hash_password, requires
from bots.web.console.pages import add_page
from bots.web.console.throttling import WINDOW, LockKind, lockouts
from core.errors import ConflictError
from core.ports.staff import StaffRole


async def _staff_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    config = config_of(request)
    now = config.clock()
    async with config.store.transaction() as tx:
        users = await tx.staff.users()
        groups = await tx.staff.failure_groups(now - WINDOW)
    return render(request, "staff.html", {"users": users, "roles": list(StaffRole), "error": error,
                                          "lockouts": lockouts(groups, now)}, status=status)


@requires(StaffRole.ADMIN)
async def staff_list(request: web.Request) -> web.Response:
    return await _staff_page(request)


@requires(StaffRole.ADMIN)
async def lift_lockout(request: web.Request) -> web.Response:
    """Forgets the failures a lockout is made of; the audit log keeps them, and who lifted it."""
    config, staff = config_of(request), staff_of(request)
    form = await request.post()
    kind, username, address = (form_value(form, name, 64) for name in ("kind", "username", "address"))
    if (kind not in {k.value for k in LockKind} or (kind != LockKind.ADDRESS and not username)
            or (kind != LockKind.NAME and not address)):
        raise web.HTTPBadRequest(text="which lockout?")
    async with config.store.transaction() as tx:
        forgotten = await tx.staff.forget_failures(
            username=username if kind != LockKind.ADDRESS else None,
            address=address if kind != LockKind.NAME else None, unknown_names=kind == LockKind.ADDRESS)
        target = f"address:{address}" if kind == LockKind.ADDRESS else f"staff:{username}"
        await tx.staff.audit(staff.id, "lift_lockout", target, config.clock(), {
            "kind": kind, "username": username, "address": address, "failures": forgotten})
    raise web.HTTPFound(f"{config.mount}/staff")


@requires(StaffRole.ADMIN)
async def create_staff(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    form = await request.post()
    username, name = form_value(form, "username", 64).strip(), form_value(form, "display_name", 128).strip()
    role = form_value(form, "role", 16)
    error = ""
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        error = "username"
    elif role not in {r.value for r in StaffRole}:
        error = "role"
    else:
        try:
            hashed = hash_password(form_value(form, "password", 1024))
        except ValueError:
            error = "password_rule"
    if not error:
        try:
            async with config.store.transaction() as tx:
                created = await tx.staff.add_user(username, name or username, StaffRole(role), hashed, config.clock())
                await tx.staff.audit(staff.id, "create_staff", f"staff:{created.id}", config.clock(), {"role": role})
        except ConflictError:
            error = "username"
    if error:
        return await _staff_page(request, error, 400)
    raise web.HTTPFound(f"{config.mount}/staff")


@requires(StaffRole.ADMIN)
async def deactivate(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    target = request.match_info["staff_id"]
    if not target.isdigit() or int(target) == staff.id:
        raise web.HTTPBadRequest(text="not this one")
    async with config.store.transaction() as tx:
        user = await tx.staff.get_user(int(target))
        if user is None:
            raise web.HTTPNotFound()
        user.active = False
        await tx.staff.save_user(user)
        await tx.staff.end_sessions_of(user.id)
        await tx.staff.audit(staff.id, "deactivate_staff", f"staff:{user.id}", config.clock())
    raise web.HTTPFound(f"{config.mount}/staff")


@requires(StaffRole.ADMIN)
async def audit_log(request: web.Request) -> web.Response:
    config = config_of(request)
    target = request.query.get("target", "")[:64] or None
    async with config.store.transaction() as tx:
        entries = await tx.staff.audit_log(target=target, limit=300)
        users = {u.id: u for u in await tx.staff.users()}
    return render(request, "audit.html", {"entries": entries, "users": users, "target": target or ""})


def add_routes(app: web.Application) -> None:
    add_page("/staff", "staff", StaffRole.ADMIN)
    add_page("/audit", "audit", StaffRole.ADMIN)
    app.router.add_get("/staff", staff_list)
    app.router.add_post("/staff", create_staff)
    app.router.add_post("/staff/{staff_id}/deactivate", deactivate)
    app.router.add_post("/staff/lockouts/lift", lift_lockout)
    app.router.add_get("/audit", audit_log)
