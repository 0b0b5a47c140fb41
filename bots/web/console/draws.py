"""Managers' draws: each campaign's draws with the commitment and drand round published at activation, the list
frozen at the entries' close (its hash, the list), running a draw (once its round is out), the winners with their
status, the published files and a check. A draw without a round says so: it runs only if its campaign says
``beacon = "none"``, and then whoever knows the seed knows the outcome.

Everything goes through ``core.draws`` as ``promo draw …`` does: the files offered for download are the ones
``promo draw export`` writes (``entries.csv``, ``winners.csv``, ``protocol.html``), and "verify" recomputes the
winners from the stored list exactly as ``promo draw check`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, requires
from bots.web.console.pages import add_page
from core import campaigns, draws
from core.draws import rescheduling
from core.ports.draws import Draw, DrawStatus, WinnerStatus
from core.ports.staff import StaffRole
from promo import draws as algorithm
from promo.beacon import chain

MANAGERS = (StaffRole.ADMIN, StaffRole.MANAGER)
FILES = {"entries.csv": "text/csv", "winners.csv": "text/csv", "protocol.html": "text/html"}


def _id(request: web.Request, name: str = "draw_id") -> int:
    value = request.match_info[name]
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPNotFound(text="not found")
    return int(value)


async def _draw_page(request: web.Request, draw_id: int, *, error: str = "", reason: str = "",
                     check: draws.Check | None = None, message: str = "", status: int = 200) -> web.Response:
    """The draw's page; ``reason`` (a ``DrawRefused`` reason) picks the explanation shown beside ``error``."""
    config = config_of(request)
    async with config.store.transaction() as tx:
        try:
            draw = await tx.draws.get(draw_id)
        except LookupError:
            raise web.HTTPNotFound(text="no such draw") from None
        campaign = await tx.campaigns.get(draw.campaign)
        winners = await tx.draws.winners(draw_id) if draw.status is DrawStatus.DRAWN else []
        # why a winner was never reached: each channel their notice was tried on, and what it said
        trails = {w.id: await draws.notice_trail(tx, w) for w in winners
                  if w.status in (WinnerStatus.UNREACHED, WinnerStatus.PASSED)}
        notes = {x.person_id: x.note for x in await tx.draws.exclusions(draw.campaign)} if draw.exclusions else {}
        changes = await tx.draws.changes(draw_id)
    beacon_at = chain(draw.beacon_chain).time_of(draw.beacon_round) if draw.beacon_round and draw.beacon_chain \
        else None
    now = config.clock()
    return render(request, "draw.html", {
        "draw": draw, "campaign": campaign, "winners": winners, "tiers": algorithm.format_tiers(draw.tiers),
        "prize_names": {p.code: p.name for p in campaign.prizes} if campaign else {},
        "beacon_at": beacon_at, "beacon_out": beacon_at is not None and now >= beacon_at,
        "needs_beacon": campaign is not None and campaign.draw_rules.beacon,
        "closes_at": draws.entries_close(campaign, draw) if campaign else None,
        "due": now >= draw.draw_at, "verify_command": draws.verify_command(draw) if draw.status is DrawStatus.DRAWN
        else "", "error": error, "reason": reason, "check": check, "message": message,
        "scheduled": draw.status is DrawStatus.SCHEDULED, "drawn": draw.status is DrawStatus.DRAWN,
        "confirmed": WinnerStatus.CONFIRMED, "unreached": WinnerStatus.UNREACHED, "trails": trails,
        "notes": notes, "changes": changes,
        "changeable": draw.status is DrawStatus.SCHEDULED and not draw.frozen and campaign is not None
        and now < draws.entries_close(campaign, draw)},
        status=status)


@requires(*MANAGERS)
async def all_draws(request: web.Request) -> web.Response:
    config = config_of(request)
    async with config.store.transaction() as tx:
        found = await campaigns.listing(tx)
        by_campaign: list[tuple[Any, list[Draw]]] = [(c, await tx.draws.of_campaign(c.code)) for c in found]
    return render(request, "draws.html", {"campaigns": by_campaign})


@requires(*MANAGERS)
async def draw_page(request: web.Request) -> web.Response:
    return await _draw_page(request, _id(request), message=request.query.get("done", "")[:32])


@requires(*MANAGERS)
async def name_beacon(request: web.Request) -> web.Response:
    config, staff, draw_id = config_of(request), staff_of(request), _id(request)
    typed = form_value(await request.post(), "round", 20).strip()
    if typed and not typed.isdigit():
        return await _draw_page(request, draw_id, error=typed, reason="bad_round", status=400)
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            named = await draws.name_beacon(tx, draw_id, int(typed) if typed else None, now)
            await tx.staff.audit(staff.id, "draw_beacon", f"draw:{draw_id}", now, {"round": named.beacon_round})
    except LookupError:
        raise web.HTTPNotFound(text="no such draw") from None
    except draws.DrawRefused as e:
        return await _draw_page(request, draw_id, error=str(e), reason=e.reason, status=409)
    raise web.HTTPFound(f"{config.mount}/draws/{draw_id}?done=beacon_named")


@requires(*MANAGERS)
async def run(request: web.Request) -> web.Response:
    config, staff, draw_id = config_of(request), staff_of(request), _id(request)
    early = form_value(await request.post(), "early", 5) == "yes"
    now = config.clock()
    try:
        drawn = await draws.run_draw(config.store, draw_id, now, config.beacons, config.winner_hours, early=early,
                                     seal=config.seal)
    except LookupError:
        raise web.HTTPNotFound(text="no such draw") from None
    except draws.DrawRefused as e:
        return await _draw_page(request, draw_id, error=str(e), reason=e.reason, status=409)
    async with config.store.transaction() as tx:
        await tx.staff.audit(staff.id, "draw_run", f"draw:{draw_id}", now, {
            "early": early, "participants": drawn.participants, "entries": drawn.entries,
            "entries_hash": drawn.entries_hash})
    raise web.HTTPFound(f"{config.mount}/draws/{draw_id}?done=drawn")


@requires(*MANAGERS)
async def verify(request: web.Request) -> web.Response:
    config, staff, draw_id = config_of(request), staff_of(request), _id(request)
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            result = await draws.check(tx, draw_id)
            await tx.staff.audit(staff.id, "draw_verify", f"draw:{draw_id}", now, {
                "commitment_matches": result.commitment_matches, "winners_match": result.winners_match})
    except LookupError:
        raise web.HTTPNotFound(text="no such draw") from None
    except (draws.DrawRefused, algorithm.DrawError) as e:
        return await _draw_page(request, draw_id, error=str(e), status=409)
    return await _draw_page(request, draw_id, check=result)


@requires(*MANAGERS)
async def download(request: web.Request) -> web.StreamResponse:
    config, staff, draw_id = config_of(request), staff_of(request), _id(request)
    name = request.match_info["file"]
    if name not in FILES:
        raise web.HTTPNotFound(text="no such file")
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            draw = await tx.draws.get(draw_id)
            if name == "entries.csv":
                body = await draws.entry_list(tx, draw_id)
            elif name == "winners.csv":
                if draw.status is not DrawStatus.DRAWN:
                    raise draws.DrawRefused("not_drawn", f"draw {draw_id} is not drawn yet")
                body = (await draws.winners_csv(tx, draw_id)).encode()
            else:
                body = (await draws.protocol_html(tx, draw_id)).encode()
            await tx.staff.audit(staff.id, "draw_export", f"draw:{draw_id}", now, {"file": name})
    except LookupError:
        raise web.HTTPNotFound(text="no such draw") from None
    except draws.DrawRefused as e:
        return await _draw_page(request, draw_id, error=str(e), status=409)
    file_name = f"{draw.campaign}-{draw.code}-{name}"
    return web.Response(body=body, headers={
        "Content-Type": f"{FILES[name]}; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{file_name}"',
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@requires(*MANAGERS)
async def prize_sent(request: web.Request) -> web.Response:
    config, staff, winner_id = config_of(request), staff_of(request), _id(request, "winner_id")
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            sent = await draws.mark_sent(tx, winner_id, now)
            await tx.staff.audit(staff.id, "prize_sent", f"winner:{winner_id}", now, {"draw": sent.draw_id})
    except LookupError:
        raise web.HTTPNotFound(text="no such winner") from None
    except draws.DrawRefused as e:
        async with config.store.transaction() as tx:
            winner = await tx.draws.winner(winner_id)
        return await _draw_page(request, winner.draw_id, error=str(e), status=409)
    raise web.HTTPFound(f"{config.mount}/draws/{sent.draw_id}?done=prize_sent")


async def _on_unreached(request: web.Request, action: str) -> web.Response:
    """Tell an unreached winner again (another contact is known now) or pass their prize to the next reserve, with
    the manager's reason; both audited."""
    config, staff, winner_id = config_of(request), staff_of(request), _id(request, "winner_id")
    reason = " ".join(form_value(await request.post(), "reason", 300).split())
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            if action == "prize_passed_on":
                winner = await tx.draws.winner(winner_id)
                stepped_in = await draws.pass_on(tx, winner_id, reason, now, config.winner_hours)
                details = {"draw": winner.draw_id, "reason": reason,
                           "to_winner": stepped_in.id if stepped_in else None}
            else:
                winner = await draws.tell_again(tx, winner_id, now, config.winner_hours)
                details = {"draw": winner.draw_id, "reason": reason}
            await tx.staff.audit(staff.id, action, f"winner:{winner_id}", now, details)
    except LookupError:
        raise web.HTTPNotFound(text="no such winner") from None
    except draws.DrawRefused as e:
        async with config.store.transaction() as tx:
            winner = await tx.draws.winner(winner_id)
        return await _draw_page(request, winner.draw_id, error=str(e), status=409)
    raise web.HTTPFound(f"{config.mount}/draws/{winner.draw_id}?done={action}")


@requires(*MANAGERS)
async def pass_on(request: web.Request) -> web.Response:
    return await _on_unreached(request, "prize_passed_on")


@requires(*MANAGERS)
async def tell_again(request: web.Request) -> web.Response:
    return await _on_unreached(request, "winner_told_again")


async def _reschedule(request: web.Request, action: str) -> web.Response:
    """Move (``draw_moved``) or cancel (``draw_cancelled``) a draw whose list is open, with the reason; audited."""
    config, staff, draw_id = config_of(request), staff_of(request), _id(request)
    form = await request.post()
    reason, typed = form_value(form, "reason", 300), form_value(form, "draw_at", 20).strip()
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            if action == "draw_moved":
                try:
                    to = datetime.fromisoformat(typed)
                except ValueError:
                    raise draws.DrawRefused("bad_time", f"{typed!r} is not a date and time") from None
                change = await rescheduling.move(tx, draw_id, to, reason, staff.id, now)
            else:
                change = await rescheduling.cancel(tx, draw_id, reason, staff.id, now)
            await tx.staff.audit(staff.id, action, f"draw:{draw_id}", now, rescheduling.audit_detail(change))
    except LookupError:
        raise web.HTTPNotFound(text="no such draw") from None
    except draws.DrawRefused as e:
        return await _draw_page(request, draw_id, error=str(e), reason=e.reason, status=409)
    raise web.HTTPFound(f"{config.mount}/draws/{draw_id}?done={action}")


@requires(*MANAGERS)
async def move(request: web.Request) -> web.Response:
    return await _reschedule(request, "draw_moved")


@requires(*MANAGERS)
async def cancel(request: web.Request) -> web.Response:
    return await _reschedule(request, "draw_cancelled")


def add_routes(app: web.Application) -> None:
    add_page("/draws", "draws", *MANAGERS)
    app.router.add_get("/draws", all_draws)
    app.router.add_get("/draws/{draw_id}", draw_page)
    app.router.add_post("/draws/{draw_id}/beacon", name_beacon)
    app.router.add_post("/draws/{draw_id}/run", run)
    app.router.add_post("/draws/{draw_id}/verify", verify)
    app.router.add_post("/draws/{draw_id}/move", move)
    app.router.add_post("/draws/{draw_id}/cancel", cancel)
    app.router.add_get("/draws/{draw_id}/files/{file}", download)
    app.router.add_post("/winners/{winner_id}/sent", prize_sent)
    app.router.add_post("/winners/{winner_id}/pass", pass_on)
    app.router.add_post("/winners/{winner_id}/again", tell_again)
