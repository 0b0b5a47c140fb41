"""Updates the platform gave up on (dead: they failed too often, or a step crashed on them), and retrying one.

A dead update keeps its body and its error. Retrying puts it back in the intake with no attempts
yet: the recovery loop takes it up within seconds, and it is processed as if it had just come
(or, failing again as often, set aside again). Each retry is audited.
"""

from __future__ import annotations

import json

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import requires
from bots.web.console.pages import add_page
from core.clean_text import storable
from core.ports import UnitOfWork
from core.ports.inbox import DeadUpdate
from core.ports.staff import StaffRole

STAFF = (StaffRole.ADMIN, StaffRole.MANAGER, StaffRole.SUPPORT)  # managers see the count on the dashboard
SHOWN = 200
PREVIEW = 600  # characters of the body shown: enough to see what it was, the page stays a list


async def _person_of(tx: UnitOfWork, update: DeadUpdate, known: set[str]) -> int | None:
    """The sender's person, when the bot's key names a channel we know (``channel:identity``) and they have one."""
    channel = update.bot.split(":", 1)[0]
    if update.account_id is None or channel not in known:
        return None
    found = await tx.people.find_by_account(channel, update.account_id)
    return found[1].id if found else None


@requires(*STAFF)
async def dead_list(request: web.Request) -> web.Response:
    config = config_of(request)
    known = set(config.channels.known)
    async with config.store.transaction() as tx:
        updates = await tx.inbox.dead(SHOWN)
        total = await tx.inbox.dead_count()
        people = {u.id: await _person_of(tx, u, known) for u in updates}
    # a body may hold what made it fail (a lone surrogate): shown storable, or the page could not be sent either
    previews = {u.id: storable(json.dumps(u.raw, ensure_ascii=False)[:PREVIEW]) for u in updates}
    return render(request, "dead_updates.html", {
        "updates": updates, "total": total, "people": people, "previews": previews,
        "retried": request.query.get("retried", "")[:12]})


@requires(*STAFF)
async def retry(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    update_id = request.match_info["update_id"]
    if not update_id.isdigit() or len(update_id) > 12:
        raise web.HTTPNotFound(text="no such update")
    now = config.clock()
    async with config.store.transaction() as tx:
        if not await tx.inbox.revive(int(update_id), now):
            raise web.HTTPNotFound(text="no dead update with this number (retried already?)")
        await tx.staff.audit(staff.id, "update_retry", f"update:{update_id}", now)
    raise web.HTTPFound(f"{config.mount}/updates?retried={update_id}")


def add_routes(app: web.Application) -> None:
    add_page("/updates", "dead_updates", *STAFF)
    app.router.add_get("/updates", dead_list)
    app.router.add_post("/updates/{update_id}/retry", retry)
