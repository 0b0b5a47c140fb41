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

from bots.cli import Tools, draw_changes
from bots.drand import DrandRelays
from core import draws
from core.draws import roster
from core.draws.sealing import SANDBOX_KEY, SeedSeal, parse_key
from core.ports import Store, UnitOfWork
from core.ports.draws import Winner, WinnerStatus
from core.settings import Settings
from promo import draws as algorithm
from promo.beacon import QUICKNET, BeaconError, BeaconRound, verify_round

T = TypeVar("T")


def seed_seal(settings: Settings) -> SeedSeal | None:
    """The seal the platform uses: DRAW_SEED_KEY; in the sandbox (no channel configured) without it, the sandbox's
    published key, as ``run.py`` does."""
    if settings.draw_seed_key is not None:
        return SeedSeal(parse_key(settings.draw_seed_key.get_secret_value()))
    sandbox = settings.sandbox
    if sandbox is None:
        from bots.registry import CHANNELS  # imported only here: the channels' libraries are slow to import

        sandbox = not any(plugin.settings().enabled for plugin in CHANNELS)
    return SeedSeal(SANDBOX_KEY) if sandbox else None


class TypedRound:
    """A beacon source of one round typed in by hand, used only once its signature verifies."""

    def __init__(self, signature: str) -> None:
        self.signature = signature

    async def fetch(self, chain_hash: str, round_number: int) -> BeaconRound | None:
        try:
            return verify_round(chain_hash, round_number, self.signature)
        except BeaconError as e:
            raise draws.DrawRefused("bad_beacon", f"the signature does not verify: {e}") from e


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
        """A campaign's draws: id, code, time, status, commitment, beacon round, the frozen list's hash."""
        print("draw_id\tcode\tdraw_at_utc\tstatus\tcommitment\tbeacon_round\tlist_frozen_at_utc\tlist_sha256")
        for d in _in_tx(tools, lambda tx: tx.draws.of_campaign(campaign)):
            frozen = f"{d.frozen_at:%Y-%m-%d %H:%M:%S}" if d.frozen_at else ""
            print(f"{d.id}\t{d.code}\t{d.draw_at:%Y-%m-%d %H:%M}\t{d.status.value}\t{d.commitment}\t"
                  f"{d.beacon_round or 'NONE'}\t{frozen}\t{d.entries_hash or ''}")

    @group.command("beacon")
    def beacon(draw_id: int, round_number: Annotated[int | None, typer.Option(
            "--round", help="a drand quicknet round; default: the first one 10 minutes after entries close")] = None
            ) -> None:
        """Name the future drand round mixed into the seed, for a draw that has none (rounds are named at
        activation): then nobody, us included, knows the outcome in advance."""
        named = _in_tx(tools, lambda tx: draws.name_beacon(tx, draw_id, round_number, tools.now()))
        moment = QUICKNET.time_of(named.beacon_round or 0)
        print(f"draw {draw_id}: drand quicknet round {named.beacon_round} ({moment:%Y-%m-%d %H:%M:%S} UTC)")

    @group.command("run")
    def run(draw_id: int,
            early: Annotated[bool, typer.Option(help="run before its scheduled time")] = False,
            signature: Annotated[str | None, typer.Option(
                "--beacon-signature", help="the named round's signature, typed in when no relay answers")] = None
            ) -> None:
        """Choose winners and reserves from the list frozen at the entries' close (frozen now if the platform has
        not yet), with the named beacon round; reveal the seed, tell the winners."""
        settings = Settings()
        relays = DrandRelays(settings.drand_relays)
        beacons = TypedRound(signature) if signature is not None else relays

        async def work(store: Store) -> Any:
            try:
                with progress_bar() as progress:
                    return await draws.run_draw(store, draw_id, tools.now(), beacons, settings.draw_winner_hours,
                                                progress, early=early, seal=seed_seal(settings))
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
        """Write entries.csv, winners.csv and protocol.html (printable) for publishing: pseudonyms only. (The
        platform publishes the same files at PUBLIC_URL/draws/DRAW_ID/….)"""

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

    draw_changes.register(group, tools, _in_tx)

    @group.command("winners")
    def winners(draw_id: int, as_csv: Annotated[bool, typer.Option(
            "--csv", help="named columns: prize, person, name as known, pseudonym, the channels the notice went "
                          "through, contact state and why, confirmed or forfeited, delivery details")] = False
                ) -> None:
        """Winners with what they gave for delivery — for the staff sending prizes, never for publishing."""
        if as_csv:
            draw_changes.print_winners_csv(_in_tx(tools, lambda tx: roster.winner_rows(tx, draw_id)))
            return
        print("winner_id\ttier\tposition\treserve\tstatus\tdeadline\tperson_id\tdetails")

        async def listed(tx: UnitOfWork) -> list[tuple[Winner, list[str]]]:
            unreached = (WinnerStatus.UNREACHED, WinnerStatus.PASSED)  # with the channels tried and what each said
            return [(w, await draws.notice_trail(tx, w) if w.status in unreached else [])
                    for w in await tx.draws.winners(draw_id)]

        for w, trail in _in_tx(tools, listed):
            details = "; ".join([*(f"{k}: {v}" for k, v in sorted(w.details.items())),
                                 *(f"not reached: {line}" for line in trail)])
            print(f"{w.id}\t{w.tier}\t{w.position}\t{'yes' if w.reserve else 'no'}\t{w.status.value}\t"
                  f"{w.deadline:%Y-%m-%d %H:%M}\t{w.person_id}\t{details}" if w.deadline else
                  f"{w.id}\t{w.tier}\t{w.position}\t{'yes' if w.reserve else 'no'}\t{w.status.value}\t\t"
                  f"{w.person_id}\t{details}")

    @group.command("exclude")
    def exclude(campaign: str, person_id: int,
                reason: Annotated[str, typer.Option(help=f"one of: {', '.join(sorted(draws.EXCLUSION_REASONS))}")],
                note: Annotated[str, typer.Option(help="why, for staff: kept with the decision")]) -> None:
        """A moderator's decision: the person takes no part in the campaign's draws whose lists close from now on;
        they are told why."""
        async def work(tx: UnitOfWork) -> None:
            await draws.exclude(tx, campaign, person_id, reason, note, None, tools.now())
            await tx.staff.audit(None, "exclude_from_draws", f"person:{person_id}", tools.now(),
                                 {"campaign": campaign, "reason": reason, "note": note})

        _in_tx(tools, work)
        print(f"person {person_id}: excluded from the draws of {campaign} ({reason})")

    @group.command("pass-on")
    def pass_on(winner_id: int, reason: Annotated[str, typer.Option(help="why: kept in the audit log")]) -> None:
        """Hand an unreached winner's prize to the next reserve of the tier, who is told at once."""
        hours = Settings().draw_winner_hours

        async def work(tx: UnitOfWork) -> Winner | None:
            stepped_in = await draws.pass_on(tx, winner_id, reason, tools.now(), hours)
            await tx.staff.audit(None, "prize_passed_on", f"winner:{winner_id}", tools.now(),
                                 {"reason": reason, "to_winner": stepped_in.id if stepped_in else None})
            return stepped_in

        stepped_in = _in_tx(tools, work)
        print(f"winner {winner_id}: prize passed on" + (f" to winner {stepped_in.id}" if stepped_in else
                                                        ", no reserve was left"))

    @group.command("tell-again")
    def tell_again(winner_id: int) -> None:
        """Send an unreached winner's notice again (after another contact was added or linked)."""
        hours = Settings().draw_winner_hours
        _in_tx(tools, lambda tx: draws.tell_again(tx, winner_id, tools.now(), hours))
        print(f"winner {winner_id}: told again")

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


