"""Image bytes -> QR texts, stopping as soon as one is accepted (a fiscal receipt, usually).

zxing-cpp reads first; pyzbar (when the zbar library is installed) second; then
preprocessing passes — contrast, upscaling, sharpened crops of the busiest
regions — only while nothing acceptable was found. Every refusal carries a
reason a person can act on.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import zxingcpp
from PIL import Image, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

from promo.errors import PromoError
from promo.receipts import looks_fiscal

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 40 MP: larger than any phone photo, far below a decompression bomb
WORK_SIDE = 2000  # big photos are read at this size first: faster, and zxing does as well there
UPSCALE_BELOW = 1_500_000  # pixels: smaller pictures get a 2x pass for tiny codes
CANDIDATE_CROPS = 4
BLURRY_EDGE_VARIANCE = 60.0
MIN_CONTENT_STDDEV = 12.0

Accept = Callable[[str], bool]


class ImageRejected(PromoError):
    """The bytes cannot be read as a photo: ``reason`` is too_large | too_many_pixels | not_an_image | corrupt."""


@dataclass
class DecodeResult:
    texts: list[str] = field(default_factory=list)  # every QR text seen, in order found
    accepted: str | None = None  # the first text ``accept`` said yes to
    reason: str | None = None  # no_qr | blurry | no_fiscal_qr when nothing was accepted
    passes: int = 0


def _pyzbar() -> Callable[[Image.Image], list[str]] | None:
    try:
        from pyzbar import pyzbar
    except (ImportError, OSError):  # the zbar shared library is missing
        return None

    def decode(image: Image.Image) -> list[str]:
        return [symbol.data.decode("utf-8", "replace") for symbol in pyzbar.decode(image)
                if symbol.type == "QRCODE"]

    return decode


class QrReader:
    """Reusable decoder; build one at start-up (it looks for zbar once)."""

    def __init__(self, use_pyzbar: bool = True) -> None:
        self.pyzbar = _pyzbar() if use_pyzbar else None

    @property
    def has_pyzbar(self) -> bool:
        return self.pyzbar is not None

    def decode(self, data: bytes, accept: Accept) -> DecodeResult:
        work = load_image(data, WORK_SIDE)
        result = DecodeResult()
        for reader, picture in self._passes(data, work):
            result.passes += 1
            for text in reader(picture):
                if text not in result.texts:
                    result.texts.append(text)
                if accept(text):
                    result.accepted = text
                    return result
        result.reason = "no_fiscal_qr" if result.texts else ("blurry" if is_blurry(work) else "no_qr")
        return result

    def _passes(self, data: bytes, work: Image.Image) -> Iterator[tuple[Callable[[Image.Image], list[str]],
                                                                         Image.Image]]:
        yield read_zxing, work
        if getattr(work, "reduced_from", None):
            yield read_zxing, load_image(data)  # the full-size photo, for a code too small at work size
        if self.pyzbar is not None:
            yield self.pyzbar, work
        yield read_zxing, ImageOps.equalize(work)
        if work.width * work.height <= UPSCALE_BELOW:
            yield read_zxing, work.resize((work.width * 2, work.height * 2), Image.Resampling.BICUBIC)
        for crop in busiest_regions(work, CANDIDATE_CROPS):
            yield read_zxing_thresholded, sharpened(crop, 3)


_readers: dict[bool, QrReader] = {}  # one per worker process: zbar is looked for once, not per photo


def decode_photo(data: bytes, zone_name: str, use_pyzbar: bool) -> DecodeResult:
    """One photo, in a worker process of ``core.photos.PhotoReader``: plain values in and out, so it pickles.

    ``ImageRejected`` propagates (it pickles with its ``reason``).
    """
    reader = _readers.get(use_pyzbar)
    if reader is None:
        reader = _readers[use_pyzbar] = QrReader(use_pyzbar)
    zone = ZoneInfo(zone_name)
    return reader.decode(data, lambda text: looks_fiscal(text, zone))


def load_image(data: bytes, max_side: int | None = None) -> Image.Image:
    """A grayscale, upright, single-frame picture, or ``ImageRejected`` saying why not.

    With ``max_side`` a bigger photo comes back reduced (a JPEG is decoded straight to
    grayscale at a smaller scale, which is several times faster) and remembers its
    original size in ``reduced_from``.
    """
    if len(data) > MAX_BYTES:
        raise ImageRejected("too_large", f"{len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ImageRejected("too_many_pixels", f"{image.width}x{image.height}")
            image.seek(0)  # an animation: its first frame only
            original = image.size
            if image.format == "JPEG":
                scale = min(1.0, max_side / max(original)) if max_side else 1.0
                image.draft("L", (int(original[0] * scale), int(original[1] * scale)))
            image = ImageOps.exif_transpose(image)
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected("too_many_pixels", str(e)) from e
    except UnidentifiedImageError as e:
        raise ImageRejected("not_an_image") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # truncated or damaged files
        raise ImageRejected("corrupt", str(e)[:200]) from e
    gray = image.convert("L")
    if max_side and max(gray.size) > max_side:
        gray.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    if max(gray.size) < max(original):
        gray.reduced_from = original  # type: ignore[attr-defined]
    return gray


def read_zxing(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if r.valid]


def read_zxing_thresholded(image: Image.Image) -> list[str]:
    texts = []
    for binarizer in (zxingcpp.Binarizer.FixedThreshold, zxingcpp.Binarizer.LocalAverage):
        for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, binarizer=binarizer):
            if r.valid and r.text not in texts:
                texts.append(r.text)
        if texts:
            break
    return texts


def sharpened(image: Image.Image, scale: int) -> Image.Image:
    """Blown up and unsharp-masked: a blurred code whose modules are a pixel or two wide."""
    big = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
    return ImageOps.autocontrast(big.filter(ImageFilter.UnsharpMask(radius=scale, percent=300, threshold=0)),
                                 cutoff=1)


def busiest_regions(image: Image.Image, count: int) -> list[Image.Image]:
    """Crops around the cells with the most edges: where a QR code (dense in 2-D) most likely is."""
    cell = max(16, min(image.size) // 24)
    columns, rows = max(1, image.width // cell), max(1, image.height // cell)
    edges = image.filter(ImageFilter.FIND_EDGES).resize((columns, rows), Image.Resampling.BOX)
    density = list(edges.get_flattened_data())
    order = sorted(range(len(density)), key=density.__getitem__, reverse=True)
    chosen: list[tuple[int, int]] = []
    for index in order:
        x, y = index % columns, index // columns
        if all(abs(x - cx) > 2 or abs(y - cy) > 2 for cx, cy in chosen):
            chosen.append((x, y))
        if len(chosen) == count:
            break
    half = cell * 2  # tight: a wider crop lets the surrounding text spoil the threshold
    crops = []
    for x, y in chosen:
        cx, cy = x * cell + cell // 2, y * cell + cell // 2
        crops.append(image.crop((max(0, cx - half), max(0, cy - half),
                                 min(image.width, cx + half), min(image.height, cy + half))))
    return crops


def is_blurry(image: Image.Image) -> bool:
    """Few sharp edges in a picture that does show something (a blank wall is not blurry, just empty)."""
    small = image.copy()
    small.thumbnail((800, 800))
    has_content = ImageStat.Stat(small).stddev[0] > MIN_CONTENT_STDDEV
    return has_content and ImageStat.Stat(small.filter(ImageFilter.FIND_EDGES)).var[0] < BLURRY_EDGE_VARIANCE
