"""SMS: what a text costs in segments (GSM-7 and UCS-2), fitting a budget, and both gateways' answers."""

from __future__ import annotations

import pytest

from bots.emulators.sms_gateway import API_KEY, SmsGateway
from bots.sms import SmsChannel, SmsSettings
from core.delivery import DeliveryOutcome
from core.sms_segments import count, fit
from core.templates import Rendered


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), [
    ("A" * 160, "gsm7", 160, 1),
    ("A" * 161, "gsm7", 161, 2),
    ("A" * 306, "gsm7", 306, 2),
    ("A" * 307, "gsm7", 307, 3),
    ("{" * 80, "gsm7", 160, 1),  # extension characters cost two septets
    ("{" * 81, "gsm7", 162, 2),
    ("Код: 1234", "ucs2", 9, 1),
    ("Ж" * 70, "ucs2", 70, 1),
    ("Ж" * 71, "ucs2", 71, 2),
    ("Ж" * 134, "ucs2", 134, 2),
    ("Ж" * 135, "ucs2", 135, 3),
    ("A" * 69 + "😀", "ucs2", 71, 2),  # outside the BMP: two UTF-16 units
    ("Hello «world»", "ucs2", 13, 1),  # guillemets are not GSM-7
    ("Price: 5€ [ok]", "gsm7", 17, 1),
])
def test_segments_are_counted_as_the_gateways_bill(text: str, encoding: str, units: int, parts: int) -> None:
    segments = count(text)
    assert (segments.encoding, segments.units, segments.parts) == (encoding, units, parts)


def test_an_escape_pair_is_never_split_across_parts() -> None:
    text = "A" * 152 + "€" + "A" * 10  # the euro would straddle the first part's end: it opens the second
    assert count(text).parts == 2
    assert count("A" * 152 + "€" * 77).parts == 3


@pytest.mark.parametrize("text", ["Вы выиграли приз! " * 20, "You won a prize! " * 40, "Ж" * 500])
@pytest.mark.parametrize("budget", [1, 2, 3])
def test_a_long_text_is_fitted_to_its_budget_with_an_ellipsis(text: str, budget: int) -> None:
    fitted = fit(text, budget)
    assert count(fitted).parts <= budget and fitted.endswith(("…", "..."))
    assert count(fit(text, budget)).units > count(fit(text, budget - 1)).units if budget > 1 else True


@pytest.fixture
async def gateway():
    server = SmsGateway()
    await server.start()
    yield server
    await server.stop()


def channel(gateway: SmsGateway, **settings: object) -> SmsChannel:
    values = {"api_key": API_KEY, "api_base": gateway.base_url, "max_segments": 2, **settings}
    return SmsChannel(SmsSettings(_env_file=None, **values), "polling")  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", ["smsru", "smsc"])
async def test_a_message_is_sent_fitted_and_costed(gateway: SmsGateway, provider: str) -> None:
    sms = channel(gateway, provider=provider, cost_kopecks_per_segment=400)
    result = await sms.send("+79123456789", Rendered("Ваш код: 123456. " * 20), 17)
    await sms.close()
    assert result.outcome is DeliveryOutcome.DELIVERED and "2 x ucs2, 8 ₽" in result.detail
    [sent] = gateway.to("+79123456789")
    assert sent.parts == 2 and sent.text.endswith("…") and sms.spent_kopecks == 800


@pytest.mark.parametrize(("provider", "code", "outcome"), [
    ("smsru", 207, DeliveryOutcome.UNREACHABLE), ("smsru", 215, DeliveryOutcome.UNREACHABLE),
    ("smsru", 230, DeliveryOutcome.RETRY), ("smsru", 216, DeliveryOutcome.FAILED),
    ("smsc", 8, DeliveryOutcome.UNREACHABLE), ("smsc", 3, DeliveryOutcome.RETRY), ("smsc", 6, DeliveryOutcome.FAILED),
])
async def test_refusals_mean_unreachable_retry_or_failed(gateway: SmsGateway, provider: str, code: int,
                                                         outcome: DeliveryOutcome) -> None:
    gateway.refuse("79123456789", code)
    sms = channel(gateway, provider=provider)
    result = await sms.send("+79123456789", Rendered("Код: 1"), 1)
    await sms.close()
    assert result.outcome is outcome and str(code) in result.detail and not gateway.to("+79123456789")


async def test_a_wrong_key_is_a_failure_not_a_silent_success(gateway: SmsGateway) -> None:
    sms = channel(gateway, api_key="wrong")
    result = await sms.send("+79123456789", Rendered("Код: 1"), 1)
    await sms.close()
    assert result.outcome is DeliveryOutcome.FAILED and "200" in result.detail


async def test_a_gateway_that_does_not_answer_is_a_retry() -> None:
    sms = SmsChannel(SmsSettings(_env_file=None, api_key="k", api_base="http://127.0.0.1:9", timeout_seconds=2),
                     "polling")
    result = await sms.send("+79123456789", Rendered("Код: 1"), 1)
    await sms.close()
    assert result.outcome is DeliveryOutcome.RETRY
