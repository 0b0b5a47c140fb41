"""At-least-once intake, proven on real ``run.py`` processes stopped in the middle of a burst.

The emulators run in this test process; the platform is a subprocess on a SQLite file. Many
people write in both channels; the process is killed (SIGKILL) or stopped (SIGTERM) while
replies are going out, then started again on the same database. Every message is an unknown
command of its own (``/t1001m2``), so its one reply (``common.unknown_command``) names it:
a message without its reply was lost, a reply seen twice was sent twice. A kill may repeat
only the Telegram sends in flight at that instant (one per chat at most); VK's ``random_id``
absorbs even those, and a graceful stop repeats nothing. Other people, registered beforehand, send a receipt
and confirm it before the stop and another while the platform is down: at the end each has both stored once,
and the ledger balances against them (``tests.ledger_check``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bots.emulators.telegram_api import TelegramEmulator
from bots.emulators.vk_api import VkEmulator
from tests.ledger_check import Account, check_ledger, receipt, seed_registered

ROOT = Path(__file__).parents[1]
TELEGRAM_USERS = range(1001, 1026)
VK_USERS = range(2001, 2026)
RECEIPT_SENDERS: list[Account] = [*(("telegram", str(u)) for u in range(1101, 1111)),
                                  *(("vk", str(u)) for u in range(2101, 2111))]
MESSAGES_EACH = 4
BEFORE_STOP = range(2)  # each person's first messages come at once: a backlog the platform works through
WHILE_DOWN = range(2, MESSAGES_EACH)  # the rest come while it is stopped
STOP_AFTER_REPLIES = 40  # of the 100 replies due before the stop: the rest are stored or on their way
START_TIMEOUT = 60.0
RECOVERY_TIMEOUT = 60.0
WEBHOOK_SECRET = "crash-test-webhook-secret"
VK_CALLBACK_SECRET = "crash-test-vk-secret"
COMMAND = re.compile(r"/[tv]\d+m\d+")
Reply = tuple[int, str]  # (chat, the command it answers)
CHANNELS = ("telegram", "vk")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(channel: str, user: int, index: int) -> str:
    return f"/{channel[0]}{user}m{index}"


class PlatformProcess:
    """``python run.py`` with the test's environment, in a session of its own; its output goes to files.

    Not pipes: the photo workers inherit them and outlive a killed platform for seconds, which
    would hold up waiting for its exit. Whatever of the session is left is killed at ``close``.
    """

    def __init__(self, cwd: Path, env: dict[str, str], name: str) -> None:
        self.cwd, self.env = cwd, env
        self.output, self.log = cwd / f"{name}.out", cwd / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> str:
        """Start it and wait for its ``ready:`` line; returns the web app's address."""
        with self.output.open("wb") as output, self.log.open("wb") as log:
            process = self.process = await asyncio.create_subprocess_exec(
                sys.executable, str(ROOT / "run.py"), cwd=self.cwd, env=self.env, stdout=output, stderr=log,
                start_new_session=True)
        ready = await until(lambda: self.ready_line() is not None or process.returncode is not None, START_TIMEOUT,
                            every=0.05)
        line = self.ready_line()
        assert ready and line is not None, f"run.py did not start\n{self.log_tail()}"
        return line.split()[1]

    def ready_line(self) -> str | None:
        lines = self.output.read_text(errors="replace").splitlines()
        return next((line for line in lines if line.startswith("ready: ")), None)

    def kill(self) -> None:
        """SIGKILL to the platform and its photo workers, as when its container dies (only the platform
        itself touches the database and the APIs; orphaned workers would just slow the restart down)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.terminate()

    async def exit_code(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    async def close(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Burst:
    """Who wrote what, and which replies came back (per channel, as (chat, answered command))."""

    telegram: TelegramEmulator
    vk: VkEmulator
    sent: dict[str, list[Reply]] = field(default_factory=lambda: {"telegram": [], "vk": []})
    receipts: dict[Account, set[int]] = field(default_factory=dict)  # per sender, the receipts confirmed

    async def send_receipts(self, round_: int) -> None:
        """Each receipt sender types a receipt and confirms it at once (the press waits in line behind it)."""
        for account in RECEIPT_SENDERS:
            channel, user = account[0], int(account[1])
            number = user * 10 + round_
            if channel == "telegram":
                await self.telegram.user_text(user, receipt(number))
                await self.telegram.user_press(user, "receipt:yes")
            else:
                await self.vk.user_text(user, receipt(number))
                await self.vk.user_press(user, '{"p": "receipt:yes"}', "✅ Да, отправить")
            self.receipts.setdefault(account, set()).add(number)

    async def write(self, indexes: range) -> None:
        for index in indexes:
            for user in TELEGRAM_USERS:
                await self.telegram.user_text(user, command("telegram", user, index))
                self.sent["telegram"].append((user, command("telegram", user, index)))
            for user in VK_USERS:
                await self.vk.user_text(user, command("vk", user, index))
                self.sent["vk"].append((user, command("vk", user, index)))

    @property
    def expected(self) -> int:
        return (len(TELEGRAM_USERS) + len(VK_USERS)) * MESSAGES_EACH

    def written(self) -> int:
        return sum(map(len, self.sent.values()))

    def acknowledged(self) -> int:
        """Updates the webhooks delivered (the platform answered 2xx / "ok")."""
        telegram = len(self.telegram.history) - len(self.telegram.updates)
        return telegram + sum(t <= self.vk.callback_ts for t, _ in self.vk.events)

    def replies(self) -> dict[str, Counter[Reply]]:
        found: dict[str, Counter[Reply]] = {"telegram": Counter(), "vk": Counter()}
        for channel, outbox, users in (("telegram", self.telegram.outbox, TELEGRAM_USERS),
                                       ("vk", self.vk.outbox, VK_USERS)):  # the receipt senders' apart
            for user in users:
                for message in outbox.to(user):
                    answered = COMMAND.search(message.text)
                    found[channel][(user, answered.group() if answered else message.text)] += 1
        return found

    def replied(self) -> int:
        return sum(len(self.telegram.outbox.to(u)) for u in TELEGRAM_USERS) + \
            sum(len(self.vk.outbox.to(u)) for u in VK_USERS)

    def all_answered(self) -> bool:
        return not any(self.unanswered(channel) for channel in CHANNELS)

    @staticmethod
    def messages(channel: str) -> list[Reply]:
        """Every message of the burst in ``channel``, written or yet to be."""
        users = TELEGRAM_USERS if channel == "telegram" else VK_USERS
        return [(u, command(channel, u, i)) for u in users for i in range(MESSAGES_EACH)]

    def unanswered(self, channel: str) -> list[Reply]:
        replies = self.replies()[channel]
        return [m for m in self.messages(channel) if not replies[m]]

    def duplicates(self, channel: str) -> Counter[Reply]:
        return Counter({reply: n - 1 for reply, n in self.replies()[channel].items() if n > 1})

    def strays(self, channel: str) -> list[Reply]:
        """Replies that answer no message of the burst."""
        burst = set(self.messages(channel))
        return [reply for reply in self.replies()[channel] if reply not in burst]


def unsettled(database: Path) -> tuple[int, int]:
    """(updates not yet processed, messages not yet sent) in the platform's own database."""
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection:
        inbox = connection.execute("SELECT count(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0]
        outbox = connection.execute("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()[0]
    return int(inbox), int(outbox)


def unrecorded_replies(database: Path, channel: str) -> set[Reply]:
    """The channel's replies whose sending the platform had not recorded as done."""
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection:
        rows = connection.execute("SELECT external_id, json_extract(params, '$.command') FROM outbox "
                                  "WHERE channel = ? AND status != 'sent'", (channel,)).fetchall()
    return {(int(chat), str(answered)) for chat, answered in rows}


def events_without_their_effect(database: Path) -> dict[str, int]:
    """Domain events and the rows they announce, each stored in the same transaction as the other: a message
    queued without its event (or an event of no message), a send recorded without its event (or the reverse)."""
    queries = {
        "queued_without_event": "SELECT count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM domain_events e "
                                "WHERE e.kind = 'message.queued' AND json_extract(e.data, '$.message_id') = o.id)",
        "queued_event_without_message": "SELECT count(*) FROM domain_events e WHERE e.kind = 'message.queued' "
                                        "AND NOT EXISTS (SELECT 1 FROM outbox o "
                                        "WHERE o.id = json_extract(e.data, '$.message_id'))",
        "sent_without_event": "SELECT count(*) FROM outbox o WHERE o.status = 'sent' AND NOT EXISTS (SELECT 1 "
                              "FROM domain_events e WHERE e.kind = 'message.sent' "
                              "AND json_extract(e.data, '$.message_id') = o.id)",
        "sent_events_twice": "SELECT count(*) - count(DISTINCT json_extract(data, '$.message_id')) "
                             "FROM domain_events WHERE kind = 'message.sent'",
    }
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection:
        return {name: int(connection.execute(sql).fetchone()[0]) for name, sql in queries.items()}


def queued_replies(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection:
        return int(connection.execute("SELECT count(*) FROM outbox").fetchone()[0])


async def until(condition: Callable[[], bool], timeout: float, every: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


@pytest.fixture
async def emulators() -> AsyncIterator[tuple[TelegramEmulator, VkEmulator]]:
    telegram, vk = TelegramEmulator(), VkEmulator()
    await telegram.start()
    await vk.start()
    yield telegram, vk
    await telegram.stop()
    await vk.stop()


def platform_environment(tmp_path: Path, telegram: TelegramEmulator, vk: VkEmulator, mode: str,
                         port: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'promo.db'}", WEB_HOST="127.0.0.1", WEB_PORT=str(port),
        BOT_MODE=mode, SANDBOX="false", PHOTO_WORKERS="1",
        TELEGRAM_BOT_TOKEN="123456:crash-test", TELEGRAM_API_BASE=telegram.base_url,
        VK_BOT_TOKEN="vk-crash-test", VK_GROUP_ID=str(vk.group_id), VK_API_BASE=vk.api_url,
        WEBHOOK_PATH_SECRET=WEBHOOK_SECRET, VK_CALLBACK_SECRET=VK_CALLBACK_SECRET, VK_CONFIRMATION_CODE="c0nf1rm",
    )
    return environment


@dataclass
class Outcome:
    burst: Burst
    first_exit_code: int
    unrecorded_at_stop: set[Reply]  # Telegram replies the stopped platform had not recorded as sent


async def stop_mid_burst_and_restart(tmp_path: Path, emulators: tuple[TelegramEmulator, VkEmulator], mode: str,
                                     stop: Callable[[PlatformProcess], None],
                                     record: Callable[[str, object], None]) -> Outcome:
    """Burst, ``stop`` the platform while replies are going out, start it again, wait until all is settled."""
    telegram, vk = emulators
    database = tmp_path / "promo.db"
    port = free_port() if mode == "webhook" else 0  # a webhook URL must survive the restart
    environment = platform_environment(tmp_path, telegram, vk, mode, port)
    first = PlatformProcess(tmp_path, environment, "first")
    second = PlatformProcess(tmp_path, environment, "second")
    burst = Burst(telegram, vk)
    await seed_registered(environment["DATABASE_URL"], RECEIPT_SENDERS)
    try:
        url = await first.start()
        if mode == "webhook":
            await telegram.set_webhook(f"{url}/webhook/telegram", WEBHOOK_SECRET)
            await vk.set_callback(f"{url}/webhook/vk", VK_CALLBACK_SECRET)
        else:  # VK hands a new long poll only what comes after it connected
            await asyncio.wait_for(vk.polling.wait(), START_TIMEOUT)
        await burst.write(BEFORE_STOP)
        await burst.send_receipts(1)
        replying = await until(lambda: burst.replied() >= STOP_AFTER_REPLIES, RECOVERY_TIMEOUT)
        assert replying, f"{burst.replied()} replies to {burst.written()} messages\n{first.log_tail()}"
        stop(first)
        stopped = time.monotonic()
        record("sent_at_stop", burst.written())
        record("answered_at_stop", burst.replied())
        if mode == "webhook":
            record("acknowledged_at_stop", burst.acknowledged())
        first_exit_code = await first.exit_code()
        record("seconds_to_exit", round(time.monotonic() - stopped, 1))
        stored_unprocessed, queued_unsent = unsettled(database)
        record("updates_stored_unprocessed_at_stop", stored_unprocessed)
        record("replies_queued_unsent_at_stop", queued_unsent)
        unrecorded = unrecorded_replies(database, "telegram")
        record("telegram_sends_unrecorded_at_stop", len(unrecorded & set(burst.replies()["telegram"])))
        await burst.write(WHILE_DOWN)
        await burst.send_receipts(2)
        restarted = time.monotonic()
        await second.start()
        record("seconds_to_ready", round(time.monotonic() - restarted, 1))
        answered = await until(burst.all_answered, RECOVERY_TIMEOUT, every=0.05)
        record("seconds_to_all_answered", round(time.monotonic() - restarted, 1))
        settled = await until(lambda: unsettled(database) == (0, 0), RECOVERY_TIMEOUT, every=0.1)
        for channel in CHANNELS:
            record(f"{channel}_answered", len(burst.messages(channel)) - len(burst.unanswered(channel)))
            record(f"{channel}_duplicates", sum(burst.duplicates(channel).values()))
        record("seconds_to_settled", round(time.monotonic() - restarted, 1))
        record("replies_queued", queued_replies(database))
        lost = events_without_their_effect(database)
        assert lost == dict.fromkeys(lost, 0), lost
        assert answered and settled, (
            f"{burst.expected} messages sent; not all answered within {RECOVERY_TIMEOUT}s of the restart: "
            f"unanswered telegram {burst.unanswered('telegram')}, vk {burst.unanswered('vk')}; "
            f"unprocessed updates, unsent messages: {unsettled(database)}\n"
            f"first run:\n{first.log_tail()}\nsecond run:\n{second.log_tail()}")
        ledger = await check_ledger(environment["DATABASE_URL"], burst.receipts)
        assert ledger.receipts == 2 * len(RECEIPT_SENDERS), ledger
        return Outcome(burst, first_exit_code, unrecorded)
    finally:
        await first.close()
        await second.close()


def check_every_message_answered(burst: Burst) -> None:
    for channel in CHANNELS:
        assert not burst.unanswered(channel), f"{channel}: unanswered {burst.unanswered(channel)}"
        assert not burst.strays(channel), f"{channel}: replies to no message of the burst {burst.strays(channel)}"


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_kill_mid_burst_loses_nothing_and_repeats_only_telegram_sends_in_flight(
        tmp_path: Path, emulators: tuple[TelegramEmulator, VkEmulator], mode: str,
        record_property: Callable[[str, object], None]) -> None:
    outcome = await stop_mid_burst_and_restart(tmp_path, emulators, mode, PlatformProcess.kill, record_property)
    assert outcome.first_exit_code == -9
    check_every_message_answered(outcome.burst)
    vk_duplicates = outcome.burst.duplicates("vk")
    assert not vk_duplicates, f"VK got {sum(vk_duplicates.values())} duplicate replies: {dict(vk_duplicates)}"
    telegram_duplicates = outcome.burst.duplicates("telegram")
    per_chat = Counter(chat for chat, _ in telegram_duplicates.elements())
    assert all(n <= 1 for n in per_chat.values()), \
        f"Telegram got {sum(telegram_duplicates.values())} duplicate replies, more than one in some chats: " \
        f"{dict(per_chat)}"
    repeated_but_recorded = set(telegram_duplicates) - outcome.unrecorded_at_stop
    assert not repeated_but_recorded, \
        f"Telegram replies sent again although recorded as sent before the kill: {sorted(repeated_but_recorded)}"


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_graceful_stop_mid_burst_loses_nothing_and_repeats_nothing(
        tmp_path: Path, emulators: tuple[TelegramEmulator, VkEmulator], mode: str,
        record_property: Callable[[str, object], None]) -> None:
    outcome = await stop_mid_burst_and_restart(tmp_path, emulators, mode, PlatformProcess.terminate,
                                               record_property)
    assert outcome.first_exit_code == 0
    check_every_message_answered(outcome.burst)
    duplicates = {channel: dict(outcome.burst.duplicates(channel)) for channel in CHANNELS}
    assert not any(duplicates.values()), \
        f"duplicate replies after a graceful stop: {duplicates}; Telegram replies the stopped process had not " \
        f"recorded as sent: {sorted(outcome.unrecorded_at_stop)}"
