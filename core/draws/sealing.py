"""A draw's secret seed kept encrypted (AES-256-GCM) with a key that lives in the settings, never in the database.

Whoever reads the database or a backup sees the commitment and a ciphertext: the seed, and with it the outcome of a
draw without a beacon, stays unknown until it is revealed at the draw. The ciphertext is bound to its draw (campaign,
code and published commitment as associated data), so a sealed seed cannot be moved to another draw either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.draws.common import DrawRefused

VERSION = "v1"
NONCE_BYTES = 12
# The sandbox's own key, published here on purpose: sandbox draws are practice, and a key that survives restarts
# lets them run after one. A platform configured for production takes DRAW_SEED_KEY and refuses draws without it.
SANDBOX_KEY = hashlib.sha256(b"promo sandbox draw seeds: not secret").digest()


def parse_key(text: str) -> bytes:
    """A 32-byte key written as 64 hex digits or as base64 (``ValueError`` otherwise)."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as e:
        raise ValueError("expected 32 bytes as 64 hex digits or base64 (python -c 'import secrets; "
                         "print(secrets.token_hex(32))')") from e
    if len(key) != 32:
        raise ValueError("expected 32 bytes as 64 hex digits or base64")
    return key


class SeedSeal:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a seed key is 32 bytes")
        self._aead = AESGCM(key)
        self.sandbox = key == SANDBOX_KEY

    @staticmethod
    def _label(campaign: str, code: str, commitment: str) -> bytes:
        return f"draw-seed/{VERSION}/{campaign}/{code}/{commitment}".encode()

    def seal(self, seed: bytes, campaign: str, code: str, commitment: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, seed, self._label(campaign, code, commitment))
        return f"{VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, campaign: str, code: str, commitment: str) -> bytes:
        """The seed; ``DrawRefused`` when this key did not seal it for this draw, or it is not the committed one."""
        version, _, body = sealed.partition(":")
        try:
            raw = base64.b64decode(body, validate=True)
            if version != VERSION or len(raw) <= NONCE_BYTES:
                raise ValueError(version)
            seed = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._label(campaign, code, commitment))
        except (ValueError, binascii.Error, InvalidTag) as e:
            raise DrawRefused("seed_unreadable", f"the seed of draw {campaign}/{code} does not open with "
                                                 f"DRAW_SEED_KEY: set the key it was sealed with") from e
        if hashlib.sha256(seed).hexdigest() != commitment:
            raise DrawRefused("seed_unreadable", f"the seed of draw {campaign}/{code} is not the committed one")
        return seed
