"""The channels this platform can run; ``run.py`` builds every one whose settings enable it."""

from __future__ import annotations

from bots import email, ok, sms, telegram, vk, webchat, whatsapp
from bots import max as max_messenger
from bots.channel import ChannelPlugin

CHANNELS: tuple[ChannelPlugin, ...] = (
    telegram.PLUGIN, vk.PLUGIN, max_messenger.PLUGIN, ok.PLUGIN, whatsapp.PLUGIN, email.PLUGIN, sms.PLUGIN,
    webchat.PLUGIN,
)
