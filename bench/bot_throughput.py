"""Updates per second through the real aiogram dispatcher and the real vkbottle bot, against our emulators.

    python bench/bot_throughput.py [--people 200] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]

For each library (aiogram, vkbottle), in one run, ``--people`` simulated people at once, each
waiting for the bot's reply before sending its next update:

* ``echo``: a bare bot on the library (no platform) that answers every update with a plain
  message: a text, a button press, a photo (never downloaded nor decoded). It is driven
  with the registration's 5 updates, then with the receipt flow's 2 (a photo, a press).
* ``registration``: the platform (``run.bootstrap``) and the 5 updates of registration:
  /start, consent button, name, typed phone, "skip e-mail".
* ``receipt``: the same people, now registered (registration is done by the flow above,
  before this clock starts), each send a photo of a distinct fiscal receipt, wait for the
  confirmation ("Всё верно?"), press "yes" and wait for "Чек принят" (2 updates each).

The platform runs on a SQLite file in a temporary folder (``--postgres URL``: in a
throw-away database created on URL's server, through URL's own database, and dropped at the
end), ``photo_workers=2``, the default 5 s budget, and a photo queue long enough for everyone
(``photo_queue = people``: with the default queue of 4, a burst of 200 photos is answered
"busy" but for the first few, which ``--photo-queue 4`` shows). Before any clock, the photo
workers are waited for (they import this script again as ``__mp_main__``: seconds; the
figure is on the first line). Printed, one line per library and flow:

    # people=… database=… photo_workers=2 photo_queue=… photo_workers_ready_after_start=…s (not timed)
    aiogram echo updates_per_s=… (slowest reply …s)
    aiogram registration updates_per_s=… (slowest reply …s) ratio=…
    aiogram echo-photo updates_per_s=… (slowest reply …s)
    aiogram receipt updates_per_s=… (slowest reply …s) ratio=…
    vkbottle … (the same four)

``echo`` is the bare bot driven like registration (texts and buttons), ``echo-photo`` the
bare bot driven like the receipt flow (a photo, a button). ``ratio`` is the platform flow's
rate over its own echo's rate, same library: registration / echo, receipt / echo-photo.
``updates_per_s`` counts the updates answered. A reply that is not the expected one (a
"busy" photo, an apology) or that never comes ends that person's flow, is counted in
``unexpected=`` on the flow's line and shown (the first ten) on stderr.

The photo: ``tests.images.receipt_photo(fiscal, size=(480, 640))``, a 480x640 JPEG of about
32 KB with a QR code of a distinct fiscal receipt (``i=`` and ``fp=`` differ; bought at noon
on days from the campaign's start to the day before now), one per person, made before any
clock starts. One decode (``promo.qr.decode_photo``: the first zxing pass finds it) takes
about 1.3 ms in-process, about 6.5 ms through a warm ``PhotoReader`` (pool round trip
included), measured on this machine (2 cores shared with other people's jobs), so the
receipt flow measures the platform (download, pool, judging, units of work), not zxing.
Figures vary with the load others put on the machine: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from sqlalchemy import text as sql
from vkbottle import API
from vkbottle import Bot as VkBot
from vkbottle.bot import Message as VkMessage

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from bots.vk import method_url
from core.channels import ChannelName
from core.events import EventKind, InboundEvent
from core.settings import Settings
from run import Platform, bootstrap, configure, settle_heap
from storage.database import create_engine
from tests.images import receipt_photo

REPLY_TIMEOUT = 120.0
TELEGRAM_TOKEN = "123456:bench"
CONFIRM_MARK = "Всё верно?"  # receipt.confirm
ACCEPTED_MARK = "Чек принят"  # receipt.accepted_moderation
PHOTO_SIZE = (480, 640)
FN = 7380440700123456

# (user, step) -> send the step's update
Step = Callable[[int, int], Awaitable[object]]
# (user, count) -> the texts of all the messages the user got, once there are ``count``
Replies = Callable[[int, int], Awaitable[list[str]]]
# (step, text of the reply) -> whether it is the reply this step should get
Check = Callable[[int, str], bool]


@dataclass
class Rate:
    updates_per_s: float
    slowest: float
    unexpected: list[str] = field(default_factory=list)


async def drive(users: list[int], steps: int, step: Step, replies: Replies, counts: dict[int, int],
                check: Check | None = None) -> Rate:
    """Every user sends ``steps`` updates, each once the reply to the previous one came.

    ``counts`` holds how many messages each user had so far (kept up to date); a reply is the next one.
    The rate counts the updates that were answered.
    """
    slowest = 0.0
    answered = 0
    unexpected: list[str] = []

    async def person(user: int) -> None:
        """Stops at a reply that is not the expected one: the rest of the flow would make no sense."""
        nonlocal slowest, answered
        for index in range(steps):
            sent = time.perf_counter()
            await step(user, index)
            try:
                texts = await replies(user, counts[user] + 1)
            except TimeoutError as e:
                unexpected.append(f"user {user} step {index}: no reply in {REPLY_TIMEOUT:.0f}s ({e})")
                return
            slowest = max(slowest, time.perf_counter() - sent)
            answered += 1
            reply = texts[counts[user]]
            counts[user] += 1
            if check is not None and not check(index, reply):
                unexpected.append(f"user {user} step {index}: {reply[:80]!r}")
                return

    started = time.perf_counter()
    await asyncio.gather(*(person(user) for user in users))
    return Rate(answered / (time.perf_counter() - started), slowest, unexpected)


# what the simulated people send --------------------------------------------------------------

REGISTRATION_STEPS = 5
RECEIPT_STEPS = 2


async def telegram_registration(emulator: TelegramEmulator, user: int, index: int) -> None:
    if index == 1:
        await emulator.user_press(user, "consent:yes")
    elif index == 4:
        await emulator.user_press(user, "email:skip")
    else:
        await emulator.user_text(user, ["/start", "", "Анна Петрова", f"+7916{user:07d}"][index])


async def vk_registration(emulator: VkEmulator, user: int, index: int) -> None:
    if index == 1:
        await emulator.user_press(user, '{"p": "consent:yes"}', "Согласен")
    elif index == 4:
        await emulator.user_press(user, '{"p": "email:skip"}', "Пропустить")
    else:
        await emulator.user_text(user, ["Начать", "", "Анна Петрова", f"+7917{user:07d}"][index])


async def telegram_receipt(emulator: TelegramEmulator, photos: dict[int, bytes], user: int, index: int) -> None:
    if index == 0:
        await emulator.user_photo(user, photos[user], width=PHOTO_SIZE[0], height=PHOTO_SIZE[1])
    else:
        await emulator.user_press(user, "receipt:yes")


async def vk_receipt(emulator: VkEmulator, photos: dict[int, bytes], user: int, index: int) -> None:
    if index == 0:
        await emulator.user_photo(user, photos[user])
    else:
        await emulator.user_press(user, '{"p": "receipt:yes"}', "✅ Да, отправить")


def receipt_reply(index: int, text: str) -> bool:
    return (CONFIRM_MARK if index == 0 else ACCEPTED_MARK) in text


def telegram_replies(emulator: TelegramEmulator) -> Replies:
    async def wait(user: int, count: int) -> list[str]:
        return [m.text for m in await emulator.wait_for_messages(user, count, REPLY_TIMEOUT)]

    return wait


def vk_replies(emulator: VkEmulator) -> Replies:
    async def wait(user: int, count: int) -> list[str]:
        return [m.text for m in await emulator.wait_for_messages(user, count, REPLY_TIMEOUT)]

    return wait


def fiscal_receipts(people: int, settings: Settings) -> list[str]:
    """Distinct receipts (``i=`` and ``fp=`` differ) bought in the campaign, days before now, at noon local."""
    zone = settings.zone
    first = datetime.combine(settings.campaign_starts_on, day_time(12), zone)
    last = min(datetime.combine(settings.campaign_ends_on, day_time(12), zone), datetime.now(zone) - timedelta(days=1))
    if last < first:
        raise SystemExit(f"the campaign ({settings.campaign_starts_on}..{settings.campaign_ends_on}) has not "
                         f"started a day before now ({datetime.now(zone):%Y-%m-%d}): no receipt would count")
    span = (last - first).days
    receipts = []
    for n in range(people):
        bought = first + timedelta(days=n * 7919 % (span + 1))  # spread over the campaign's days so far
        total = 300 + n % 2000
        receipts.append(f"t={bought:%Y%m%dT%H%M}&s={total}.50&fn={FN}&i={100_000 + n}&fp={2_900_000_000 + n}&n=1")
    return receipts


# the bare libraries --------------------------------------------------------------------------

@dataclass
class Library:
    name: str
    echo_registration: Rate
    echo_receipt: Rate
    registration: Rate | None = None
    receipt: Rate | None = None


async def telegram_echo(users: list[int], photos: dict[int, bytes]) -> tuple[Rate, Rate]:
    emulator = TelegramEmulator()
    await emulator.start()
    bot = Bot(TELEGRAM_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:  # a photo has no text: "ok", nothing downloaded
        await message.answer(message.text or "ok")

    @dispatcher.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await bot.send_message(query.from_user.id, query.data or "ok")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    counts = dict.fromkeys(users, 0)
    try:
        registration = await drive(users, REGISTRATION_STEPS, lambda u, i: telegram_registration(emulator, u, i),
                                   telegram_replies(emulator), counts)
        receipt = await drive(users, RECEIPT_STEPS, lambda u, i: telegram_receipt(emulator, photos, u, i),
                              telegram_replies(emulator), counts)
        return registration, receipt
    finally:
        await dispatcher.stop_polling()
        await asyncio.gather(polling, return_exceptions=True)
        await bot.session.close()
        await emulator.stop()


async def vk_echo(users: list[int], photos: dict[int, bytes]) -> tuple[Rate, Rate]:
    emulator = VkEmulator()
    await emulator.start()
    api = API("bench")
    api.API_URL = method_url(emulator.base_url)
    bot = VkBot(api=api)

    @bot.on.private_message()
    async def echo(message: VkMessage) -> None:  # a photo comes with empty text: "ok", nothing downloaded
        await api.messages.send(peer_id=message.peer_id, random_id=0, message=message.text or "ok")

    polling = asyncio.create_task(bot.run_polling())
    await emulator.polling.wait()
    counts = dict.fromkeys(users, 0)
    try:
        registration = await drive(users, REGISTRATION_STEPS, lambda u, i: vk_registration(emulator, u, i),
                                   vk_replies(emulator), counts)
        receipt = await drive(users, RECEIPT_STEPS, lambda u, i: vk_receipt(emulator, photos, u, i),
                              vk_replies(emulator), counts)
        return registration, receipt
    finally:
        bot.polling.stop()
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await api.http_client.close()
        await emulator.stop()


# the platform --------------------------------------------------------------------------------

def point_channels_at(telegram: TelegramEmulator, vk: VkEmulator) -> None:
    """The channels read their own settings from the environment (as ``tests.platform`` sets them)."""
    os.environ.update(TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN, TELEGRAM_API_BASE=telegram.base_url,
                      VK_BOT_TOKEN="bench", VK_API_BASE=vk.base_url, VK_GROUP_ID=str(vk.group_id))


async def start_platform(settings: Settings, telegram: TelegramEmulator, vk: VkEmulator) -> Platform:
    point_channels_at(telegram, vk)
    platform = await bootstrap(configure(settings))
    vk.polling.clear()
    await platform.start()
    settle_heap()  # as run.py does once started
    await asyncio.wait_for(vk.polling.wait(), 10)  # VK drops events sent before its bot listens
    return platform


async def warm_up(platform: Platform, photo: bytes) -> float:
    """Seconds until every photo worker has decoded a photo (they start in the background at bootstrap).

    The workers come from a forkserver that first imports ``__main__`` (this script, hence aiogram,
    vkbottle and the platform): seconds of one core's time, which no clock should include.
    """
    started = time.perf_counter()
    event = InboundEvent(ChannelName("telegram"), "0", EventKind.PHOTO, photo=photo)
    read = await asyncio.gather(*(platform.photos.read(event) for _ in range(platform.photos.workers)))
    if any(r.attachment_error or not r.qr_texts for r in read):
        raise SystemExit(f"the photo workers cannot read the benchmark's photo: {read[0].attachment_error}")
    return time.perf_counter() - started


async def platform_flows(settings: Settings, tg_users: list[int], vk_users: list[int],
                         photos: dict[int, bytes]) -> tuple[float, Rate, Rate, Rate, Rate]:
    """Seconds until the photo workers were ready, then each flow's rate (registration, then receipts)."""
    telegram, vk = TelegramEmulator(), VkEmulator()
    await telegram.start()
    await vk.start()
    platform = await start_platform(settings, telegram, vk)
    ready = await warm_up(platform, photos[tg_users[0]])
    tg_counts, vk_counts = dict.fromkeys(tg_users, 0), dict.fromkeys(vk_users, 0)
    try:
        tg_registration = await drive(tg_users, REGISTRATION_STEPS,
                                      lambda u, i: telegram_registration(telegram, u, i),
                                      telegram_replies(telegram), tg_counts)
        vk_registration_rate = await drive(vk_users, REGISTRATION_STEPS, lambda u, i: vk_registration(vk, u, i),
                                           vk_replies(vk), vk_counts)
        tg_receipt = await drive(tg_users, RECEIPT_STEPS, lambda u, i: telegram_receipt(telegram, photos, u, i),
                                 telegram_replies(telegram), tg_counts, receipt_reply)
        vk_receipt_rate = await drive(vk_users, RECEIPT_STEPS, lambda u, i: vk_receipt(vk, photos, u, i),
                                      vk_replies(vk), vk_counts, receipt_reply)
        return ready, tg_registration, vk_registration_rate, tg_receipt, vk_receipt_rate
    finally:
        await platform.stop()
        await telegram.stop()
        await vk.stop()


@asynccontextmanager
async def throwaway_postgres(base: str) -> AsyncIterator[str]:
    """A fresh database on the server of ``base`` (whose own database is used to create and drop it)."""
    host = base.split("@")[-1].split("/")[0]
    name, _, port = host.partition(":")
    try:
        socket.create_connection((name, int(port or 5432)), timeout=1).close()
    except OSError as e:
        raise SystemExit(f"PostgreSQL at {host} does not answer: {e}") from e
    database = f"promo_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(sql(f'CREATE DATABASE "{database}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{database}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


def line(name: str, flow: str, rate: Rate, echo: Rate | None = None) -> str:
    text = f"{name} {flow} updates_per_s={rate.updates_per_s:.0f} (slowest reply {rate.slowest:.2f}s)"
    if echo is not None:
        text += f" ratio={rate.updates_per_s / echo.updates_per_s:.3f}"
    if rate.unexpected:
        text += f" unexpected={len(rate.unexpected)}"
    return text


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", default=None,
                        help="run the platform flows on PostgreSQL, in a throw-away database next to URL's")
    parser.add_argument("--photo-queue", type=int, default=None,
                        help="photos waiting for a worker before 'busy' (default: --people)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("vkbottle").handlers.clear()
    logging.getLogger("vkbottle").setLevel(logging.CRITICAL)  # its polling loop logs its own cancellation

    tg_users = [10_000 + p for p in range(args.people)]
    vk_users = [20_000 + p for p in range(args.people)]
    defaults = Settings(_env_file=None)
    receipts = fiscal_receipts(2 * args.people, defaults)
    photos = {user: receipt_photo(fiscal, size=PHOTO_SIZE) for user, fiscal in zip(tg_users + vk_users, receipts,
                                                                                  strict=True)}
    libraries: list[Library] = []
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # vkbottle may write its polling state under ./.vkbottle; no project .env is read
        tg_echo = await telegram_echo(tg_users, photos)
        vk_bare = await vk_echo(vk_users, photos)
        libraries = [Library("aiogram", *tg_echo), Library("vkbottle", *vk_bare)]
        # the channels' rate limits lifted (the bare echo bots have none): this measures what processing costs;
        # with them, both would send at Telegram's 30 and VK's 20 a second (bench/notify.py measures that)
        values: dict[str, Any] = {"web_port": 0, "sandbox": False, "photo_workers": 2, "rate_limits": False,
                                  "photo_queue": args.people if args.photo_queue is None else args.photo_queue}
        if args.postgres:
            async with throwaway_postgres(args.postgres) as url:
                flows = await platform_flows(Settings(_env_file=None, database_url=url, **values), tg_users,
                                             vk_users, photos)
        else:
            flows = await platform_flows(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{folder}/bench.db",
                                                  **values), tg_users, vk_users, photos)
    ready, libraries[0].registration, libraries[1].registration, libraries[0].receipt, libraries[1].receipt = flows
    database = "postgresql" if args.postgres else "sqlite"
    print(f"# people={args.people} database={database} photo_workers=2 photo_queue={values['photo_queue']} "
          f"photo_workers_ready_after_start={ready:.1f}s (not timed)", flush=True)
    for library in libraries:
        assert library.registration is not None and library.receipt is not None
        print(line(library.name, "echo", library.echo_registration))
        print(line(library.name, "registration", library.registration, library.echo_registration))
        print(line(library.name, "echo-photo", library.echo_receipt))
        print(line(library.name, "receipt", library.receipt, library.echo_receipt))
    for library in libraries:
        for flow, rate in (("echo", library.echo_registration), ("echo-photo", library.echo_receipt),
                           ("registration", library.registration), ("receipt", library.receipt)):
            for problem in (rate.unexpected if rate else [])[:10]:
                print(f"{library.name} {flow}: unexpected: {problem}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
