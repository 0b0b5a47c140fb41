"""The declared scenarios; ``all_scenarios()`` is what ``run.py`` hands to the engine."""

from __future__ import annotations

from core.machine import Scenario
from core.scenarios.linking import LINKING
from core.scenarios.profile import PROFILE
from core.scenarios.registration import REGISTRATION


def core_scenarios() -> list[Scenario]:
    return [REGISTRATION, LINKING, PROFILE]


def all_scenarios() -> list[Scenario]:
    """Every scenario the platform runs."""
    return core_scenarios()
