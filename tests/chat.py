"""A test driver that plays one channel account talking to the engine (no channel library involved)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from core.channels import ChannelName
from core.engine import Engine
from core.events import EventKind, InboundEvent, OutgoingMessage, SharedContact

_update_ids = itertools.count(1)
TELEGRAM, VK = ChannelName("telegram"), ChannelName("vk")


@dataclass
class Chat:
    engine: Engine
    channel: ChannelName
    account_id: str
    display_name: str = ""
    locale_hint: str | None = None
    last: list[OutgoingMessage] = field(default_factory=list)
    asked: object = None  # what a test remembers between steps (a link request's id)

    @classmethod
    def telegram(cls, engine: Engine, account_id: str, **kw: object) -> Chat:
        return cls(engine, TELEGRAM, account_id, **kw)  # type: ignore[arg-type]

    @classmethod
    def vk(cls, engine: Engine, account_id: str, **kw: object) -> Chat:
        return cls(engine, VK, account_id, **kw)  # type: ignore[arg-type]

    def _extra(self) -> dict[str, object]:
        return {"update_id": str(next(_update_ids)), "display_name": self.display_name,
                "locale_hint": self.locale_hint}

    async def deliver(self, event: InboundEvent) -> list[str]:
        self.last = await self.engine.handle(event)
        return [m.template for m in self.last]

    async def send(self, text: str) -> list[str]:
        return await self.deliver(InboundEvent.from_text(self.channel, self.account_id, text, **self._extra()))

    async def press(self, payload: str) -> list[str]:
        return await self.deliver(InboundEvent.button(self.channel, self.account_id, payload, **self._extra()))

    async def share_contact(self, phone: str, own: bool = True) -> list[str]:
        return await self.deliver(InboundEvent(self.channel, self.account_id, EventKind.CONTACT,
                                               contact=SharedContact(phone, own), **self._extra()))

    async def send_photo(self, data: bytes) -> list[str]:
        return await self.deliver(InboundEvent(self.channel, self.account_id, EventKind.PHOTO,
                                               photo=data, **self._extra()))

    def param(self, name: str) -> object:
        """A parameter of the last reply that has it."""
        for message in reversed(self.last):
            if name in message.params:
                return message.params[name]
        raise KeyError(name)

    async def register(self, name: str = "Анна Петрова", phone: str = "+7 912 345-67-89",
                       email: str | None = "anna@example.ru") -> list[str]:
        await self.send("/start")
        await self.press("consent:yes")
        await self.send(name)
        await self.send(phone)
        return await (self.send(email) if email else self.press("email:skip"))
