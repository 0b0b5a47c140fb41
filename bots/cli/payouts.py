"""``export-payouts``, ``payout-paid`` and ``payout-cancel``: what people asked to be paid, recording that it was,
and taking one back."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bots.cli import Tools
from core.payouts import PayoutRefused, as_csv, cancel, mark_paid, payouts_due


def register(app: typer.Typer, tools: Tools) -> None:
    @app.command("export-payouts")
    def export_payouts() -> None:
        """Print the payouts people requested and nobody has paid yet, as CSV."""
        sys.stdout.write(as_csv(tools.run(payouts_due)))

    @app.command("payout-paid")
    def payout_paid(payout_id: Annotated[int, typer.Argument(help="the payout_id from export-payouts")]) -> None:
        """Record that the money of one payout was sent; the person is told."""
        try:
            paid = tools.run(lambda store: mark_paid(store, payout_id, tools.now()))
        except PayoutRefused as e:
            print(e, file=sys.stderr)
            raise typer.Exit(1) from e
        if not paid:
            print(f"no requested payout {payout_id}", file=sys.stderr)
            raise typer.Exit(1)
        print(f"payout {payout_id} marked paid")

    @app.command("payout-cancel")
    def payout_cancel(payout_id: Annotated[int, typer.Argument(help="the payout_id from export-payouts")]) -> None:
        """Take back a payout nobody has paid: its money is the person's to withdraw again."""
        if not tools.run(lambda store: cancel(store, payout_id, tools.now())):
            print(f"no requested payout {payout_id}", file=sys.stderr)
            raise typer.Exit(1)
        print(f"payout {payout_id} cancelled")
