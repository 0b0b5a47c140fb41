"""The staff console: support (tickets, moderation, people) and managers (dashboard), server-rendered.

``console(config)`` returns the aiohttp sub-application ``run.py`` mounts at ``/console``; its
areas add their routes and navigation entries (``pages``), so later features add theirs alongside.
"""

from __future__ import annotations

from aiohttp import web

from bots.web.console import (
    admin,
    broadcasts,
    campaigns,
    channels,
    dashboard,
    dead_updates,
    draws,
    moderation,
    people,
    session,
    tickets,
)
from bots.web.console.app import ConsoleConfig, build_console

AREAS = [session.add_routes, tickets.add_routes, moderation.add_routes, people.add_routes, dashboard.add_routes,
         campaigns.add_routes, draws.add_routes, broadcasts.add_routes, channels.add_routes, dead_updates.add_routes,
         admin.add_routes]



def console(config: ConsoleConfig) -> web.Application:
    return build_console(config, AREAS)
