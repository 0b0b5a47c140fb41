"""The declared scenarios; ``all_scenarios()`` is what ``run.py`` hands to the engine."""

from __future__ import annotations

from core.machine import Scenario
from core.scenarios.cashback import BALANCE, PAYOUT
from core.scenarios.linking import LINKING
from core.scenarios.phone import PHONE_VERIFICATION
from core.scenarios.profile import PROFILE
from core.scenarios.receipt_upload import RECEIPT_UPLOAD
from core.scenarios.registration import REGISTRATION


def core_scenarios() -> list[Scenario]:
    return [REGISTRATION, LINKING, PROFILE]


def all_scenarios() -> list[Scenario]:
    """Every scenario the platform runs."""
    return [*core_scenarios(), RECEIPT_UPLOAD, BALANCE, PAYOUT, PHONE_VERIFICATION]
