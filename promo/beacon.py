"""Public randomness from the drand beacon (League of Entropy): rounds by time, and checking a round.

A round is usable only when its BLS signature verifies against the chain's pinned public key
(``drand-verify``) and its randomness is the SHA-256 of that signature: a relay, or a manager
typing the value in, cannot slip in a number of their choosing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import drand_verify

from promo.errors import PromoError


class BeaconError(PromoError):
    """A round that does not verify, or a chain we do not know."""


@dataclass(frozen=True)
class Chain:
    name: str
    hash: str
    public_key: str
    period: int  # seconds
    genesis_time: int  # unix seconds
    scheme: str

    def round_at(self, moment: datetime) -> int:
        """The round being produced at ``moment`` (round 1 starts at genesis)."""
        seconds = int(moment.timestamp())
        if seconds < self.genesis_time:
            return 1
        return (seconds - self.genesis_time) // self.period + 1

    def time_of(self, round_number: int) -> datetime:
        """When a round is produced: its value appears shortly after, never before."""
        return datetime.fromtimestamp(self.genesis_time + (round_number - 1) * self.period, UTC)

    def first_round_after(self, moment: datetime) -> int:
        """The first round whose time is strictly after ``moment``: nobody can know it at ``moment``."""
        return self.round_at(moment) + 1


QUICKNET = Chain(
    name="quicknet", hash="52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    public_key="83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064"
               "510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
    period=3, genesis_time=1692803367, scheme="bls-unchained-g1-rfc9380")
DEFAULT = Chain(
    name="default", hash="8990e7a9aaed2ffed73dbd7092123d6f289930540d7651336225dc172e51b2ce",
    public_key="868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a569937c529eeda66c7293784a9402801af31",
    period=30, genesis_time=1595431050, scheme="pedersen-bls-chained")
CHAINS = {chain.hash: chain for chain in (QUICKNET, DEFAULT)}


@dataclass(frozen=True)
class BeaconRound:
    """A verified round: what the draw mixes in and the protocol prints."""

    chain: str  # chain hash
    round: int
    randomness: str  # hex, = SHA-256(signature)
    signature: str  # hex
    previous_signature: str = ""  # chained networks only


def chain(chain_hash: str) -> Chain:
    try:
        return CHAINS[chain_hash]
    except KeyError as e:
        raise BeaconError("unknown_chain", chain_hash) from e


def verify_round(chain_hash: str, round_number: int, signature: str, previous_signature: str = "",
                 randomness: str | None = None) -> BeaconRound:
    """The round, checked against the chain's pinned key; ``BeaconError`` when anything disagrees."""
    known = chain(chain_hash)
    signature, previous_signature = signature.strip().lower(), previous_signature.strip().lower()
    chained = known.scheme != "bls-unchained-g1-rfc9380"
    # checked here: the verifier panics (not raises) on malformed hex
    if not _hex(signature, 192 if chained else 96) or (chained and not _hex(previous_signature, 192)) \
            or not 1 <= round_number < 2**63:
        raise BeaconError("bad_round", f"round {round_number} of {known.name}: a round number and hex signatures")
    try:
        if not chained:
            derived = drand_verify.verify_quicknet(round_number, signature, known.public_key)
        else:
            derived = drand_verify.verify_mainnet(round_number, previous_signature, signature, known.public_key)
    except (ValueError, OverflowError, TypeError) as e:
        raise BeaconError("bad_signature", f"round {round_number} of {known.name}: {e}") from e
    expected = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    if derived != expected or (randomness is not None and randomness.strip().lower() != expected):
        raise BeaconError("bad_randomness", f"round {round_number}: randomness is not SHA-256 of the signature")
    return BeaconRound(known.hash, round_number, expected, signature, previous_signature)


def _hex(text: str, length: int) -> bool:
    return len(text) == length and all(ch in "0123456789abcdef" for ch in text)
