"""Receipt photos kept for moderation: per person, content-addressed, gone with the person."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.ports.person_owned import Moved

MAX_KEPT_PHOTO = 10 * 1024 * 1024  # bigger pictures are read but not kept


class PhotoRepository(Protocol):
    async def put(self, person_id: int, data: bytes, now: datetime) -> str:
        """Keep the photo (once per person and content); its SHA-256 in hex."""
        ...
    async def get(self, person_id: int, sha256: str) -> bytes | None: ...
    async def purge_unlinked(self, before: datetime) -> int:
        """Forget photos kept before ``before`` that no receipt and no support ticket of their person refers to."""
        ...

    async def reassign(self, absorbed_id: int, survivor_id: int) -> Moved: ...
    async def restore(self, moved: Moved, person_id: int) -> int: ...
