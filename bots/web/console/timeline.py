"""A person's unified timeline as staff read it: every source turned into one line each, newest first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bots.web.console.i18n import translator
from bots.web.console.pressed import pressed_labels
from core.channels import ChannelDirectory, ChannelName, ChannelProfile, TextFormat
from core.errors import CoreError
from core.ports.timeline import TimelineItem
from core.templates import Templates
from promo.ledger import format_roubles

# how the console shows a message we sent: plain text, as long as it was
SHOWN_AS = ChannelProfile(ChannelName("console"), "Console", TextFormat.PLAIN, max_text=10_000, max_label=64)


@dataclass(frozen=True)
class Line:
    item: TimelineItem
    kind: str  # a key of i18n.WORDS
    channel: str
    text: str
    status: str = ""
    photo: str | None = None
    link: str = ""
    buttons: tuple[str, ...] = ()
    code: str = ""  # a press shown by its label: the payload it sent, for staff who debug (a hover title)


def _outbound(item: TimelineItem, templates: Templates) -> tuple[str, tuple[str, ...]]:
    data: dict[str, Any] = item.data
    try:
        rendered = templates.render(data["template"], SHOWN_AS, data.get("locale") or "ru", data.get("params") or {})
    except (CoreError, KeyError, ValueError):
        return f"[{data['template']}]", ()
    return rendered.text, tuple(b.label for row in rendered.buttons for b in row)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.2%}" if whole else ""


def _route(data: dict[str, Any], channels: ChannelDirectory, t: Callable[[str], str]) -> str:
    """Where a message went and why, in short: each candidate's points, or why it was dropped, and what came of it."""
    reasons = []
    for c in data.get("candidates") or []:
        title = channels.title(c["channel"]) if c.get("channel") else "?"
        if c.get("dropped"):
            reasons.append(f"{title} ✕ {c['dropped']}")
        else:
            points = f" {c['score']:g}" if isinstance(c.get("score"), int | float) else ""
            reasons.append(f"{title}{points}" + (f" → {c['outcome']}" if c.get("outcome") else ""))
    if data.get("more"):
        reasons.append(f"{t('tl_more')} {data['more']}")
    where = f"{t('tl_message')} #{data['message']}, {t('tl_round')} {int(data['round']) + 1}"
    return f"{where}: " + ("; ".join(reasons) or str(data.get("detail") or ""))


def line_of(item: TimelineItem, templates: Templates, channels: ChannelDirectory, person_id: int,
            t: Callable[[str], str] | None = None) -> Line:
    t = t or translator("ru")
    data = item.data
    channel = channels.title(str(data.get("channel") or "")) if data.get("channel") else ""
    match item.source:
        case "inbound":
            return Line(item, "inbound", channel, str(data["body"]))
        case "outbound":
            text, buttons = _outbound(item, templates)
            status = str(data["status"]) + (f" — {data['error']}" if data.get("error") else "")
            return Line(item, "outbound", channel, text, status, buttons=buttons)
        case "receipt":
            text = f"№{item.row_id}: {format_roubles(data['sum'])} ₽, кешбэк {format_roubles(data['cashback'])} ₽"
            return Line(item, "receipt", "", text, str(data["status"]), photo=data.get("photo"),
                        link=f"/receipts/{item.row_id}")
        case "ledger":
            return Line(item, "ledger", "", f"{data['kind']}: {format_roubles(data['amount'])} ₽ → {data['account']}")
        case "merge":
            other = data["absorbed"] if data["survivor"] == person_id else data["survivor"]
            moved = ", ".join(f"{table}: {count}" for table, count in data["moved"].items())
            return Line(item, "merge", "", f"#{item.row_id} {data['reason']} (↔ {other}; {moved})",
                        link=f"/people/{other}")
        case "ticket":
            return Line(item, "ticket_event", "", f"№{data['ticket']} {data['kind']}: {data['body']}",
                        photo=data.get("photo"), link=f"/tickets/{data['ticket']}")
        case "draw_entries":
            text = f"{data['campaign']} · {data['draw']}: {data['entries']} {t('tl_entries')}"
            if data.get("total"):
                text += f" {t('tl_of')} {data['total']} ({_share(data['entries'], data['total'])})"
            text += f", {data['receipts']} {t('tl_receipts')}"
            return Line(item, "tl_draw_entries", "", text, str(data["status"]))
        case "win":
            place = f"{t('tl_reserve') if data['reserve'] else t('tl_place')} {data['position']}"
            return Line(item, "tl_win", "", f"{data['campaign']} · {data['draw']}: {data['tier']}, {place}",
                        str(data["status"]))
        case "route":
            chosen = channels.title(str(data["channel"])) if data.get("channel") else t("tl_nowhere")
            status = str(data["outcome"]) + (f" — {data['detail']}" if data.get("detail") else "")
            return Line(item, "tl_route", chosen, _route(data, channels, t), status)
    return Line(item, item.source, channel, str(data))


def lines_of(items: Sequence[TimelineItem], templates: Templates, channels: ChannelDirectory, person_id: int,
             locale: str = "ru") -> list[Line]:
    """The timeline's lines, each press shown by the label the person pressed (``bots.web.console.pressed``):
    one line alone cannot tell, the message it was pressed on is another line."""
    t = translator(locale)
    pressed = pressed_labels(items, templates, channels, SHOWN_AS, locale)
    lines = []
    for item in items:
        line = line_of(item, templates, channels, person_id, t)
        found = pressed.get((item.source, item.row_id))
        lines.append(replace(line, text=found.label, code=found.code) if found else line)
    return lines
