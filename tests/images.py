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
