"""The promo package's exception root."""

from __future__ import annotations


class PromoError(Exception):
    """Root of every error promo raises on purpose; ``reason`` is a stable code a template can name."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
