"""QR decoding on a labelled folder: one line per decoder, from one run.

    python bench/qr_decode.py DIR        (DIR holds images and labels.csv: file,expected)

A file counts as read when the fiscal string returned equals the label (or, for an empty
label, when no fiscal string is returned); ``wrong`` counts fiscal strings returned that
differ from the label. Decoders: our pipeline, zxing-cpp alone, pyzbar alone.
"""

from __future__ import annotations

import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from promo.qr import ImageRejected, QrReader, _pyzbar, read_zxing
from promo.receipts import ReceiptError, parse

ZONE = ZoneInfo("Europe/Moscow")


def canonical(text: str) -> str | None:
    try:
        return parse(text, ZONE).canonical()
    except ReceiptError:
        return None


def fiscal_of(texts: list[str]) -> str | None:
    return next((c for c in map(canonical, texts) if c), None)


def load_labels(folder: Path) -> list[tuple[Path, str | None]]:
    with (folder / "labels.csv").open(encoding="utf-8") as f:
        return [(folder / row["file"], canonical(row["expected"]) if row["expected"].strip() else None)
                for row in csv.DictReader(f)]


def measure(name: str, decode: Callable[[bytes], str | None], cases: list[tuple[Path, str | None]]) -> str:
    times, right, wrong = [], 0, 0
    for path, expected in cases:
        data = path.read_bytes()
        started = time.perf_counter()
        try:
            found = decode(data)
        except ImageRejected:
            found = None
        times.append((time.perf_counter() - started) * 1000)
        right += found == expected
        wrong += found is not None and found != expected
    p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
    return (f"{name:<9} rate={right / len(cases):.3f} median_ms={statistics.median(times):.1f} "
            f"p95_ms={p95:.1f} wrong={wrong} n={len(cases)}")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cases = [(p, e) for p, e in load_labels(Path(sys.argv[1])) if p.exists()]
    reader = QrReader()

    def pipeline(data: bytes) -> str | None:
        result = reader.decode(data, lambda text: canonical(text) is not None)
        return canonical(result.accepted) if result.accepted else None

    def zxing_alone(data: bytes) -> str | None:
        import io

        return fiscal_of(read_zxing(Image.open(io.BytesIO(data))))

    print(measure("pipeline", pipeline, cases), flush=True)
    print(measure("zxing-cpp", zxing_alone, cases), flush=True)
    pyzbar = _pyzbar()
    if pyzbar is None:
        print("pyzbar    unavailable: the zbar library is not installed (apt-get install libzbar0)")
    else:
        def pyzbar_alone(data: bytes) -> str | None:
            import io

            return fiscal_of(pyzbar(Image.open(io.BytesIO(data))))

        print(measure("pyzbar", pyzbar_alone, cases), flush=True)


if __name__ == "__main__":
    main()
