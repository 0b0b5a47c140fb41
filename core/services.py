"""Domain services scenarios use, built once at start-up and handed to the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from core.channels import ChannelDirectory
from core.events import InboundEvent
from promo.campaigns import Campaign


class PhotoReading(Protocol):
    async def read(self, event: InboundEvent) -> InboundEvent:
        """The photo's QR texts, or why there are none (``attachment_error``)."""
        ...


@dataclass(frozen=True)
class Services:
    campaign: Campaign
    photos: PhotoReading
    channels: ChannelDirectory
    rules_url: str
    verify_receipts: bool = False  # receipts wait for the tax-service check before cashback is approved
    web_url: str = ""  # where people reach the web app (the web chat's links start with it)
    rating_change: timedelta = timedelta(0)  # SUPPORT_RATING_CHANGE_MINUTES: a ticket's rating may change this long

    def channel_title(self, name: str) -> str:
        return self.channels.title(name)
