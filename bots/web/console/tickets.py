"""Support pages: the ticket queue and one ticket with the person's unified timeline, replies, notes, assignment.

A reply is an ``OutgoingMessage`` enqueued in the same unit of work as the ticket's change (to the
ticket's channel, or through the router), and the outbox is woken so it leaves at once.
"""

from __future__ import annotations

import string
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, requires
from bots.web.console.pages import add_page
from bots.web.console.timeline import lines_of
from core.errors import ConflictError
from core.ports.staff import StaffRole
from core.ports.tickets import OPEN_STATUSES, QueueFilter, TicketStatus
from core.support import tickets as support

SUPPORT_ROLES = (StaffRole.ADMIN, StaffRole.SUPPORT)
CANNED = tomllib.loads((Path(__file__).with_name("canned.toml")).read_text(encoding="utf-8"))
TIMELINE_PAGE = 60
RETRIES = 5


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


def _statuses(name: str) -> tuple[TicketStatus, ...]:
    return (TicketStatus(name),) if name in {s.value for s in TicketStatus} else OPEN_STATUSES


@requires(*SUPPORT_ROLES)
async def queue(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    status = request.query.get("status", "")
    whose = request.query.get("whose", "")
    campaign = request.query.get("campaign", "")[:32] or None
    assigned = staff.id if whose == "mine" else 0 if whose == "unassigned" else None
    now = config.clock()
    async with config.store.transaction() as tx:
        rows = await tx.tickets.queue(QueueFilter(_statuses(status), assigned, campaign, limit=200))
        counts = await tx.tickets.counts()
        users = {u.id: u for u in await tx.staff.users()}
    shown = [{"row": row, "overdue": support.is_overdue(row.ticket, config.sla(row.ticket.campaign), now),
              "sla_hours": config.sla(row.ticket.campaign).total_seconds() / 3600} for row in rows]
    return render(request, "queue.html", {"rows": shown, "counts": counts, "status": status, "whose": whose,
                                          "campaign": campaign or "", "users": users,
                                          "channels": config.channels, "statuses": list(TicketStatus)})


def _canned(key: str, locale: str, params: dict[str, Any]) -> str:
    entry = CANNED.get(key)
    if entry is None:
        return ""
    text = str(entry.get(locale) or entry["ru"])
    return string.Formatter().vformat(text, (), _Defaults(params))


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@requires(*SUPPORT_ROLES)
async def ticket_page(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    ticket_id = _int(request.match_info["ticket_id"])
    before = request.query.get("before")
    try:
        before_at = datetime.fromisoformat(before) if before else None
    except ValueError:
        before_at = None
    async with config.store.transaction() as tx:
        try:
            ticket = await tx.tickets.get(ticket_id or 0)
        except LookupError:
            raise web.HTTPNotFound(text="no such ticket") from None
        person = await tx.people.get(ticket.person_id)
        events = await tx.tickets.events(ticket.id)
        items = await tx.timeline.of_person(ticket.person_id, before=before_at, limit=TIMELINE_PAGE)
        users = {u.id: u for u in await tx.staff.users()}
        others = [t for t in await tx.tickets.of_person(ticket.person_id) if t.id != ticket.id][:10]
    lines = lines_of(items, config.templates, config.channels, person.id, staff.user.locale)
    canned_key = request.query.get("canned", "")
    draft = _canned(canned_key, person.locale, {"name": person.name or "", "ticket": ticket.id})
    return render(request, "ticket.html", {
        "ticket": ticket, "person": person, "events": events, "lines": lines, "users": users, "others": others,
        "canned": CANNED, "draft": draft, "statuses": list(TicketStatus), "channels": config.channels,
        "overdue": support.is_overdue(ticket, config.sla(ticket.campaign), config.clock()),
        "older": items[-1].at.isoformat() if len(items) == TIMELINE_PAGE else "",
        "locale_key": "title_en" if staff.user.locale == "en" else "title_ru"})


async def _change(request: web.Request, work: Any, action: str, detail: dict[str, Any] | None = None) -> int:
    """Apply ``work(tx, ticket, staff, now)`` to the ticket in one unit of work, retrying a concurrent change."""
    config, staff = config_of(request), staff_of(request)
    ticket_id = _int(request.match_info["ticket_id"]) or 0
    for attempt in range(RETRIES):
        try:
            async with config.store.transaction() as tx:
                try:
                    ticket = await tx.tickets.get(ticket_id)
                except LookupError:
                    raise web.HTTPNotFound(text="no such ticket") from None
                now = config.clock()
                result = await work(tx, ticket, staff, now)
                await tx.staff.audit(staff.id, action, f"ticket:{ticket_id}", now, {**(detail or {}),
                                                                                    **(result or {})})
            return ticket_id
        except ConflictError:
            if attempt == RETRIES - 1:
                raise
    return ticket_id


def _back(request: web.Request, ticket_id: int) -> web.HTTPFound:
    return web.HTTPFound(f"{config_of(request).mount}/tickets/{ticket_id}")


@requires(*SUPPORT_ROLES)
async def reply(request: web.Request) -> web.Response:
    form = await request.post()
    text = form_value(form, "text", support.MAX_REPLY).strip()
    through_router = form_value(form, "route") == "router"
    if not text:
        raise _back(request, _int(request.match_info["ticket_id"]) or 0)

    async def work(tx: Any, ticket: Any, staff: Any, now: datetime) -> dict[str, Any]:
        await support.reply(tx, ticket, staff.id, text, now, through_router=through_router)
        return {"router": through_router, "length": len(text)}

    ticket_id = await _change(request, work, "reply")
    raise _back(request, ticket_id)


@requires(*SUPPORT_ROLES)
async def add_note(request: web.Request) -> web.Response:
    text = form_value(await request.post(), "text", support.MAX_REPLY).strip()

    async def work(tx: Any, ticket: Any, staff: Any, now: datetime) -> None:
        if text:
            await support.note(tx, ticket, staff.id, text, now)

    raise _back(request, await _change(request, work, "note"))


@requires(*SUPPORT_ROLES)
async def assign(request: web.Request) -> web.Response:
    chosen = _int(form_value(await request.post(), "staff_id", 12))

    async def work(tx: Any, ticket: Any, staff: Any, now: datetime) -> dict[str, Any]:
        target = await tx.staff.get_user(chosen) if chosen else None
        await support.assign(tx, ticket, target.id if target else None, staff.id, now)
        return {"to": target.id if target else None}

    raise _back(request, await _change(request, work, "assign"))


@requires(*SUPPORT_ROLES)
async def change_status(request: web.Request) -> web.Response:
    wanted = form_value(await request.post(), "status", 16)
    if wanted not in {s.value for s in TicketStatus}:
        raise web.HTTPBadRequest(text="unknown status")

    async def work(tx: Any, ticket: Any, staff: Any, now: datetime) -> dict[str, Any]:
        await support.set_status(tx, ticket, TicketStatus(wanted), now, staff_id=staff.id)
        return {"status": wanted}

    ticket_id = await _change(request, work, "status")
    raise _back(request, ticket_id)


def add_routes(app: web.Application) -> None:
    add_page("/tickets", "tickets", *SUPPORT_ROLES)
    app.router.add_get("/tickets", queue)
    app.router.add_get("/tickets/{ticket_id}", ticket_page)
    app.router.add_post("/tickets/{ticket_id}/reply", reply)
    app.router.add_post("/tickets/{ticket_id}/note", add_note)
    app.router.add_post("/tickets/{ticket_id}/assign", assign)
    app.router.add_post("/tickets/{ticket_id}/status", change_status)
