"""The platform's own delivery policy, in the order its gates rule."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from core.gates import AccountGate, DeliveryPolicy, MessageGate
from core.gates.accounts import ACCOUNT_GATES
from core.gates.advertising import AdvertisingConsentGate
from core.gates.caps import ChannelCapGate, FrequencyCapGate, FrequencyCaps
from core.gates.deadline import Deadline
from core.gates.quiet_hours import QuietHours, QuietHoursGate


def standard_policy(zone: ZoneInfo, quiet_hours: QuietHours | None = None,
                    caps: FrequencyCaps | None = None) -> DeliveryPolicy:
    """The deadline, then quiet hours, then a broadcast's frequency caps across channels; a channel that runs, an
    account that can be reached, an address proved, and for a broadcast the person's advertising consent and the
    channel's own cap there."""
    message_gates: list[MessageGate] = [Deadline()]
    if quiet_hours is not None:
        message_gates.append(QuietHoursGate(quiet_hours))
    account_gates: list[AccountGate] = [*ACCOUNT_GATES, AdvertisingConsentGate()]
    if caps is not None and caps.caps:
        message_gates.append(FrequencyCapGate(caps))
        account_gates.append(ChannelCapGate(caps))
    return DeliveryPolicy(tuple(message_gates), tuple(account_gates), zone)
