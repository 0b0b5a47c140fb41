"""Moments as people read them: in the campaign's zone, and saying which zone that is.

"Следующий чек можно загрузить после 18:42" leaves a person in Novosibirsk guessing whose 18:42 it is; every time
shown to a person says its zone: МСК for Moscow time (as Russian promos write it), МСК+4 for Novosibirsk's, and
UTC+3 in English. Dates alone (a campaign's last day) need no zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MOSCOW = timedelta(hours=3)  # Moscow keeps UTC+3 all year


def _offset(delta: timedelta) -> str:
    """+2, -1, +5:30: hours, and minutes only when there are some."""
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def zone_name(local: datetime, locale: str) -> str:
    """How the zone of ``local`` (an aware time) is said: МСК, МСК+2, UTC+3."""
    offset = local.utcoffset() or timedelta(0)
    if locale == "ru":
        return "МСК" if offset == MOSCOW else f"МСК{_offset(offset - MOSCOW)}"
    return "UTC" if not offset else f"UTC{_offset(offset)}"


def shown_time(moment: datetime, zone: ZoneInfo, locale: str, today: date | None = None, year: bool = True) -> str:
    """``15.03.2026 18:42 МСК``; only ``18:42 МСК`` when it falls on ``today`` (in ``zone``); ``15.03 18:42 МСК``
    without the ``year`` (a moment within the next day or so)."""
    local = moment.astimezone(zone)
    if today is not None and local.date() == today:
        clock = f"{local:%H:%M}"
    else:
        clock = f"{local:%d.%m.%Y %H:%M}" if year else f"{local:%d.%m %H:%M}"
    return f"{clock} {zone_name(local, locale)}"
