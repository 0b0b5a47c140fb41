"""Managers' channel health: each channel's state (measured or marked), the latest changes, and marking a
channel down (a national block the platform cannot measure) or up again, audited.

Marks go through ``core.channel_marks``, which checks them; every process heeds a mark within seconds.
"""

from __future__ import annotations

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, requires
from bots.web.console.pages import add_page
from core.channel_marks import MarkError, mark_channel, standings
from core.ports.channel_health import REASON_LENGTH, ChannelState
from core.ports.staff import StaffRole

MANAGERS = (StaffRole.ADMIN, StaffRole.MANAGER)
HISTORY = 50


def _names(request: web.Request) -> list[str]:
    config = config_of(request)
    running = list(config.channels)
    return running + sorted(name for name in config.channels.known if name not in running)


async def _page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    config = config_of(request)
    names = _names(request)
    async with config.store.transaction() as tx:
        found = await standings(tx, names)
        history = await tx.channel_health.history(limit=HISTORY)
    running = set(config.channels)
    return render(request, "channels.html", {
        "standings": found, "history": history, "running": running, "error": error,
        "title_of": lambda name: (config.channels.profile(name).title  # type: ignore[union-attr]
                                  if config.channels.profile(name) else name),
        "reason_length": REASON_LENGTH}, status=status)


@requires(*MANAGERS)
async def channel_list(request: web.Request) -> web.Response:
    return await _page(request)


@requires(*MANAGERS)
async def mark(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    form = await request.post()
    channel = form_value(form, "channel", 40)
    wanted = form_value(form, "state", 20)
    if wanted not in ("down", "up"):
        return await _page(request, "state: down or up", status=400)
    state = ChannelState.DOWN if wanted == "down" else ChannelState.HEALTHY
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            change = await mark_channel(tx, channel, state, form_value(form, "reason", REASON_LENGTH + 1),
                                        f"console:{staff.user.username}", now, _names(request))
            await tx.staff.audit(staff.id, f"channel_{wanted}", f"channel:{change.channel}", now,
                                 {"reason": change.reason})
    except MarkError as e:
        return await _page(request, str(e), status=400)
    raise web.HTTPFound(f"{config.mount}/channels")


def add_routes(app: web.Application) -> None:
    add_page("/channels", "channels", *MANAGERS)
    app.router.add_get("/channels", channel_list)
    app.router.add_post("/channels", mark)
