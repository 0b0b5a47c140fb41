"""The declared scenarios; ``all_scenarios()`` is what the platform runs."""

from __future__ import annotations

from core.machine import Catalog, Scenario
from core.scenarios.basics import CANCEL, HELP, START
from core.scenarios.campaigns import CAMPAIGN_CHOICE
from core.scenarios.cashback import BALANCE, PAYOUT
from core.scenarios.contacts import SCENARIOS as CONTACT_SCENARIOS
from core.scenarios.draws import DRAWS
from core.scenarios.linking import LINK_DECISION, LINKING
from core.scenarios.news import NEWS, STOP
from core.scenarios.personal_data import FORGET
from core.scenarios.phone import PHONE_VERIFICATION
from core.scenarios.prize import PRIZE, PRIZE_NOTICE
from core.scenarios.profile import PROFILE
from core.scenarios.receipt_upload import RECEIPT_UPLOAD
from core.scenarios.registration import REGISTRATION
from core.scenarios.support import SUPPORT_SCENARIO
from core.scenarios.webchat import WEBCHAT_EMAIL, WEBCHAT_LINK, WEBCHAT_LOGIN


def core_scenarios() -> list[Scenario]:
    """Registration, identity and what works everywhere: enough for a platform with no promotion yet."""
    return [START, HELP, CANCEL, REGISTRATION, LINKING, LINK_DECISION, PROFILE]


def all_scenarios() -> list[Scenario]:
    """Every scenario the platform runs."""
    return [*core_scenarios(), RECEIPT_UPLOAD, CAMPAIGN_CHOICE, DRAWS, PRIZE, PRIZE_NOTICE, BALANCE, PAYOUT,
            PHONE_VERIFICATION, SUPPORT_SCENARIO, FORGET, STOP, NEWS, WEBCHAT_LINK, WEBCHAT_LOGIN, WEBCHAT_EMAIL,
            *CONTACT_SCENARIOS]


def catalog(scenarios: list[Scenario] | None = None) -> Catalog:
    return Catalog(all_scenarios() if scenarios is None else scenarios)
