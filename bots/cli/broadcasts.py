"""``broadcast``: one template to a segment, with a progress bar while it goes out, and its report.

    python run.py broadcast segments
    python run.py broadcast send notify.announcement --segment registered --param text="Новый розыгрыш!"
    python run.py broadcast send notify.announcement --segment participants:milk-spring --advertising --param text="…"
    python run.py broadcast send notify.please_answer --segment pending-receipt --param text="…" \\
        --answer-within-hours 24 --deadline-hours 72
    python run.py broadcast report 7

Segments: ``registered``, ``pending-receipt``, ``participants:CAMPAIGN``, ``entrants:DRAW_ID``,
``winners:DRAW_ID``. ``--advertising`` marks an advertisement: it goes only where people gave advertising consent
(``/news``); no broadcast goes where they said ``/stop``. Before anything is queued the command says how many people
it reaches and shows the text in each of their languages, and asks.

The command queues the notices; the running platform sends them at the channels' limits
(replies to people who are chatting go first). ``send`` then follows the delivery with a
progress bar until every notice is settled (Ctrl-C stops following, not sending).
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from typing import Annotated

import typer

from bots.cli import Tools
from core import broadcasts
from core.broadcasts import BroadcastError, Report, Segment
from core.ports import Store
from core.templates import Templates


def print_report(found: Report) -> None:
    b = found.broadcast
    print(f"broadcast {b.id}: {b.template} to {b.segment} ({b.people} people"
          f"{', advertising' if b.advertising else ''}), "
          f"queued {b.created_at:%Y-%m-%d %H:%M} UTC")
    print("status: " + ", ".join(f"{status} {n}" for status, n in sorted(found.by_status.items())))
    print("delivered by channel: " + (", ".join(f"{channel} {n}" for channel, n in
                                                found.delivered_by_channel.most_common()) or "none yet"))
    print(f"fallbacks taken: {found.fallbacks}")
    if found.past_down_channels:
        print("delivered elsewhere, past a channel that was down: " + ", ".join(
            f"{channel} {n}" for channel, n in found.past_down_channels.most_common()))
    if found.failures:
        print("failures:")
        for reason, n in found.failures.most_common(20):
            print(f"  {n:>7}  {reason}")


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"expected name=value, got {pair!r}", param_hint="--param")
        params[name.strip()] = value
    return params


def register(app: typer.Typer, tools: Tools) -> None:
    group = typer.Typer(help="Send one template to a segment of people, and see what became of it.",
                        no_args_is_help=True)
    app.add_typer(group, name="broadcast")

    @group.command("segments")
    def list_segments() -> None:
        """The segments a broadcast can go to: the fixed ones, each campaign's participants, each draw's entrants and
        winners."""
        for segment in tools.run(tools.segments.choices):
            print(f"{segment.name:<24} {segment.description}")

    @group.command("send")
    def send(template: Annotated[str, typer.Argument(help="a template key, e.g. notify.announcement")],
             segment: Annotated[str, typer.Option(help="who gets it: see `broadcast segments`")],
             param: Annotated[list[str] | None, typer.Option(help="name=value for the template; repeat")] = None,
             answer_within_hours: Annotated[float | None, typer.Option(
                 help="ask for an answer; unanswered after this long, it goes to the next channel")] = None,
             deadline_hours: Annotated[float, typer.Option(help="with an answer asked for: stop trying after")] = 72,
             spread_hours: Annotated[float | None, typer.Option(
                 help="send evenly over this many hours rather than at once (quiet hours still kept)")] = None,
             advertising: Annotated[bool, typer.Option(
                 "--advertising", help="an advertisement: only to channels where people gave advertising "
                 "consent")] = False,
             follow: Annotated[bool, typer.Option(help="show delivery progress until all is settled")] = True,
             yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False) -> None:
        """Queue the template for everyone in the segment; the platform sends it."""
        params = parse_params(param or [])
        templates = Templates.load()
        try:
            broadcasts.check_template(templates, template, params)
        except BroadcastError as e:
            print(e, file=sys.stderr)
            raise typer.Exit(2) from e
        async def look(store: Store) -> tuple[Segment, broadcasts.Preview]:
            async with store.transaction() as tx:
                found = await tools.segments.resolve(tx, segment)
            return found, await broadcasts.preview(store, templates, template, params, found,
                                                   advertising=advertising, capping=tools.capping(tools.now()))

        try:
            chosen, shown = tools.run(look)
        except BroadcastError as e:
            print(e, file=sys.stderr)
            raise typer.Exit(2) from e
        kind = "advertising" if advertising else "not advertising"
        print(f"{template} to {segment} ({chosen.description}), {kind}: {shown.people} people now "
              f"({', '.join(f'{locale} {n}' for locale, n in shown.by_locale.items()) or 'nobody'})")
        if shown.at_cap:
            print(f"{shown.at_cap} of them already had as many broadcasts as the caps allow ({shown.caps}): "
                  f"theirs would end capped if it went now")
        for locale, text in shown.texts.items():
            print(f"--- {locale} ---\n{text}")
        if not yes and not typer.confirm(f"Send it to these {shown.people} people?"):
            raise typer.Exit(1)
        now = tools.now()
        answer_within = timedelta(hours=answer_within_hours) if answer_within_hours else None
        deadline = now + timedelta(hours=deadline_hours) if answer_within else None

        async def queue(store: Store) -> broadcasts.Broadcast:
            with typer.progressbar(length=0, label="queueing", show_pos=True) as bar:
                return await broadcasts.start(store, templates, template, params, chosen, now,
                                              answer_within=answer_within, deadline=deadline,
                                              advertising=advertising, progress=lambda n: bar.update(n),
                                              spread=timedelta(hours=spread_hours) if spread_hours else None)

        try:
            started = tools.run(queue)
        except BroadcastError as e:
            print(e, file=sys.stderr)
            raise typer.Exit(2) from e
        print(f"broadcast {started.id}: {started.people} notices queued")
        if follow and started.people:
            _follow(tools, started.id, started.people)
        found = tools.run(lambda store: broadcasts.report(store, started.id))
        if found is not None:
            print_report(found)

    @group.command("report")
    def show_report(broadcast_id: Annotated[int, typer.Argument(help="the id `broadcast send` printed")]) -> None:
        """Delivered per channel, fallbacks taken, failures with their reasons."""
        found = tools.run(lambda store: broadcasts.report(store, broadcast_id))
        if found is None:
            print(f"no broadcast {broadcast_id}", file=sys.stderr)
            raise typer.Exit(1)
        print_report(found)

    @group.command("list")
    def list_recent() -> None:
        """The latest broadcasts."""
        recent = tools.run(lambda store: _recent(store))
        if not recent:  # said, so that an empty list is not mistaken for a command that did nothing
            print("no broadcasts yet (`broadcast send` starts one)")
        for b in recent:
            print(f"{b.id:>5}  {b.created_at:%Y-%m-%d %H:%M}  {b.template:<28} {b.segment:<16} {b.people}")


async def _recent(store: Store) -> list[broadcasts.Broadcast]:
    async with store.transaction() as tx:
        return await tx.broadcasts.recent()


def _follow(tools: Tools, broadcast_id: int, people: int, every: float = 1.0) -> None:
    """A progress bar of settled notices (delivered, or given up with a reason) until all are."""

    async def watch(store: Store) -> None:
        with typer.progressbar(length=people, label="delivering", show_pos=True, show_eta=True) as bar:
            shown = 0
            while True:
                found = await broadcasts.report(store, broadcast_id)
                settled = found.settled if found else people
                bar.update(settled - shown)
                shown = settled
                if settled >= people:
                    return
                await asyncio.sleep(every)

    started = time.monotonic()
    try:
        tools.run(watch)
    except KeyboardInterrupt:
        print(f"\nstopped following after {time.monotonic() - started:.0f}s; the platform goes on sending "
              f"(`broadcast report {broadcast_id}`)")
