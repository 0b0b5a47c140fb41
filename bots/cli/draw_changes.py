"""``draw winners --csv``, ``draw move``, ``draw cancel``: the staff's winners sheet, and a scheduled draw moved or
cancelled with a reason (audited) while its entry list is open. Registered by ``bots.cli.draws``."""

from __future__ import annotations

import csv
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import typer

from bots.cli import Tools
from core.draws import rescheduling, roster
from core.ports import UnitOfWork
from core.ports.draws import DrawChange
from core.spreadsheet import safe_cell


def print_winners_csv(rows: list[dict[str, str]]) -> None:
    """Named columns through the csv module; every cell neutralised, as people typed their names (CSV injection)."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(roster.COLUMNS)
    for row in rows:
        out.writerow([safe_cell(row[column]) for column in roster.COLUMNS])


InTx = Callable[[Tools, Callable[[UnitOfWork], Awaitable[DrawChange]]], DrawChange]


def register(group: typer.Typer, tools: Tools, run_in_tx: InTx) -> None:
    """``run_in_tx`` is ``bots.cli.draws._in_tx``: a refusal is one line on stderr and exit code 1."""

    @group.command("move")
    def move(draw_id: int,
             to: Annotated[datetime, typer.Option(help="the new time, in the campaign's zone: 2026-11-25T18:00",
                                                  formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])],
             reason: Annotated[str, typer.Option(help="why: kept beside the draw and in the audit log")]) -> None:
        """Hold a scheduled draw at another time, before its entry list is frozen (refused after)."""
        async def work(tx: UnitOfWork) -> DrawChange:
            now = tools.now()
            change = await rescheduling.move(tx, draw_id, to, reason, None, now)
            await tx.staff.audit(None, "draw_moved", f"draw:{draw_id}", now,
                                 {**rescheduling.audit_detail(change), "by": "command line"})
            return change

        change = run_in_tx(tools, work)
        print(f"draw {draw_id}: moved from {change.draw_at_before.astimezone(UTC):%Y-%m-%d %H:%M} to "
              f"{change.draw_at_after.astimezone(UTC):%Y-%m-%d %H:%M} UTC")

    @group.command("cancel")
    def cancel(draw_id: int,
               reason: Annotated[str, typer.Option(help="why: kept beside the draw and in the audit log")]) -> None:
        """Cancel a scheduled draw before its entry list is frozen (refused after): it is never frozen nor run."""
        async def work(tx: UnitOfWork) -> DrawChange:
            now = tools.now()
            change = await rescheduling.cancel(tx, draw_id, reason, None, now)
            await tx.staff.audit(None, "draw_cancelled", f"draw:{draw_id}", now,
                                 {**rescheduling.audit_detail(change), "by": "command line"})
            return change

        run_in_tx(tools, work)
        print(f"draw {draw_id}: cancelled")



