"""Managers' broadcasts: the latest with their reports (delivered per channel, fallbacks, failures by reason), and
sending one template to a segment (fixed, or a campaign's participants, a draw's entrants or winners), marked
advertising or not, as ``promo broadcast send`` does, after a confirmation that says to how many people it goes and
shows the text in each of their languages.

Everything goes through ``core.broadcasts``: the template and its parameters are checked there, the notices are
queued there page by page, and the report is computed there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, requires
from bots.web.console.pages import add_page
from core import broadcasts
from core.broadcasts import BroadcastError
from core.ports.staff import StaffRole

MANAGERS = (StaffRole.ADMIN, StaffRole.MANAGER)
MAX_HOURS = 24 * 30
REPORTED = 5  # the newest broadcasts listed with their whole report; older ones link to theirs


class FormError(Exception):
    """A value of the form that cannot be used; the message says which and why."""


def _params(text: str) -> dict[str, str]:
    """``name=value`` lines, as ``--param name=value`` on the command line."""
    params = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise FormError(f"expected name=value, got {line.strip()!r}")
        params[name.strip()] = value.strip()
    return params


def _hours(text: str, name: str) -> float | None:
    if not text.strip():
        return None
    try:
        hours = float(text.replace(",", "."))
    except ValueError:
        raise FormError(f"{name}: expected a number of hours, got {text.strip()!r}") from None
    if not 0 < hours <= MAX_HOURS:
        raise FormError(f"{name}: between 0 and {MAX_HOURS} hours")
    return hours


def _read(form: Any) -> dict[str, Any]:
    """The form's choice, checked by the core as the command line checks it; ``FormError`` or ``BroadcastError``."""
    values = {"template": form_value(form, "template", 100).strip(), "segment": form_value(form, "segment", 50),
              "params": form_value(form, "params", 10_000), "answer_within_hours":
              form_value(form, "answer_within_hours", 20).strip(), "deadline_hours":
              form_value(form, "deadline_hours", 20).strip() or "72",
              "spread_hours": form_value(form, "spread_hours", 20).strip(),
              "advertising": "1" if form_value(form, "advertising", 5) else ""}
    values["parsed"] = _params(values["params"])
    values["answer_within"] = _hours(values["answer_within_hours"], "answer_within_hours")
    values["deadline"] = _hours(values["deadline_hours"], "deadline_hours")
    values["spread"] = _hours(values["spread_hours"], "spread_hours")
    return values


async def _listing(request: web.Request, values: dict[str, Any] | None = None, error: str = "",
                   status: int = 200) -> web.Response:
    config = config_of(request)
    async with config.store.transaction() as tx:
        recent = await tx.broadcasts.recent()
    reports = {b.id: await broadcasts.report(config.store, b.id) for b in recent[:REPORTED]}
    return render(request, "broadcasts.html", {
        "recent": recent, "reports": reports, "channels": config.channels,
        "segments": await config.segments.choices(config.store), "templates": sorted(config.templates.entries),
        "values": values or {"deadline_hours": "72"}, "error": error}, status=status)


@requires(*MANAGERS)
async def broadcast_list(request: web.Request) -> web.Response:
    return await _listing(request)


@requires(*MANAGERS)
async def confirm(request: web.Request) -> web.Response:
    """The second step: the chosen template and segment, and how many people it would reach now."""
    config = config_of(request)
    form = await request.post()
    try:
        values = _read(form)
        segment = await _segment(config, values["segment"])
        shown = await broadcasts.preview(config.store, config.templates, values["template"], values["parsed"],
                                         segment, advertising=bool(values["advertising"]),
                                         capping=broadcasts.Capping(config.caps, config.clock(), config.zone))
    except (FormError, BroadcastError) as e:
        return await _listing(request, _echo(form), str(e), status=400)
    return render(request, "broadcast_confirm.html", {"values": values, "people": shown.people,
                                                      "preview": shown, "segment": segment})


FIELDS = ("template", "segment", "params", "answer_within_hours", "deadline_hours", "spread_hours", "advertising")


def _echo(form: Any) -> dict[str, str]:
    return {k: form_value(form, k, 10_000) for k in FIELDS}


async def _segment(config: Any, name: str) -> broadcasts.Segment:
    async with config.store.transaction() as tx:
        return await config.segments.resolve(tx, name)


@requires(*MANAGERS)
async def send(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    form = await request.post()
    now = config.clock()
    try:
        values = _read(form)
        answer_within = timedelta(hours=values["answer_within"]) if values["answer_within"] else None
        deadline = now + timedelta(hours=values["deadline"]) if answer_within and values["deadline"] else None
        started = await broadcasts.start(config.store, config.templates, values["template"], values["parsed"],
                                         await _segment(config, values["segment"]), now,
                                         answer_within=answer_within, deadline=deadline,
                                         advertising=bool(values["advertising"]),
                                         spread=timedelta(hours=values["spread"]) if values["spread"] else None)
    except (FormError, BroadcastError) as e:
        return await _listing(request, _echo(form), str(e), status=400)
    async with config.store.transaction() as tx:
        await tx.staff.audit(staff.id, "broadcast_send", f"broadcast:{started.id}", now, {
            "template": started.template, "segment": started.segment, "people": started.people,
            "advertising": started.advertising, "spread_hours": values["spread"],
            "confirmed_people": form_value(form, "people", 12)})
    raise web.HTTPFound(f"{config.mount}/broadcasts/{started.id}")


@requires(*MANAGERS)
async def report(request: web.Request) -> web.Response:
    config = config_of(request)
    broadcast_id = request.match_info["broadcast_id"]
    if not broadcast_id.isdigit() or len(broadcast_id) > 12:
        raise web.HTTPNotFound(text="no such broadcast")
    found = await broadcasts.report(config.store, int(broadcast_id))
    if found is None:
        raise web.HTTPNotFound(text="no such broadcast")
    return render(request, "broadcast.html", {"report": found, "channels": config.channels})


def add_routes(app: web.Application) -> None:
    add_page("/broadcasts", "broadcasts", *MANAGERS)
    app.router.add_get("/broadcasts", broadcast_list)
    app.router.add_post("/broadcasts", send)
    app.router.add_post("/broadcasts/confirm", confirm)
    app.router.add_get("/broadcasts/{broadcast_id}", report)
