"""The managers' command line: one Typer app, one module per area.

It reaches the database only through ``Tools``, which ``run.py`` builds: the command line is
an adapter like a channel, and ``bots`` never imports ``storage``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import typer

from core.broadcasts import Capping, Segments, standard_segments
from core.ports import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Tools:
    """What a command may use: run async work against the store (migrated, then closed), and the clock."""

    with_store: Callable[[Callable[[Store], Awaitable[Any]]], Any]
    now: Callable[[], datetime]
    segments: Segments = field(default_factory=standard_segments)  # who a broadcast can go to
    capping: Callable[[datetime], Capping | None] = lambda now: None  # the frequency caps a preview counts against

    def run(self, work: Callable[[Store], Awaitable[T]]) -> T:
        return self.with_store(work)  # type: ignore[no-any-return]


def build_cli(tools: Tools, serve: Callable[[], None]) -> typer.Typer:
    from bots.cli import broadcasts, campaigns, channels, draws, payouts, receipts, staff

    app = typer.Typer(help="The promo platform. With no command, `run.py` runs it (the bots, the outbox and the web "
                      "app; the sandbox when no channel is configured) until Ctrl+C or SIGTERM. The commands below "
                      "manage what it runs.", no_args_is_help=False,
                      pretty_exceptions_enable=False, add_completion=True)

    @app.callback(invoke_without_command=True)
    def main(context: typer.Context) -> None:
        """Without a command: run the platform until SIGINT or SIGTERM."""
        if context.invoked_subcommand is None:
            serve()

    for area in (broadcasts, campaigns, channels, draws, payouts, receipts, staff):
        area.register(app, tools)
    return app
