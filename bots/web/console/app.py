"""The staff console as an aiohttp sub-application: configuration, the guard every request passes, rendering.

The guard lets through only static files and the login page unauthenticated; everything else
needs a live session, a role the route names, and (for every POST) the session's CSRF token.
Pages are rendered server-side by Jinja2 with autoescaping: what people wrote is shown as text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup

from bots.web.console.auth import COOKIE, Staff, csrf_ok, token_hash
from bots.web.console.i18n import translator
from bots.web.console.pages import visible_to
from bots.web.console.throttling import Network
from core.broadcasts import Segments, standard_segments
from core.channels import ChannelDirectory
from core.draws import BeaconSource, SeedSeal
from core.gates.caps import FrequencyCaps
from core.ports import Store
from core.ports.staff import StaffRole
from core.support.redaction import redact_text
from core.templates import Templates

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ConsoleConfig:
    store: Store
    templates: Templates  # the platform's messages: the timeline shows what was sent, as sent
    channels: ChannelDirectory
    clock: Callable[[], datetime]
    zone: ZoneInfo
    sla: Callable[[str], timedelta]  # a campaign's answer target
    session_lifetime: timedelta = timedelta(hours=12)
    secure_cookies: bool = False  # behind HTTPS: the session cookie is sent over HTTPS only
    mount: str = "/console"
    beacons: BeaconSource | None = None  # drand relays: a draw that names a round is run once it is out
    winner_hours: int = 72  # how long a winner has to confirm (DRAW_WINNER_HOURS)
    seal: SeedSeal | None = None  # DRAW_SEED_KEY: seeds are sealed at activation and opened at the draw
    segments: Segments = field(default_factory=standard_segments)  # who a broadcast can go to
    caps: FrequencyCaps = field(default_factory=FrequencyCaps)  # FREQUENCY_CAPS: the preview counts who is at one
    trusted_proxies: tuple[Network, ...] = ()  # CONSOLE_TRUSTED_PROXIES: whose X-Forwarded-For is believed
    staff_networks: tuple[Network, ...] = ()  # CONSOLE_STAFF_NETWORKS: a name lockout lets a right password in


CONFIG = web.AppKey("console_config", ConsoleConfig)
STAFF = web.RequestKey("staff", Staff)


def config_of(request: web.Request) -> ConsoleConfig:
    return request.app[CONFIG]


def staff_of(request: web.Request) -> Staff:
    return request[STAFF]


async def _current_staff(request: web.Request) -> Staff | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 100:
        return None
    config = config_of(request)
    async with config.store.transaction() as tx:
        found = await tx.staff.session(token_hash(token), config.clock())
    return None if found is None else Staff(found[1], found[0])


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def refusal(request: web.Request, status: int, reason: str, staff: Staff | None = None) -> web.Response:
    locale = staff.user.locale if staff else "ru"
    t = translator(locale)
    response = aiohttp_jinja2.render_template("refused.html", request, {
        "t": t, "reason": t(reason), "staff": staff, "nav": visible_to(staff.role) if staff else [],
        "mount": config_of(request).mount, "csrf": staff.session.csrf_token if staff else ""}, status=status)
    return response


@web.middleware
async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                ) -> web.StreamResponse:
    route = request.match_info.route
    if isinstance(route.resource, web.StaticResource) or getattr(handler, "public", False):
        return _secured(await handler(request))
    staff = await _current_staff(request)
    if staff is None:
        if request.method == "GET":
            raise web.HTTPFound(f"{config_of(request).mount}/login")
        return _secured(refusal(request, 403, "no_access"))
    roles = getattr(handler, "roles", frozenset())
    if staff.role not in roles:
        return _secured(refusal(request, 403, "no_access", staff))
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        sent = form.get("csrf")
        if not csrf_ok(staff.session, sent if isinstance(sent, str) else None):
            return _secured(refusal(request, 403, "csrf", staff))
    request[STAFF] = staff
    return _secured(await handler(request))


def render(request: web.Request, name: str, context: Mapping[str, Any], status: int = 200) -> web.Response:
    staff = staff_of(request)
    config = config_of(request)
    return aiohttp_jinja2.render_template(name, request, {
        "t": translator(staff.user.locale), "staff": staff, "nav": visible_to(staff.role), "mount": config.mount,
        "csrf": staff.session.csrf_token, "now": config.clock(), "zone": config.zone, "redact": redacts(staff),
        **context}, status=status)


def redacts(staff: Staff) -> bool:
    """Support sees phones and e-mails masked, everywhere (``core.support.redaction``); admins see them whole."""
    return staff.role == StaffRole.SUPPORT


@jinja2.pass_context
def _finalize(context: jinja2.runtime.Context, value: Any) -> Any:
    # every {{ … }} of every page passes here: a field forgotten by a template still cannot show a phone
    if not (isinstance(value, str) and context.get("redact")):
        return value
    # markup already escaped (tojson, a macro) stays markup: a mask holds nothing that needs escaping
    return Markup(redact_text(str(value))) if isinstance(value, Markup) else redact_text(value)


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    return "—" if value is None else f"{value.astimezone(zone):%d.%m.%Y %H:%M}"


def since(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "—"
    minutes = max(0, int((now - value).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} мин" if minutes else "<1 мин"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} ч {minutes:02d} мин" if hours < 48 else f"{hours // 24} д {hours % 24} ч"


def roubles(kopecks: int | None) -> str:
    from promo.ledger import format_roubles

    return "—" if kopecks is None else f"{format_roubles(kopecks)} ₽"


def build_console(config: ConsoleConfig, areas: list[Callable[[web.Application], None]]) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[CONFIG] = config
    environment = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                       undefined=jinja2.StrictUndefined, finalize=_finalize)
    environment.filters.update(local_time=local_time, since=since, roubles=roubles)
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
    for add_routes in areas:
        add_routes(app)
    return app
