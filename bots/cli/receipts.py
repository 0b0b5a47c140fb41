"""``receipts list|approve|reject``: the moderation queue for receipts no automatic check settled."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from bots.cli import Tools
from core import moderation
from core.ports import ReceiptStatus, Store, UnitOfWork


def register(app: typer.Typer, tools: Tools) -> None:
    receipts = typer.Typer(help="Receipts that wait for a person to decide (no automatic check settled them).")
    app.add_typer(receipts, name="receipts")

    @receipts.command("list")
    def receipts_list() -> None:
        """Receipts awaiting moderation: id, campaign, person, sum, cashback, when sent, and why each was flagged
        (its unresolved flags: a moderator decides those first)."""

        async def waiting(store: Store) -> list[str]:
            async with store.transaction() as tx:
                rows = await tx.receipts.with_status(ReceiptStatus.MODERATION)
                flags = {r.id: sorted({f.reason for f in await tx.receipts.flags(r.id) if f.resolved_at is None})
                         for r in rows}
            return [f"{r.id}\t{r.campaign}\t{r.person_id}\t{r.sum_kopecks / 100:.2f}\t"
                    f"{r.cashback_kopecks / 100:.2f}\t{r.created_at:%Y-%m-%d %H:%M}\t{','.join(flags[r.id]) or '-'}"
                    for r in rows]

        print("receipt_id\tcampaign\tperson_id\tsum_rub\tcashback_rub\tsent_at\tflags")
        for line in tools.run(waiting):
            print(line)

    @receipts.command("approve")
    def receipts_approve(receipt_id: int) -> None:
        """Accept a receipt: its cashback becomes available and the person is told."""
        _decide(tools, lambda tx: moderation.approve(tx, receipt_id, tools.now()), receipt_id)

    @receipts.command("reject")
    def receipts_reject(receipt_id: int, reason: Annotated[str, typer.Option(help="told to the person")]) -> None:
        """Refuse a receipt: its cashback is reversed and the person is told why."""
        _decide(tools, lambda tx: moderation.reject(tx, receipt_id, reason, tools.now()), receipt_id)


def _decide(tools: Tools, decide: Callable[[UnitOfWork], Awaitable[moderation.Decision]], receipt_id: int) -> None:
    async def run(store: Store) -> moderation.Decision | None:
        async with store.transaction() as tx:
            try:
                return await decide(tx)
            except LookupError:
                return None

    decision = tools.run(run)
    if decision is None:
        print(f"no receipt {receipt_id}", file=sys.stderr)
        raise typer.Exit(1)
    print(f"receipt {receipt_id}: {decision.status.value}" + ("" if decision.changed else " (already decided)"))
