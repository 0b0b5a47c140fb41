"""Pictures made for tests: a QR code (from zxing-cpp's writer) pasted on a receipt-like background."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, ImageDraw, ImageFilter


def qr_image(text: str, module_pixels: int = 6) -> Image.Image:
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=module_pixels)
    return Image.frombuffer("L", (code.shape[1], code.shape[0]), bytes(code))


def receipt_photo(*texts: str, size: tuple[int, int] = (960, 1280), module_pixels: int = 5,
                  blur: float = 0.0, rotate: float = 0.0, fmt: str = "JPEG") -> bytes:
    """A grey 'table' with a white 'receipt' holding text lines and the given QR codes."""
    photo = Image.new("RGB", size, (90, 95, 100))
    paper = Image.new("RGB", (size[0] * 2 // 3, size[1] * 3 // 4), (245, 245, 240))
    draw = ImageDraw.Draw(paper)
    for line in range(18):
        draw.text((30, 30 + line * 28), f"ITEM {line:02d} ........ {line * 37 % 900}.00", fill=(30, 30, 30))
    x = 40
    for text in texts:
        code = qr_image(text, module_pixels).convert("RGB")
        paper.paste(code, (x, paper.height - code.height - 40))
        x += code.width + 30
    if rotate:
        paper = paper.rotate(rotate, expand=True, fillcolor=(90, 95, 100))
    photo.paste(paper, ((size[0] - paper.width) // 2, (size[1] - paper.height) // 2))
    if blur:
        photo = photo.filter(ImageFilter.GaussianBlur(blur))
    buffer = io.BytesIO()
    photo.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def hostile_grid(side: int = 6300, cell: int = 21) -> bytes:
    """The attack that stalled the bot: a huge PNG, tiny once compressed, tiled with QR finder patterns.

    Every ``cell`` pixels there is a finder pattern (7 modules of ``(cell - 1) // 10`` pixels: dark
    ring, light ring, 3x3 dark centre) in a light margin, so every row and column holds hundreds of
    perfect 1:1:3:1:1 runs, and zxing-cpp's time grows far faster than the area as it weighs the
    candidates against each other (touching patterns, with no margin, are dismissed at once).
    Measured here (zxing-cpp 3.1.1, Pillow 13, 2 shared cores) with the defaults: 81 KB of PNG
    (the attack's were 74 KB), built in 0.5 s; ``QrReader.decode`` takes 24.6 s, 24.0 s of it in
    the full-size zxing pass (the 2000 px work-size pass, where the patterns blur away, takes 0.01 s;
    at side 4000 the full-size pass takes 4.2 s). zxing-cpp releases the GIL meanwhile: the harm was
    occupied threads and cores, not a blocked event loop.
    """
    module = max(1, (cell - 1) // 10)
    tile = Image.new("L", (cell, cell), 255)
    draw = ImageDraw.Draw(tile)
    margin = (cell - 7 * module) // 2
    for ring, fill in enumerate((0, 255, 0)):
        start, end = margin + ring * module, margin + (7 - ring) * module - 1
        draw.rectangle((start, start, end, end), fill=fill)
    row = Image.new("L", (side, cell), 255)
    for x in range(0, side, cell):
        row.paste(tile, (x, 0))
    picture = Image.new("L", (side, side), 255)
    for y in range(0, side, cell):
        picture.paste(row, (0, y))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
