"""The managers' dashboard: charts people read at a glance, drawn server-side as SVG by pygal.

Receipts per day, accepted vs refused by reason, the channel mix, the funnel (reached a bot ->
registered -> first receipt -> rewarded), and delivery per channel with fallbacks. Each figure
is one grouped query over an indexed time window (``tx.reports``); the window is whole days in the
campaign's zone (today and the 29 before it), so the outbox's closed days come from daily roll-ups.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, time, timedelta

import pygal
from aiohttp import web
from markupsafe import Markup
from pygal.style import Style

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import requires
from bots.web.console.i18n import translator
from bots.web.console.pages import add_page
from core.channel_marks import standings
from core.ports.reports import DeliveryFigure
from core.ports.staff import StaffRole

DAYS = 30  # today and the days before it
STYLE = Style(background="white", plot_background="white", font_family="system-ui, sans-serif",
              colors=("#2e7d32", "#c62828", "#1565c0", "#f9a825", "#6a1b9a", "#00838f", "#ef6c00", "#5d4037"),
              title_font_size=18, label_font_size=12, legend_font_size=12)
SCRIPT = re.compile(r"<script.*?</script>", re.DOTALL)  # pygal's config script: the page runs none


def _svg(chart: pygal.graph.graph.Graph) -> Markup:
    return Markup(SCRIPT.sub("", chart.render(is_unicode=True)))


def _chart(kind: type, title: str, **options: object) -> pygal.graph.graph.Graph:
    return kind(title=title, style=STYLE, js=[], disable_xml_declaration=True, width=640, height=360,
                explicit_size=False, legend_at_bottom=True, **options)


def _deliveries(figures: list[DeliveryFigure], t: object) -> tuple[list[str], dict[str, list[int]]]:
    channels = sorted({f.channel or "—" for f in figures})
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(channels))
    for figure in figures:
        name = f"{figure.status} ({t('fallback')})" if figure.fallback else figure.status  # type: ignore[operator]
        series[name][channels.index(figure.channel or "—")] += figure.count
    return channels, dict(series)


@requires(StaffRole.ADMIN, StaffRole.MANAGER)
async def dashboard(request: web.Request) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    t = translator(staff.user.locale)
    now = config.clock()
    zone = str(config.zone)
    since = datetime.combine(now.astimezone(config.zone).date() - timedelta(days=DAYS - 1), time.min, config.zone)
    async with config.store.transaction() as tx:
        per_day = await tx.reports.receipts_per_day(since, zone)
        refusals = await tx.reports.refusals(since, zone=zone, now=now)
        mix = await tx.reports.channel_mix()
        funnel = await tx.reports.funnel()
        deliveries = await tx.reports.deliveries(since, zone=zone, now=now)
        channel_states = await standings(tx, list(config.channels))
        dead_updates = await tx.inbox.dead_count()  # updates the platform gave up on: each is a person unanswered

    days = sorted({day for day, _, _ in per_day})
    by_status: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for day, status, count in per_day:
        by_status[status][days.index(day)] += count
    receipts = _chart(pygal.StackedBar, f"{t('receipts_per_day')} ({t('last_days')})", x_label_rotation=30)
    receipts.x_labels = [f"{day:%d.%m}" for day in days]
    for status, counts in sorted(by_status.items()):
        receipts.add(t(status) if status != "moderation" else t("moderation_status"), counts)

    outcomes = _chart(pygal.HorizontalBar, f"{t('outcomes')} ({t('last_days')})")
    totals = {status: sum(counts) for status, counts in by_status.items()}
    outcomes.add(t("accepted"), totals.get("accepted", 0))
    outcomes.add(t("rejected"), totals.get("rejected", 0))
    for reason, count in sorted(refusals.items(), key=lambda item: -item[1]):
        outcomes.add(reason, count)

    channels = _chart(pygal.Pie, t("channel_mix"), inner_radius=0.45)
    for channel, count in sorted(mix.items(), key=lambda item: -item[1]):
        channels.add(config.channels.title(channel), count)

    steps = _chart(pygal.HorizontalBar, t("funnel"), show_legend=False, print_values=True)
    steps.x_labels = [t("rewarded"), t("first_receipt"), t("registered"), t("scanned")]
    steps.add(t("funnel"), [funnel.rewarded, funnel.first_receipt, funnel.registered, funnel.scanned])

    delivery_channels, delivery_series = _deliveries(deliveries, t)
    delivery = _chart(pygal.StackedBar, f"{t('deliveries')} ({t('last_days')})")
    delivery.x_labels = [config.channels.title(c) for c in delivery_channels]
    for name, counts in sorted(delivery_series.items()):
        delivery.add(name, counts)

    return render(request, "dashboard.html", {
        "charts": [_svg(c) for c in (receipts, outcomes, channels, steps, delivery)], "funnel": funnel,
        "channel_states": channel_states, "channels": config.channels, "dead_updates": dead_updates})


def add_routes(app: web.Application) -> None:
    add_page("/dashboard", "dashboard", StaffRole.ADMIN, StaffRole.MANAGER)
    app.router.add_get("/dashboard", dashboard)
