"""The platform's own delivery policy, in the order its gates rule."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.gates import DeliveryPolicy, MessageGate
from core.gates.accounts import ACCOUNT_GATES
from core.gates.advertising import AdvertisingConsentGate
from core.gates.deadline import Deadline
from core.gates.quiet_hours import QuietHours, QuietHoursGate


def standard_policy(zone: ZoneInfo, quiet_hours: QuietHours | None = None) -> DeliveryPolicy:
    """The deadline, then quiet hours; a channel that runs, an account that can be reached, an address proved, and
    for a broadcast the person's advertising consent there."""
    message_gates: list[MessageGate] = [Deadline()]
    if quiet_hours is not None:
        message_gates.append(QuietHoursGate(quiet_hours))
    return DeliveryPolicy(tuple(message_gates), (*ACCOUNT_GATES, AdvertisingConsentGate()), zone)
