"""``draw list|beacon|run|check|export|winners|prize-sent|verify``: prize draws, and checking one from its export.

``draw verify`` needs no database: it recomputes the winners from the published entry list,
the revealed seed and the beacon's randomness, as anyone outside can.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import Progress as Bar

from bots.cli import Tools
from bots.drand import DrandRelays
from core import draws
from core.ports import Store, UnitOfWork
from core.settings import Settings
from promo import draws as algorithm
from promo.beacon import QUICKNET, BeaconError, verify_round

T = TypeVar("T")


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(1)


def _in_tx(tools: Tools, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async def run(store: Store) -> Any:
        async with store.transaction() as tx:
            try:
                return await work(tx)
            except (draws.DrawRefused, LookupError) as e:
                return e

    result = tools.run(run)
    if isinstance(result, draws.DrawRefused | LookupError):
        _fail(str(result))
    return result  # type: ignore[no-any-return]


@contextmanager
def progress_bar() -> Iterator[draws.Progress]:
    with Bar(transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done)

        yield update


def register(app: typer.Typer, tools: Tools) -> None:
    group = typer.Typer(help="Prize draws: name a public beacon round, run, check, publish, hand out prizes.",
                        no_args_is_help=True)
    app.add_typer(group, name="draw")

    @group.command("list")
    def listing(campaign: str) -> None:
        """A campaign's draws: id, code, time, status, commitment."""
        print("draw_id\tcode\tdraw_at_utc\tstatus\tcommitment\tbeacon_round")
        for d in _in_tx(tools, lambda tx: tx.draws.of_campaign(campaign)):
            print(f"{d.id}\t{d.code}\t{d.draw_at:%Y-%m-%d %H:%M}\t{d.status.value}\t{d.commitment}\t"
                  f"{d.beacon_round or ''}")

    @group.command("beacon")
    def beacon(draw_id: int, round_number: Annotated[int | None, typer.Option(
            "--round", help="a drand quicknet round; default: the first one 10 minutes after entries close")] = None
            ) -> None:
        """Name, before the draw, the future drand round mixed into the seed: then nobody, us included, knows
        the outcome in advance."""
        named = _in_tx(tools, lambda tx: draws.name_beacon(tx, draw_id, round_number, tools.now()))
        moment = QUICKNET.time_of(named.beacon_round or 0)
        print(f"draw {draw_id}: drand quicknet round {named.beacon_round} ({moment:%Y-%m-%d %H:%M:%S} UTC)")

    @group.command("run")
    def run(draw_id: int,
            early: Annotated[bool, typer.Option(help="run before its scheduled time")] = False,
            signature: Annotated[str | None, typer.Option(
                "--beacon-signature", help="the named round's signature, typed in when no relay answers")] = None
            ) -> None:
        """Freeze the entry list, choose winners and reserves, reveal the seed, tell the winners."""
        settings = Settings()
        relays = DrandRelays(settings.drand_relays)

        async def work(store: Store) -> Any:
            try:
                with progress_bar() as progress:
                    if signature is not None:
                        async with store.transaction() as tx:
                            draw = await tx.draws.get(draw_id)
                            if draw.beacon_round is None or draw.beacon_chain is None:
                                raise draws.DrawRefused("no_beacon", f"draw {draw_id} names no beacon round")
                            try:
                                round_ = verify_round(draw.beacon_chain, draw.beacon_round, signature)
                            except BeaconError as e:
                                raise draws.DrawRefused("bad_beacon", f"the signature does not verify: {e}") from e
                            return await draws.draw_now(tx, draw_id, tools.now(), round_,
                                                        settings.draw_winner_hours, progress)
                    return await draws.run_draw(store, draw_id, tools.now(), relays, settings.draw_winner_hours,
                                                progress, early=early)
            except (draws.DrawRefused, LookupError) as e:
                return e
            finally:
                await relays.close()

        result = tools.run(work)
        if isinstance(result, draws.DrawRefused | LookupError):
            _fail(str(result))
        print(f"draw {draw_id} drawn: {result.participants} participants, {result.entries} entries, "
              f"{result.excluded} excluded; list SHA-256 {result.entries_hash}; seed {result.seed}")

    @group.command("check")
    def check(draw_id: int) -> None:
        """Recompute a drawn draw from its stored list, as an outsider would from the export."""
        result = _in_tx(tools, lambda tx: draws.check(tx, draw_id))
        print(f"commitment matches: {'yes' if result.commitment_matches else 'NO'}; "
              f"winners match: {'yes' if result.winners_match else 'NO'}")
        if not (result.commitment_matches and result.winners_match):
            raise typer.Exit(1)

    @group.command("export")
    def export(draw_id: int, folder: Annotated[Path, typer.Option(help="where to write the files")] = Path(".")
               ) -> None:
        """Write entries.csv, winners.csv and protocol.html (printable) for publishing: pseudonyms only."""

        async def collect(tx: UnitOfWork) -> tuple[bytes, str, str]:
            return (await draws.entry_list(tx, draw_id), await draws.winners_csv(tx, draw_id),
                    await draws.protocol_html(tx, draw_id))

        entries, winners, protocol = _in_tx(tools, collect)
        folder.mkdir(parents=True, exist_ok=True)
        with progress_bar() as progress:
            for done, (name, data) in enumerate((("entries.csv", entries), ("winners.csv", winners.encode()),
                                                 ("protocol.html", protocol.encode())), start=1):
                (folder / name).write_bytes(data)
                progress("writing", done, 3)
        print(f"wrote {folder / 'entries.csv'}, {folder / 'winners.csv'}, {folder / 'protocol.html'}")

    @group.command("winners")
    def winners(draw_id: int) -> None:
        """Winners with what they gave for delivery — for the staff sending prizes, never for publishing."""
        print("winner_id\ttier\tposition\treserve\tstatus\tdeadline\tperson_id\tdetails")
        for w in _in_tx(tools, lambda tx: tx.draws.winners(draw_id)):
            details = "; ".join(f"{k}: {v}" for k, v in sorted(w.details.items()))
            print(f"{w.id}\t{w.tier}\t{w.position}\t{'yes' if w.reserve else 'no'}\t{w.status.value}\t"
                  f"{w.deadline:%Y-%m-%d %H:%M}\t{w.person_id}\t{details}" if w.deadline else
                  f"{w.id}\t{w.tier}\t{w.position}\t{'yes' if w.reserve else 'no'}\t{w.status.value}\t\t"
                  f"{w.person_id}\t{details}")

    @group.command("prize-sent")
    def prize_sent(winner_id: int) -> None:
        """Record that a confirmed winner's prize was sent; they are told."""
        _in_tx(tools, lambda tx: draws.mark_sent(tx, winner_id, tools.now()))
        print(f"winner {winner_id}: prize sent")

    @group.command("verify")
    def verify(entries: Annotated[Path, typer.Argument(help="the published entries.csv")],
               seed: Annotated[str, typer.Option(help="the revealed seed (hex)")],
               prizes: Annotated[str, typer.Option(help="tiers in drawing order: tier=winners+reserves,…")],
               algorithm_name: Annotated[str, typer.Option("--algorithm")] = algorithm.ALGORITHM,
               beacon: Annotated[str | None, typer.Option(help="the beacon round's randomness (hex), if one was "
                                                                "named")] = None,
               commitment: Annotated[str | None, typer.Option(help="the commitment published before the draw")
                                     ] = None) -> None:
        """Recompute a draw's winners from its export alone (no database needed)."""
        try:
            data = entries.read_bytes()
            with progress_bar() as progress:
                progress("verifying", 0, 1)
                result = algorithm.verify(data, seed, algorithm.parse_tiers(prizes), algorithm_name, beacon)
                progress("verifying", 1, 1)
        except OSError as e:
            _fail(f"cannot read {entries}: {e.strerror}")
            return
        except algorithm.DrawError as e:
            _fail(f"{e.reason}: {e.detail}")
            return
        print(f"entries.csv SHA-256 {result.entries_hash}: {result.participants} participants, "
              f"{result.entries} entries")
        if commitment is not None:
            matches = result.commitment == commitment.strip().lower()
            print(f"seed commitment {result.commitment}: {'matches' if matches else 'DOES NOT MATCH'}")
            if not matches:
                raise typer.Exit(1)
        print("tier\tposition\treserve\tparticipant")
        for pick in result.picks:
            print(f"{pick.tier}\t{pick.position}\t{'yes' if pick.reserve else 'no'}\t{pick.participant}")


