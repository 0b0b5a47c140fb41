"""``export-payouts`` and ``payout-paid``: what people asked to be paid, and recording that it was."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bots.cli import Tools
from core.payouts import as_csv, mark_paid, payouts_due


def register(app: typer.Typer, tools: Tools) -> None:
    @app.command("export-payouts")
    def export_payouts() -> None:
        """Print the payouts people requested and nobody has paid yet, as CSV."""
        sys.stdout.write(as_csv(tools.run(payouts_due)))

    @app.command("payout-paid")
    def payout_paid(payout_id: Annotated[int, typer.Argument(help="the payout_id from export-payouts")]) -> None:
        """Record that the money of one payout was sent."""
        if not tools.run(lambda store: mark_paid(store, payout_id, tools.now())):
            print(f"no requested payout {payout_id}", file=sys.stderr)
            raise typer.Exit(1)
        print(f"payout {payout_id} marked paid")
