"""Signing in and out, the staff member's language, and where the console opens for each role."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bots.web.console.app import config_of, staff_of
from bots.web.console.auth import ALL_ROLES, COOKIE, Throttled, form_value, log_in, public, request_address, requires
from bots.web.console.i18n import translator
from core.ports.staff import StaffRole

HOME = {StaffRole.ADMIN: "/tickets", StaffRole.SUPPORT: "/tickets", StaffRole.MANAGER: "/dashboard"}


@public
async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"t": translator("ru"), "error": "",
                                                                  "mount": config_of(request).mount})


@public
async def login(request: web.Request) -> web.Response:
    config = config_of(request)
    form = await request.post()
    t = translator("ru")
    try:
        done = await log_in(config.store, form_value(form, "username", 64), form_value(form, "password", 1024),
                            request_address(request, config.trusted_proxies), config.clock(),
                            config.session_lifetime, config.staff_networks)
    except Throttled:
        return aiohttp_jinja2.render_template("login.html", request, {"t": t, "error": t("throttled"),
                                                                      "mount": config.mount}, status=429)
    if done is None:
        return aiohttp_jinja2.render_template("login.html", request, {"t": t, "error": t("wrong_login"),
                                                                      "mount": config.mount}, status=401)
    token, _, user = done
    response = web.HTTPFound(config.mount + HOME[user.role])
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=config.secure_cookies,
                        path=config.mount, max_age=int(config.session_lifetime.total_seconds()))
    raise response


@requires(*ALL_ROLES)
async def logout(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    async with config.store.transaction() as tx:
        await tx.staff.end_session(staff.session.token_hash)
        await tx.staff.audit(staff.id, "logout", f"staff:{staff.id}", config.clock())
    response = web.HTTPFound(f"{config.mount}/login")
    response.del_cookie(COOKIE, path=config.mount)
    raise response


@requires(*ALL_ROLES)
async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound(config_of(request).mount + HOME[staff_of(request).role])


@requires(*ALL_ROLES)
async def switch_language(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    async with config.store.transaction() as tx:
        user = await tx.staff.get_user(staff.id)
        if user is not None:
            user.locale = "en" if user.locale == "ru" else "ru"
            await tx.staff.save_user(user)
    back = request.headers.get("Referer", "")
    raise web.HTTPFound(back if back.startswith(f"{request.scheme}://{request.host}{config.mount}/")
                        else config.mount + HOME[staff.role])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_post("/language", switch_language)
    app.router.add_get("/", home)
