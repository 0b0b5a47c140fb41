"""Domain services scenarios use, built once from settings: the QR reader and the campaign."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from core.events import InboundEvent
from core.settings import Settings
from promo.campaigns import Campaign
from promo.qr import ImageRejected, QrReader
from promo.receipts import looks_fiscal


@dataclass
class Services:
    campaign: Campaign
    qr: QrReader
    verify_receipts: bool = False  # receipts wait for the tax-service check before cashback is approved

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls(settings.campaign, QrReader(), settings.receipt_check_url is not None)

    async def read_photo(self, event: InboundEvent) -> InboundEvent:
        """The photo's QR texts (or why there are none), decoded off the event loop."""
        zone = self.campaign.zone

        def decode() -> InboundEvent:
            try:
                result = self.qr.decode(event.photo or b"", lambda text: looks_fiscal(text, zone))
            except ImageRejected as e:
                return replace(event, qr_texts=(), attachment_error=e.reason)
            return replace(event, qr_texts=tuple(result.texts), attachment_error=None if result.accepted
                           else result.reason)

        return await asyncio.to_thread(decode)
