"""Time and peak memory of a draw over 1,000,000 entries from 200,000 people, and of ``verify`` on its export.

    .venv/bin/python bench/draw.py [--people 200000] [--entries 1000000]

The draw is what ``core.draws.draw_now`` does after reading the per-person totals from the
store (one GROUP BY): pseudonyms (HMAC per person), the canonical CSV, its hash, the choice
(one winner tier + reserves, one certificate tier). ``verify`` is what anyone does with the
published file: parse it strictly, hash it, recompute. Each runs in a fresh process so the
peak memory (ru_maxrss minus the process's own baseline) is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from promo import draws

TIERS = [draws.TierDraw("tv", 1, 3), draws.TierDraw("certificate", 100, 20)]


def _peak_mb(baseline_kb: int) -> float:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_kb) / 1024


def totals(people: int, entries: int, seed: int = 7) -> dict[int, int]:
    """Per-person entries as the store's GROUP BY gives them: everyone at least one, the rest spread."""
    rng = random.Random(seed)
    counts = dict.fromkeys(range(1, people + 1), 1)
    for person in rng.choices(range(1, people + 1), k=entries - people):
        counts[person] += 1
    return counts


def run_draw(people: int, entries: int, out: str, queue: multiprocessing.Queue) -> None:
    counts = totals(people, entries)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    key, seed = draws.new_seed(), draws.new_seed()
    rows = [draws.Entry(draws.pseudonym(key, person), count) for person, count in counts.items()]
    data = draws.entry_list(rows)
    digest = draws.list_hash(data)
    rows.sort(key=lambda e: e.participant)
    picks = draws.choose(rows, digest, draws.draw_key(seed, None), TIERS)
    seconds = time.perf_counter() - started
    Path(out).write_bytes(data)
    queue.put((seconds, _peak_mb(baseline), sum(e.entries for e in rows), len(rows), seed.hex(), picks))


def run_verify(path: str, seed: str, queue: multiprocessing.Queue) -> None:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = draws.verify(Path(path).read_bytes(), seed, TIERS)
    seconds = time.perf_counter() - started
    queue.put((seconds, _peak_mb(baseline), result.entries, result.picks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "entries.csv")
        queue: multiprocessing.Queue = context.Queue()
        worker = context.Process(target=run_draw, args=(args.people, args.entries, path, queue))
        worker.start()
        seconds, peak, total, participants, seed, picks = queue.get()
        worker.join()
        print(f"draw entries={total} people={participants} seconds={seconds:.2f} peak_mb={peak:.0f}")
        worker = context.Process(target=run_verify, args=(path, seed, queue))
        worker.start()
        v_seconds, v_peak, v_total, v_picks = queue.get()
        worker.join()
        print(f"verify entries={v_total} seconds={v_seconds:.2f} peak_mb={v_peak:.0f}")
        if v_picks != picks:
            print("MISMATCH: verify chose different winners", file=sys.stderr)
            raise SystemExit(1)


if __name__ == "__main__":
    main()
