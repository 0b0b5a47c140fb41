"""``channel``: how each channel stands, and marking one down (a national block) or up again.

    python run.py channel status
    python run.py channel down telegram --reason "заблокирован в РФ с 10:00"
    python run.py channel up telegram

A mark reaches every running process within seconds; routed messages then skip the channel,
with the reason stored in each routing decision. Replies to someone writing in the channel are
still tried there.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from bots.cli import Tools
from core.channel_marks import ChannelStanding, MarkError, mark_channel, standings
from core.ports import Store
from core.ports.channel_health import ChannelState, HealthChange


def _names() -> list[str]:
    from bots.registry import CHANNELS
    return [plugin.name for plugin in CHANNELS]


def _by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


def _line(standing: ChannelStanding) -> str:
    how = "marked" if standing.mark else "measured"
    since = standing.mark or standing.measured
    when = f" since {since.at:%Y-%m-%d %H:%M} UTC" if since else ""
    why = f": {standing.reason}" if standing.reason and standing.state is not ChannelState.HEALTHY else ""
    return f"{standing.channel:<10} {standing.state.value:<9} ({how}{when}){why}"


def register(app: typer.Typer, tools: Tools) -> None:
    group = typer.Typer(help="Whole channels: how they stand, and marking one down or up.", no_args_is_help=True)
    app.add_typer(group, name="channel")

    @group.command("status")
    def status(history: Annotated[int, typer.Option(help="also show this many latest changes")] = 10) -> None:
        """Each channel's state, and the latest changes (measured, or marked by whom)."""

        async def read(store: Store) -> tuple[list[ChannelStanding], list[HealthChange]]:
            async with store.transaction() as tx:
                return await standings(tx, _names()), await tx.channel_health.history(limit=history)

        found, changes = tools.run(read)
        for standing in found:
            print(_line(standing))
        if changes:
            print("latest changes:")
            for change in changes:
                print(f"  {change.at:%Y-%m-%d %H:%M:%S}  {change.channel:<10} {change.state.value:<9} "
                      f"{change.by:<16} {change.reason}")

    def _mark(channel: str, state: ChannelState, reason: str) -> HealthChange:
        async def write(store: Store) -> HealthChange:
            async with store.transaction() as tx:
                return await mark_channel(tx, channel, state, reason, _by(), tools.now(), _names())

        try:
            return tools.run(write)
        except MarkError as e:
            print(e, file=sys.stderr)
            raise typer.Exit(2) from e

    @group.command("down")
    def down(channel: Annotated[str, typer.Argument(help="e.g. telegram")],
             reason: Annotated[str, typer.Option(help="why: stored with every message routed past it")]) -> None:
        """Mark a channel down: routed messages go to each person's next channel until it is marked up."""
        change = _mark(channel, ChannelState.DOWN, reason)
        print(f"{change.channel} marked down: {change.reason}")

    @group.command("up")
    def up(channel: Annotated[str, typer.Argument(help="e.g. telegram")]) -> None:
        """Lift a channel's mark: the router uses it again (as measured)."""
        change = _mark(channel, ChannelState.HEALTHY, "")
        print(f"{change.channel} marked up")
