"""The platform's web application: health, the rules page, and whatever routes channels and tools add."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from aiohttp import web

RULES = """<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Правила акции</title></head>
<body><h1>Правила акции</h1>
<p>Организатор обрабатывает имя, телефон и e-mail участника для проведения акции и вручения призов
(версия согласия {version}). Один человек участвует одним профилем; аккаунты в разных мессенджерах
связываются в один профиль.</p></body></html>"""
MAX_BODY = 25 * 1024 * 1024  # a photo uploaded in the sandbox; webhooks are far smaller


def build_app(consent_version: str, routes: Iterable[web.AbstractRouteDef] = (),
              subapps: Mapping[str, web.Application] | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def rules(_: web.Request) -> web.Response:
        return web.Response(text=RULES.format(version=html.escape(consent_version)), content_type="text/html")

    app.router.add_get("/health", health)
    app.router.add_get("/healthz", health)
    app.router.add_get("/rules", rules)
    app.router.add_routes(list(routes))
    for prefix, subapp in (subapps or {}).items():  # the staff console, under /console
        app.add_subapp(prefix, subapp)
    return app
