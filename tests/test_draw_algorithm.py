"""The draw algorithm: commitments, sensitivity to every input, exclusions, weights, and the verifier agreeing."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promo import draws
from promo.draws import DrawError, Entry, TierDraw

SEED = bytes(range(32))


def people(weights: list[int], excluded: dict[int, set[str]] | None = None) -> list[Entry]:
    return [Entry(draws.pseudonym(b"key", i), w, frozenset((excluded or {}).get(i, ()))) for i, w in enumerate(weights)]


def run(entries: list[Entry], tiers: list[TierDraw], seed: bytes = SEED, beacon: bytes | None = None):
    data = draws.entry_list(entries)
    return data, draws.choose(draws.parse_entry_list(data), draws.list_hash(data), draws.draw_key(seed, beacon), tiers)


def test_the_revealed_seed_matches_the_published_commitment() -> None:
    data, picks = run(people([3, 1, 4, 1, 5]), [TierDraw("main", 1, 2)])
    result = draws.verify(data, SEED.hex(), [TierDraw("main", 1, 2)])
    assert result.commitment == draws.commitment(SEED) and result.picks == picks
    assert draws.verify(data, (b"\x01" + SEED[1:]).hex(), [TierDraw("main", 1, 2)]).commitment != draws.commitment(SEED)


def test_changing_one_entry_or_the_seed_or_the_beacon_changes_the_result() -> None:
    entries = people([5] * 40)
    tiers = [TierDraw("main", 5, 3)]
    _, base = run(entries, tiers)
    changed = list(entries)
    changed[17] = changed[17]._replace(entries=6)
    assert run(changed, tiers)[1] != base
    assert run(entries, tiers, seed=SEED[::-1])[1] != base
    assert run(entries, tiers, beacon=b"\x07" * 32)[1] != base


def test_winners_then_reserves_in_order_nobody_twice_and_fewer_when_people_run_out() -> None:
    _, picks = run(people([1, 2, 3]), [TierDraw("main", 1, 1), TierDraw("cert", 5, 0)])
    assert [(p.tier, p.position, p.reserve) for p in picks] == [("main", 1, False), ("main", 2, True),
                                                                 ("cert", 1, False)]
    assert len({p.participant for p in picks}) == 3


def test_an_excluded_tier_is_never_won_by_that_participant_but_other_tiers_are() -> None:
    entries = people([1000, 1, 1], excluded={0: {"main"}})
    for seed in range(30):
        _, picks = run(entries, [TierDraw("main", 1, 0), TierDraw("cert", 1, 0)], seed=bytes([seed]) * 32)
        assert picks[0].participant != entries[0].participant
        assert picks[1].participant == entries[0].participant  # 1000 of 1001 chances left


def test_weights_are_respected_over_many_seeds() -> None:
    """One winner from weights 1..5 over 6000 seeds: each frequency within 4.5 sigma of weight / 15."""
    weights = [1, 2, 3, 4, 5]
    entries = people(weights)
    data = draws.entry_list(entries)
    parsed, digest = draws.parse_entry_list(data), draws.list_hash(data)
    order = {e.participant: e.entries for e in parsed}
    trials = 6000
    wins = dict.fromkeys(order, 0)
    for trial in range(trials):
        (pick,) = draws.choose(parsed, digest, trial.to_bytes(32, "big"), [TierDraw("main", 1, 0)])
        wins[pick.participant] += 1
    for participant, count in wins.items():
        p = order[participant] / sum(weights)
        sigma = math.sqrt(trials * p * (1 - p))
        assert abs(count - trials * p) < 4.5 * sigma, (order[participant], count)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=60), st.binary(min_size=32, max_size=32),
       st.integers(0, 4), st.integers(0, 3), st.sets(st.integers(0, 59), max_size=5))
def test_the_verifier_and_the_draw_agree(weights: list[int], seed: bytes, winners: int, reserves: int,
                                         barred: set[int]) -> None:
    entries = people(weights, {i: {"main"} for i in barred if i < len(weights)})
    tiers = [TierDraw("main", winners, reserves), TierDraw("cert", 2, 1)]
    data, picks = run(entries, tiers, seed=seed)
    assert draws.verify(data, seed.hex(), tiers).picks == picks
    assert draws.verify(data, seed.hex(), draws.parse_tiers(draws.format_tiers(tiers))).picks == picks


def test_thousands_of_random_cases_agree() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        entries = people([rng.randint(1, 20) for _ in range(rng.randint(1, 30))])
        seed, beacon = rng.randbytes(32), rng.randbytes(32) if rng.random() < 0.5 else None
        tiers = [TierDraw("main", rng.randint(0, 3), rng.randint(0, 2))]
        data, picks = run(entries, tiers, seed=seed, beacon=beacon)
        assert draws.verify(data, seed.hex(), tiers, beacon_randomness_hex=beacon.hex() if beacon else None
                            ).picks == picks


@pytest.mark.parametrize("data", [
    b"participant,entries\n",
    draws.HEADER + b"abc,1,\n",
    draws.HEADER + b"%s,0,\n" % (b"a" * 24),
    draws.HEADER + b"%s,01,\n" % (b"a" * 24),
    draws.HEADER + b"%s,1,\n%s,1,\n" % (b"b" * 24, b"a" * 24),
    draws.HEADER + b"%s,1,\n%s,1,\n" % (b"a" * 24, b"a" * 24),
    draws.HEADER + b"%s,1,main;cert\n" % (b"a" * 24),
    draws.HEADER + b"%s,1," % (b"a" * 24),
    draws.HEADER + "ё".encode() + b"\n",
])
def test_a_list_not_in_the_canonical_form_is_refused(data: bytes) -> None:
    with pytest.raises(DrawError):
        draws.parse_entry_list(data)


def test_bad_inputs_to_verify_say_what_is_wrong() -> None:
    data = draws.entry_list(people([1]))
    for seed, algorithm in (("zz", draws.ALGORITHM), ("00" * 16, draws.ALGORITHM), (SEED.hex(), "coin-flip/v0")):
        with pytest.raises(DrawError):
            draws.verify(data, seed, [TierDraw("main", 1)], algorithm)
    with pytest.raises(DrawError):
        draws.parse_tiers("main=one")
