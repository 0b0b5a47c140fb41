"""Builds the web application; other modules add their routes to it."""

from __future__ import annotations

import html

from aiohttp import web

from core.settings import Settings

RULES = """<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Правила акции</title></head>
<body><h1>Правила акции</h1>
<p>Организатор обрабатывает имя, телефон и e-mail участника для проведения акции и вручения призов
(версия согласия {version}). Один человек участвует одним профилем; аккаунты в разных мессенджерах
связываются в один профиль.</p></body></html>"""


def build_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=25 * 1024 * 1024)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def rules(_: web.Request) -> web.Response:
        return web.Response(text=RULES.format(version=html.escape(settings.consent_version)),
                            content_type="text/html")

    app.router.add_get("/healthz", health)
    app.router.add_get("/rules", rules)
    return app
