"""A person as staff see them: linked accounts, merges with their evidence (undoable), tickets, the timeline,
and their data on request (export; erasure by an admin).

Support sees what a ticket needs: phones and e-mails are masked for them wherever they appear (the pages,
the export; ``core.support.redaction``); admins see them whole.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from bots.web.console.app import config_of, redacts, render, staff_of
from bots.web.console.auth import requires
from bots.web.console.i18n import translator
from bots.web.console.timeline import lines_of
from core.ports.staff import StaffRole
from core.support.identity import CannotUndo, undo_merge
from core.support.personal_data import ErasureRefused, erase_person, export_person
from core.support.redaction import mask, redact_document
from promo.ledger import LedgerAccount

VIEWERS = (StaffRole.ADMIN, StaffRole.SUPPORT)


def _id(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound()
    return int(value)


@requires(*VIEWERS)
async def person_page(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    person_id = _id(request, "person_id")
    async with config.store.transaction() as tx:
        try:
            person = await tx.people.get(person_id)
        except LookupError:
            raise web.HTTPNotFound(text="no such person") from None
        accounts = await tx.people.accounts_of(person_id)
        merges = await tx.people.merges(person_id)
        undone = await tx.staff.undone_merges([m.id for m in merges])
        balances = await tx.ledger.balances(person_id)
        tickets = await tx.tickets.of_person(person_id)
        items = await tx.timeline.of_person(person_id, limit=60)
        erased = bool(await tx.staff.audit_log(target=f"person:{person_id}", limit=50)) and person.name is None \
            and any(a.external_id.startswith("erased:") for a in accounts)
    whole = staff.may(StaffRole.ADMIN)
    return render(request, "person.html", {
        "person": person, "accounts": accounts, "merges": merges, "undone": undone, "tickets": tickets,
        "balances": {str(account.value): balances.get(account, 0) for account in LedgerAccount
                     if account in balances}, "erased": erased,
        "phone": person.phone if whole else mask(person.phone), "email": person.email if whole else mask(person.email),
        "lines": lines_of(items, config.templates, config.channels, person_id, staff.user.locale),
        "channels": config.channels, "may_erase": whole})


@requires(*VIEWERS)
async def undo(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    person_id, merge_id = _id(request, "person_id"), _id(request, "merge_id")
    async with config.store.transaction() as tx:
        now = config.clock()
        try:
            done = await undo_merge(tx, person_id, merge_id, staff.id, now)
        except CannotUndo as e:
            reason = f"{translator(staff.user.locale)('cannot_undo')}: {e.reason}"
            return render(request, "refused.html", {"reason": reason}, status=409)
        await tx.staff.audit(staff.id, "undo_merge", f"person:{person_id}", now, {
            "merge": merge_id, "survivor": done.merge.survivor_id, "absorbed": done.merge.absorbed_id,
            "rows": done.rows})
    raise web.HTTPFound(f"{config.mount}/people/{person_id}")


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@requires(*VIEWERS)
async def export(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    person_id = _id(request, "person_id")
    async with config.store.transaction() as tx:
        try:
            document = await export_person(tx, person_id, config.clock())
        except LookupError:
            raise web.HTTPNotFound(text="no such person") from None
        await tx.staff.audit(staff.id, "export", f"person:{person_id}", config.clock())
    if redacts(staff):  # the same rule as on the pages: support's copy has no whole phone or e-mail
        document = redact_document(json.loads(json.dumps(document, default=_json_default)))
    body = json.dumps(document, ensure_ascii=False, indent=2, default=_json_default)
    return web.Response(text=body, content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="person-{person_id}.json"'})


@requires(StaffRole.ADMIN)
async def erase(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    person_id = _id(request, "person_id")
    async with config.store.transaction() as tx:
        now = config.clock()
        try:
            changed = await erase_person(tx, person_id, now)
        except LookupError:
            raise web.HTTPNotFound(text="no such person") from None
        except ErasureRefused as e:  # money is owed to the phone erasure would blank
            raise web.HTTPConflict(text=str(e)) from None
        await tx.states.drop(person_id)
        await tx.staff.audit(staff.id, "erase", f"person:{person_id}", now, {"rows": changed})
    raise web.HTTPFound(f"{config.mount}/people/{person_id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/people/{person_id}", person_page)
    app.router.add_post("/people/{person_id}/merges/{merge_id}/undo", undo)
    app.router.add_get("/people/{person_id}/export", export)
    app.router.add_post("/people/{person_id}/erase", erase)
