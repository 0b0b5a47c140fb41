from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from promo.qr import ImageRejected, QrReader, _pyzbar, load_image
from promo.receipts import looks_fiscal, parse
from tests.images import qr_image, receipt_photo

ZONE = ZoneInfo("Europe/Moscow")
FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
PROMO_LINK = "https://promo.example/scan?c=998052"
SHARED = Path(__file__).parents[2] / "shared" / "data" / "receipts"
MEASURED_RATE = 0.966  # bench/qr_decode.py on shared/data/receipts: 58 of 60


def fiscal(text: str) -> bool:
    return looks_fiscal(text, ZONE)


@pytest.fixture(scope="module")
def reader() -> QrReader:
    return QrReader()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_receipt_photo_gives_its_fiscal_string(reader: QrReader, fmt: str) -> None:
    result = reader.decode(receipt_photo(FISCAL, fmt=fmt), fiscal)
    assert result.accepted == FISCAL


def test_the_fiscal_code_is_picked_among_others(reader: QrReader) -> None:
    result = reader.decode(receipt_photo(PROMO_LINK, FISCAL), fiscal)
    assert result.accepted == FISCAL


def test_a_photo_with_only_a_promo_link_says_so(reader: QrReader) -> None:
    result = reader.decode(receipt_photo(PROMO_LINK), fiscal)
    assert result.accepted is None and result.reason == "no_fiscal_qr" and PROMO_LINK in result.texts


def test_a_tilted_receipt_is_read(reader: QrReader) -> None:
    assert reader.decode(receipt_photo(FISCAL, rotate=23), fiscal).accepted == FISCAL


def test_a_small_code_in_a_huge_photo_is_read(reader: QrReader) -> None:
    assert reader.decode(receipt_photo(FISCAL, size=(3000, 4000), module_pixels=4), fiscal).accepted == FISCAL


def test_a_photo_without_any_code_says_no_qr(reader: QrReader) -> None:
    assert reader.decode(receipt_photo(), fiscal).reason == "no_qr"


def test_a_very_blurred_photo_says_blurry(reader: QrReader) -> None:
    result = reader.decode(receipt_photo(FISCAL, module_pixels=3, blur=6), fiscal)
    assert result.accepted is None and result.reason == "blurry"


def test_exif_rotation_is_applied(reader: QrReader) -> None:
    image = Image.open(io.BytesIO(receipt_photo(FISCAL))).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    assert load_image(buffer.getvalue()).size == (960, 1280)
    assert reader.decode(buffer.getvalue(), fiscal).accepted == FISCAL


def test_an_animation_is_read_from_its_first_frame(reader: QrReader) -> None:
    first = qr_image(FISCAL).convert("P")
    second = Image.new("P", first.size, 0)
    buffer = io.BytesIO()
    first.save(buffer, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert reader.decode(buffer.getvalue(), fiscal).accepted == FISCAL


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize(("data", "reason"), [
    (b"x" * (21 * 1024 * 1024), "too_large"),
    (_png_header_only(60_000, 60_000), "too_many_pixels"),
    (b"%PDF-1.4 definitely not a picture", "not_an_image"),
    (b"", "not_an_image"),
    (receipt_photo(FISCAL)[:5000], "corrupt"),
])
def test_bad_files_are_refused_with_a_reason(reader: QrReader, data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        reader.decode(data, fiscal)
    assert caught.value.reason == reason


def test_zxing_alone_still_works_without_zbar() -> None:
    assert QrReader(use_pyzbar=False).decode(receipt_photo(FISCAL), fiscal).accepted == FISCAL


def test_pyzbar_path_decodes() -> None:
    decode = _pyzbar()
    if decode is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have the zbar library (libzbar0) so the pyzbar path is tested")
        pytest.skip("the zbar library is not installed (apt-get install libzbar0)")
    assert decode(qr_image(FISCAL).convert("L")) == [FISCAL]
    assert QrReader().has_pyzbar


def test_decode_rate_on_the_shared_photos_does_not_fall(reader: QrReader) -> None:
    labels = SHARED / "labels.csv"
    if not labels.exists():
        pytest.skip(f"{labels} is not here")
    with labels.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if (SHARED / r["file"]).exists()]
    right = wrong = 0
    for row in rows:
        expected = parse(row["expected"], ZONE).canonical() if row["expected"].strip() else None
        try:
            found = reader.decode((SHARED / row["file"]).read_bytes(), fiscal).accepted
        except ImageRejected:
            found = None
        got = parse(found, ZONE).canonical() if found else None
        right += got == expected
        wrong += got is not None and got != expected
    assert wrong == 0
    assert right / len(rows) >= MEASURED_RATE
