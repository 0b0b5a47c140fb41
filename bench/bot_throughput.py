"""Updates per second through the real aiogram dispatcher and the real vkbottle bot, against our emulators.

    python bench/bot_throughput.py [--people 200]

For each library, in one run: a bare echo handler, then the platform's registration flow
(5 updates per person, each waiting for the bot's reply as a person would), and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from vkbottle import API
from vkbottle import Bot as VkBot
from vkbottle.bot import Message as VkMessage

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.vk import method_url
from core.settings import Settings
from run import Platform

STEPS = 5
Step = Callable[[int, int], Awaitable[object]]
Replies = Callable[[int, int], Awaitable[object]]  # (user, count): until the bot has sent that many


async def drive(people: int, step: Step, replies: Replies) -> tuple[float, float]:
    """Every person sends STEPS updates, each after the previous reply.

    Returns updates per second and the slowest reply in seconds.
    """
    slowest = 0.0

    async def person(user: int) -> None:
        nonlocal slowest
        for index in range(STEPS):
            sent = time.perf_counter()
            await step(user, index)
            await replies(user, index + 1)
            slowest = max(slowest, time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(person(10_000 + p) for p in range(people)))
    return people * STEPS / (time.perf_counter() - started), slowest


async def telegram_step(emulator: TelegramEmulator, user: int, index: int) -> None:
    if index == 1:
        await emulator.user_press(user, "consent:yes")
    elif index == 4:
        await emulator.user_press(user, "email:skip")
    else:
        await emulator.user_text(user, ["/start", "", "Анна Петрова", f"+7916{user:07d}"][index])


async def vk_step(emulator: VkEmulator, user: int, index: int) -> None:
    if index == 1:
        await emulator.user_press(user, '{"p": "consent:yes"}', "Согласен")
    elif index == 4:
        await emulator.user_press(user, '{"p": "email:skip"}', "Пропустить")
    else:
        await emulator.user_text(user, ["Начать", "", "Анна Петрова", f"+7917{user:07d}"][index])


async def telegram_echo(people: int) -> tuple[float, float]:
    emulator = TelegramEmulator()
    await emulator.start()
    bot = Bot("123456:bench", session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "ok")

    @dispatcher.callback_query()
    async def pressed(query) -> None:  # type: ignore[no-untyped-def]
        await bot.send_message(query.from_user.id, query.data or "ok")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        return await drive(people, lambda u, i: telegram_step(emulator, u, i),
                           lambda u, n: emulator.wait_for_messages(u, n, 120))
    finally:
        await dispatcher.stop_polling()
        await asyncio.gather(polling, return_exceptions=True)
        await emulator.stop()


async def vk_echo(people: int) -> tuple[float, float]:
    emulator = VkEmulator()
    await emulator.start()
    api = API("bench")
    api.API_URL = method_url(emulator.base_url)
    bot = VkBot(api=api)

    @bot.on.private_message()
    async def echo(message: VkMessage) -> None:
        await api.messages.send(peer_id=message.peer_id, random_id=0, message=message.text or "ok")

    polling = asyncio.create_task(bot.run_polling())
    await emulator.polling.wait()
    try:
        return await drive(people, lambda u, i: vk_step(emulator, u, i),
                           lambda u, n: emulator.wait_for_messages(u, n, 120))
    finally:
        bot.polling.stop()
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await api.http_client.close()
        await emulator.stop()


async def platform_flow(people: int, folder: str) -> tuple[tuple[float, float], tuple[float, float]]:
    telegram, vk = TelegramEmulator(), VkEmulator()
    await telegram.start()
    await vk.start()
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder}/bench.db", web_port=0,
                        sandbox=False, telegram_bot_token="123456:bench", telegram_api_base=telegram.base_url,
                        vk_bot_token="bench", vk_api_base=vk.base_url, vk_group_id=vk.group_id)
    platform = Platform(settings)
    await platform.start()
    await vk.polling.wait()
    try:
        telegram_rate = await drive(people, lambda u, i: telegram_step(telegram, u, i),
                                    lambda u, n: telegram.wait_for_messages(u, n, 120))
        vk_rate = await drive(people, lambda u, i: vk_step(vk, u, i), lambda u, n: vk.wait_for_messages(u, n, 120))
        return telegram_rate, vk_rate
    finally:
        await platform.stop()
        await telegram.stop()
        await vk.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # vkbottle writes its polling state under ./.vkbottle
        tg_echo = await telegram_echo(args.people)
        vk_bare = await vk_echo(args.people)
        tg_flow, vk_flow = await platform_flow(args.people, folder)
    for name, (echo, echo_max), (flow, flow_max) in (("aiogram ", tg_echo, tg_flow),
                                                     ("vkbottle", vk_bare, vk_flow)):
        print(f"{name}  echo updates_per_s={echo:.0f} (slowest reply {echo_max:.2f}s)  "
              f"registration updates_per_s={flow:.0f} (slowest reply {flow_max:.2f}s)  ratio={flow / echo:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
