"""The draws' published files, for anyone: ``/draws/{id}/entries.csv`` from the entries' close on, and
``protocol.html`` and ``winners.csv`` once drawn (the links ``/draws`` in the bot gives).

They hold pseudonyms only, exactly the bytes ``promo draw export`` writes, so what a participant checks here with
``promo draw verify`` is what the staff published. Nothing here needs a login, and nothing here can change a draw.
"""

from __future__ import annotations

from aiohttp import web

from core import draws
from core.ports import Store
from core.ports.draws import DrawStatus

TYPES = {"entries.csv": "text/csv", "winners.csv": "text/csv", "protocol.html": "text/html"}


def public_draw_routes(store: Store) -> list[web.RouteDef]:
    async def published(request: web.Request) -> web.Response:
        draw_id, name = request.match_info["draw_id"], request.match_info["file"]
        if not draw_id.isdigit() or len(draw_id) > 12 or name not in TYPES:
            raise web.HTTPNotFound(text="not found")
        try:
            async with store.transaction() as tx:
                draw = await tx.draws.get(int(draw_id))
                if name == "entries.csv":
                    body = await draws.entry_list(tx, draw.id)
                elif draw.status is not DrawStatus.DRAWN:
                    raise draws.DrawRefused("not_drawn", f"draw {draw.id} is not drawn yet")
                elif name == "winners.csv":
                    body = (await draws.winners_csv(tx, draw.id)).encode()
                else:
                    body = (await draws.protocol_html(tx, draw.id)).encode()
        except LookupError:
            raise web.HTTPNotFound(text="no such draw") from None
        except draws.DrawRefused as e:
            raise web.HTTPNotFound(text=str(e)) from None
        return web.Response(body=body, headers={
            "Content-Type": f"{TYPES[name]}; charset=utf-8", "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    return [web.get("/draws/{draw_id}/{file}", published)]
