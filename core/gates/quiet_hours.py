"""Quiet hours: notices (bulk, or asking for an answer) wait them out in the person's time zone; replies never do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.gates import GO, Reason, Ruling, Situation, Verdict


@dataclass(frozen=True)
class QuietHours:
    """Hours when notices wait (in the person's time zone): ``start`` to ``end``, across midnight if needed."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``22:00-09:00``; empty or ``off``: none."""
        text = text.strip().lower()
        if text in ("", "off", "none"):
            return None
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as e:
            raise ValueError(f"expected HH:MM-HH:MM, got {text!r}") from e
        return cls(start, end)

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours around ``now`` end (UTC-aware), or None when ``now`` is not in them."""
        local = now.astimezone(zone)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(now.tzinfo)


@dataclass(frozen=True)
class QuietHoursGate:
    hours: QuietHours

    def check(self, situation: Situation) -> Ruling:
        message = situation.message
        if not (message.bulk or message.needs_ack):
            return GO
        until = self.hours.ends_after(situation.now, situation.zone)
        if until is None:
            return GO
        return Ruling(Verdict.HOLD, Reason.QUIET_HOURS, until=until, detail=f"waits until {until:%H:%M} UTC")
