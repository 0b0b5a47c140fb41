"""A named drand round: read from a relay over HTTP, used only once its BLS signature verifies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.drand import DrandRelays
from promo.beacon import DEFAULT, QUICKNET, BeaconError, verify_round


async def test_a_recorded_round_verifies_and_a_tampered_or_missing_one_is_not_used(relay) -> None:
    relays = DrandRelays(["http://127.0.0.1:9/unreachable", relay.base_url])  # the first relay is down
    try:
        quick = await relays.fetch(QUICKNET.hash, 657413)
        chained = await relays.fetch(DEFAULT.hash, 3311596)
        assert quick is not None and quick.randomness.startswith("fc1873a1")
        assert chained is not None and chained.randomness.startswith("647c07b2")
        assert await relays.fetch(QUICKNET.hash, 657414) is None  # not produced (not recorded): wait
        relay.tamper = True
        assert await relays.fetch(QUICKNET.hash, 657413) is None
    finally:
        await relays.close()


def test_round_times_follow_the_chain_and_a_wrong_round_never_verifies() -> None:
    assert QUICKNET.time_of(657413) == datetime(2023, 9, 15, 11, 0, 3, tzinfo=UTC)
    assert QUICKNET.round_at(QUICKNET.time_of(657413)) == 657413
    signature = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
    for round_number, typed in ((657414, signature), (657413, "zz" * 48), (0, signature)):
        with pytest.raises(BeaconError):
            verify_round(QUICKNET.hash, round_number, typed)
    with pytest.raises(BeaconError):
        verify_round(QUICKNET.hash, 657413, signature, randomness="00" * 32)
