"""Prize draws anyone can check: commit–reveal seeds, a frozen entry list, and a deterministic choice.

The algorithm is ``weighted-hmac-sha256/v1``, specified in ``docs/draws.md`` precisely enough
to reimplement elsewhere; this module is the reference. In short: before the draw the SHA-256
of a secret seed is published; the entry list (one row per participant: a pseudonym, their
entries, the prize tiers they may not win) is frozen as CSV and hashed; the seed, optionally
mixed with a public randomness value nobody knew in advance (a drand round), keys an
HMAC-SHA256 counter stream over the list's hash; each number picks a participant with
probability proportional to their entries, without replacement, tier by tier, winners then
reserves. ``verify`` recomputes everything from the CSV alone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from promo.errors import PromoError

ALGORITHM = "weighted-hmac-sha256/v1"
ALGORITHMS = (ALGORITHM,)
HEADER = b"participant,entries,excluded_tiers\n"
PSEUDONYM_HEX = 24  # 96 bits: no two of millions of participants share one
PARTICIPANT = re.compile(r"^[0-9a-f]{24}$")
TIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_ENTRIES = 10**12
ROW = re.compile(r"([0-9a-f]{24}),([1-9][0-9]{0,11}),([A-Za-z0-9_;-]*)")


class DrawError(PromoError):
    """An entry list or draw input that cannot be used; ``detail`` says where."""


class Entry(NamedTuple):  # a tuple: lists of millions are built and read fast
    participant: str  # a per-draw pseudonym: never a name or a phone
    entries: int
    excluded: frozenset[str] = frozenset()  # prize tiers this participant may not win (won before)


@dataclass(frozen=True)
class TierDraw:
    """How many winners and reserves one prize tier gets in this draw."""

    tier: str
    winners: int
    reserves: int = 0


@dataclass(frozen=True)
class Pick:
    tier: str
    position: int  # 1.. within the tier: winners first, then reserves in the order they step in
    reserve: bool
    participant: str


def new_seed() -> bytes:
    return secrets.token_bytes(32)


def commitment(seed: bytes) -> str:
    """What is published before the draw: SHA-256 of the secret seed, hex."""
    return hashlib.sha256(seed).hexdigest()


def pseudonym(key: bytes, person_id: int) -> str:
    """The participant's name in one draw's list: HMAC-SHA256 of their id under that draw's own secret key."""
    return hmac.new(key, str(person_id).encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def draw_key(seed: bytes, beacon_randomness: bytes | None) -> bytes:
    """The seed alone, or HMAC-SHA256(seed, beacon randomness) when a public beacon round was named."""
    if beacon_randomness is None:
        return seed
    return hmac.new(seed, beacon_randomness, hashlib.sha256).digest()


def entry_list(entries: Iterable[Entry]) -> bytes:
    """The frozen list, canonical: header, then one row per participant sorted by pseudonym, LF endings."""
    rows = sorted(entries, key=lambda e: e.participant)
    lines = [HEADER]
    previous = None
    for entry in rows:
        if entry.participant == previous:
            raise DrawError("duplicate_participant", entry.participant)
        previous = entry.participant
        if not PARTICIPANT.match(entry.participant) or not 0 < entry.entries <= MAX_ENTRIES:
            raise DrawError("bad_entry", entry.participant)
        lines.append(f"{entry.participant},{entry.entries},{';'.join(sorted(entry.excluded))}\n".encode())
    return b"".join(lines)


def list_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_entry_list(data: bytes) -> list[Entry]:
    """The rows of an exported list, refusing anything that is not exactly the canonical form."""
    if not data.startswith(HEADER):
        raise DrawError("bad_header", f"the first line must be {HEADER.decode().strip()!r}")
    text = data[len(HEADER):].decode("ascii", errors="strict") if data.isascii() else None
    if text is None:
        raise DrawError("not_ascii", "the list holds only ASCII")
    if text and not text.endswith("\n"):
        raise DrawError("bad_ending", "the last row must end with a line feed")
    entries: list[Entry] = []
    previous = ""
    none: frozenset[str] = frozenset()
    row = ROW.fullmatch
    for number, line in enumerate(text.split("\n")[:-1], start=2):
        matched = row(line)
        if matched is None:
            raise DrawError("bad_row", f"line {number}: {line[:80]!r}")
        participant, count, tiers = matched.groups()
        if participant <= previous:
            raise DrawError("unsorted", f"line {number}: rows must be sorted by participant, each once")
        previous = participant
        if tiers:
            excluded = tiers.split(";")
            if any(not TIER.match(tier) for tier in excluded) or excluded != sorted(set(excluded)):
                raise DrawError("bad_row", f"line {number}: excluded tiers are sorted codes separated by ';'")
            entries.append(Entry(participant, int(count), frozenset(excluded)))
        else:
            entries.append(Entry(participant, int(count), none))
    return entries


class _Weights:
    """A Fenwick tree of entry counts: pick by cumulative weight and remove a participant, each in O(log n)."""

    def __init__(self, weights: list[int]) -> None:
        size = len(weights)
        tree = [0, *weights]
        for i in range(1, size + 1):
            parent = i + (i & -i)
            if parent <= size:
                tree[parent] += tree[i]
        self.size = size
        self.tree = tree
        self.total = sum(weights)
        self.top = 1 << (size.bit_length() - 1) if size else 0

    def add(self, index: int, delta: int) -> None:
        self.total += delta
        i, tree, size = index + 1, self.tree, self.size
        while i <= size:
            tree[i] += delta
            i += i & -i

    def find(self, target: int) -> int:
        """The index whose cumulative range holds ``target`` (0 <= target < total)."""
        position, step, tree = 0, self.top, self.tree
        while step:
            following = position + step
            if following <= self.size and tree[following] <= target:
                position = following
                target -= tree[following]
            step >>= 1
        return position


class _Stream:
    """Uniform numbers below a bound: HMAC-SHA256(key, list hash || uint64 counter), rejection-sampled."""

    def __init__(self, key: bytes, entries_hash: bytes) -> None:
        self.mac = hmac.new(key, entries_hash, hashlib.sha256)
        self.counter = 0

    def below(self, bound: int) -> int:
        limit = (1 << 256) // bound * bound
        while True:
            mac = self.mac.copy()
            mac.update(self.counter.to_bytes(8, "big"))
            self.counter += 1
            value = int.from_bytes(mac.digest(), "big")
            if value < limit:
                return value % bound


def choose(entries: Sequence[Entry], entries_hash: str, key: bytes, tiers: Sequence[TierDraw]) -> list[Pick]:
    """Winners then reserves of each tier in order, weighted by entries, nobody picked twice in one draw.

    A tier gets fewer picks than asked when too few eligible participants are left.
    """
    weights = _Weights([entry.entries for entry in entries])
    stream = _Stream(key, bytes.fromhex(entries_hash))
    picked: set[int] = set()
    picks: list[Pick] = []
    for tier in tiers:
        barred = [i for i, entry in enumerate(entries) if tier.tier in entry.excluded and i not in picked]
        for index in barred:
            weights.add(index, -entries[index].entries)
        for position in range(1, tier.winners + tier.reserves + 1):
            if weights.total <= 0:
                break
            index = weights.find(stream.below(weights.total))
            weights.add(index, -entries[index].entries)
            picked.add(index)
            picks.append(Pick(tier.tier, position, position > tier.winners, entries[index].participant))
        for index in barred:
            weights.add(index, entries[index].entries)
    return picks


@dataclass(frozen=True)
class Verification:
    entries_hash: str
    commitment: str
    participants: int
    entries: int
    picks: list[Pick]


def verify(data: bytes, seed_hex: str, tiers: Sequence[TierDraw], algorithm: str = ALGORITHM,
           beacon_randomness_hex: str | None = None) -> Verification:
    """Recompute a draw from its exported entry list, the revealed seed and (if named) the beacon's randomness."""
    if algorithm not in ALGORITHMS:
        raise DrawError("unknown_algorithm", f"{algorithm!r}; known: {', '.join(ALGORITHMS)}")
    try:
        seed = bytes.fromhex(seed_hex)
        beacon = bytes.fromhex(beacon_randomness_hex) if beacon_randomness_hex else None
    except ValueError as e:
        raise DrawError("bad_hex", "the seed and the beacon randomness are hex strings") from e
    if len(seed) != 32 or (beacon is not None and len(beacon) != 32):
        raise DrawError("bad_length", "the seed and the beacon randomness are 32 bytes (64 hex digits)")
    entries = parse_entry_list(data)
    digest = list_hash(data)
    picks = choose(entries, digest, draw_key(seed, beacon), tiers)
    return Verification(digest, commitment(seed), len(entries), sum(e.entries for e in entries), picks)


def parse_tiers(text: str) -> list[TierDraw]:
    """``main=1+2,certificate=5+3``: tier = winners (+ reserves), in the order they are drawn."""
    tiers = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, counts = part.partition("=")
        winners, _, reserves = counts.partition("+")
        if not sep or not TIER.match(name.strip()) or not winners.strip().isdigit() \
                or (reserves and not reserves.strip().isdigit()):
            raise DrawError("bad_prizes", f"{part!r}: write tier=winners or tier=winners+reserves")
        tiers.append(TierDraw(name.strip(), int(winners), int(reserves or 0)))
    if not tiers:
        raise DrawError("bad_prizes", "name at least one tier, e.g. main=1+2")
    return tiers


def format_tiers(tiers: Iterable[TierDraw]) -> str:
    return ",".join(f"{t.tier}={t.winners}+{t.reserves}" for t in tiers)
