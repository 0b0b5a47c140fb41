"""PhotoReader: decodes in worker processes of its own, kills a decode at its budget, answers "busy" when full."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Collection, Iterator
from multiprocessing.process import BaseProcess
from zoneinfo import ZoneInfo

import pytest

from core.channels import ChannelName
from core.events import EventKind, InboundEvent
from core.photos import PhotoReader, PhotoReaderClosed
from promo.qr import QrReader
from tests.images import hostile_grid, receipt_photo

ZONE = ZoneInfo("Europe/Moscow")
FISCAL = "t=20260315T1842&s=1249.50&fn=7380440700123456&i=48213&fp=2964503817&n=1"
BUDGET = 1.0
WORKERS = 2
QUEUE_LIMIT = 1
SLACK = 2.5  # seconds past the budget: pebble looks at its tasks every 0.1 s, and the machine is shared


def photo_event(data: bytes) -> InboundEvent:
    return InboundEvent(ChannelName("telegram"), "42", EventKind.PHOTO, photo=data)


def children() -> set[BaseProcess]:
    return set(multiprocessing.active_children())


def pool_workers(before: Collection[BaseProcess] = ()) -> set[BaseProcess]:
    """Live pebble workers started since ``before``: a test's readers are the only pools in this process."""
    return {p for p in children().difference(before) if p.is_alive() and p.name == "pebble_pool_worker"}


async def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def hostile() -> bytes:
    return hostile_grid()


@pytest.fixture(scope="module")
def receipt() -> bytes:
    return receipt_photo(FISCAL)


@pytest.fixture(scope="module")
def reader() -> Iterator[PhotoReader]:
    reader = PhotoReader(workers=WORKERS, budget_seconds=BUDGET, queue_limit=QUEUE_LIMIT, zone=ZONE)
    yield reader
    asyncio.run(reader.close())


async def test_a_receipt_photo_is_decoded_by_a_worker(reader: PhotoReader, receipt: bytes) -> None:
    event = photo_event(receipt)
    read = await reader.read(event)
    assert read.qr_texts == (FISCAL,) and read.attachment_error is None
    assert read.photo == receipt and read.account_id == event.account_id


async def test_a_file_that_is_no_picture_gets_the_refusal_reason(reader: PhotoReader) -> None:
    read = await reader.read(photo_event(b"%PDF-1.4 definitely not a picture"))
    assert read.qr_texts == () and read.attachment_error == "not_an_image"


async def test_a_photo_without_a_fiscal_code_gets_the_decoders_reason(reader: PhotoReader) -> None:
    read = await reader.read(photo_event(receipt_photo("https://promo.example/scan?c=998052")))
    assert read.qr_texts == ("https://promo.example/scan?c=998052",) and read.attachment_error == "no_fiscal_qr"


async def test_a_hostile_image_is_cut_off_at_the_budget_and_its_worker_replaced(
        reader: PhotoReader, hostile: bytes, receipt: bytes) -> None:
    before = pool_workers()
    started = time.monotonic()
    read = await reader.read(photo_event(hostile))
    took = time.monotonic() - started
    assert read.attachment_error == "too_slow" and read.qr_texts == () and read.photo == hostile
    assert BUDGET <= took < BUDGET + SLACK
    assert await wait_until(lambda: len(pool_workers()) == WORKERS)
    assert pool_workers() != before  # one of them is new
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)


async def test_with_every_worker_and_queue_place_taken_the_next_photo_is_answered_busy_at_once(
        reader: PhotoReader, hostile: bytes, receipt: bytes) -> None:
    attack = [asyncio.create_task(reader.read(photo_event(hostile))) for _ in range(WORKERS + QUEUE_LIMIT)]
    await asyncio.sleep(0)  # each read schedules its decode before its first wait
    assert reader.in_flight == WORKERS + QUEUE_LIMIT
    started = time.monotonic()
    read = await reader.read(photo_event(receipt))
    assert time.monotonic() - started < 0.1
    assert read.attachment_error == "busy" and read.qr_texts == () and read.photo == receipt
    assert [r.attachment_error for r in await asyncio.gather(*attack)] == ["too_slow"] * len(attack)
    assert reader.in_flight == 0
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)


async def test_a_photo_queued_behind_busy_workers_is_decoded_when_one_is_free(
        reader: PhotoReader, hostile: bytes, receipt: bytes) -> None:
    attack = [asyncio.create_task(reader.read(photo_event(hostile))) for _ in range(WORKERS)]
    await asyncio.sleep(0)
    started = time.monotonic()
    read = await reader.read(photo_event(receipt))
    took = time.monotonic() - started
    assert read.qr_texts == (FISCAL,) and read.attachment_error is None
    assert BUDGET * 0.8 <= took < BUDGET + SLACK  # it waited for a worker, then its own decode was quick
    assert [r.attachment_error for r in await asyncio.gather(*attack)] == ["too_slow"] * WORKERS


@pytest.mark.parametrize("event", [
    InboundEvent.from_text(ChannelName("telegram"), "42", "hello"),
    InboundEvent(ChannelName("telegram"), "42", EventKind.PHOTO, photo=b"jpeg", qr_texts=(FISCAL,)),
    InboundEvent(ChannelName("telegram"), "42", EventKind.PHOTO, photo=b"jpeg", qr_texts=()),
    InboundEvent(ChannelName("telegram"), "42", EventKind.PHOTO, attachment_error="too_large"),
    InboundEvent(ChannelName("telegram"), "42", EventKind.PHOTO, photo=b"jpeg", attachment_error="download_failed"),
], ids=["text", "decoded", "decoded_empty", "refused_on_download", "failed_download"])
async def test_an_event_with_nothing_to_decode_is_returned_untouched_without_the_pool(
        reader: PhotoReader, event: InboundEvent, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*_: object, **__: object) -> None:
        raise AssertionError("the pool was used")

    monkeypatch.setattr(reader._pool, "schedule", no_pool)
    assert await reader.read(event) is event


def test_has_pyzbar_says_whether_zbar_is_usable_here(reader: PhotoReader) -> None:
    assert reader.has_pyzbar == QrReader().has_pyzbar


@pytest.fixture
def lone_reader() -> Iterator[tuple[PhotoReader, set[BaseProcess]]]:
    """One worker and a long budget, and the processes there were before it: the tests below kill its worker."""
    before = children()
    reader = PhotoReader(workers=1, budget_seconds=30, queue_limit=0, zone=ZONE, use_pyzbar=False)
    yield reader, before
    asyncio.run(reader.close())


async def test_a_worker_that_dies_mid_decode_gives_corrupt_and_is_replaced(
        lone_reader: tuple[PhotoReader, set[BaseProcess]], hostile: bytes, receipt: bytes,
        caplog: pytest.LogCaptureFixture) -> None:
    reader, before = lone_reader
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)  # the worker is up and idle
    (worker,) = pool_workers(before)
    decoding = asyncio.create_task(reader.read(photo_event(hostile)))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    os.kill(worker.pid or 0, signal.SIGKILL)
    read = await decoding
    assert read.attachment_error == "corrupt" and read.qr_texts == ()
    assert time.monotonic() - started < SLACK  # not the 30 s budget
    assert "photo decoder died" in caplog.text
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)


async def test_a_worker_that_dies_while_idle_does_not_stop_later_photos(
        lone_reader: tuple[PhotoReader, set[BaseProcess]], receipt: bytes) -> None:
    # pebble gives the whole pool up in this case ("All workers expired")
    reader, before = lone_reader
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)
    (worker,) = pool_workers(before)
    os.kill(worker.pid or 0, signal.SIGKILL)
    await asyncio.sleep(0.5)
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)


async def test_a_read_cancelled_by_its_caller_frees_its_worker_at_once(
        lone_reader: tuple[PhotoReader, set[BaseProcess]], hostile: bytes, receipt: bytes) -> None:
    reader, before = lone_reader
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)
    (worker,) = pool_workers(before)
    decoding = asyncio.create_task(reader.read(photo_event(hostile)))
    await asyncio.sleep(0.5)
    decoding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await decoding
    assert reader.in_flight == 0
    assert await wait_until(lambda: not worker.is_alive(), SLACK)  # not the 30 s budget
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)


async def test_close_ends_every_worker_and_a_decode_under_way(hostile: bytes, receipt: bytes) -> None:
    before = children()
    reader = PhotoReader(workers=2, budget_seconds=30, queue_limit=2, zone=ZONE, use_pyzbar=False)
    assert not reader.has_pyzbar
    assert (await reader.read(photo_event(receipt))).qr_texts == (FISCAL,)
    started = pool_workers(before)
    assert len(started) == 2
    decoding = asyncio.create_task(reader.read(photo_event(hostile)))
    await asyncio.sleep(0.3)
    began = time.monotonic()
    await reader.close()
    with pytest.raises(PhotoReaderClosed):
        await asyncio.wait_for(decoding, 1)
    assert time.monotonic() - began < SLACK
    assert not any(p.is_alive() for p in started)
    assert not pool_workers(before)
    with pytest.raises(PhotoReaderClosed):
        await reader.read(photo_event(receipt))


def test_a_worker_never_runs_the_platforms_main_script_again(tmp_path) -> None:
    """A decoding worker must start in a moment, not re-import ``run.py`` (aiogram, vkbottle: 15 s and more)."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "heavy_main.py"
    script.write_text(
        "import asyncio, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "import tests.images  # stands for the platform's heavy imports\n"
        "from zoneinfo import ZoneInfo\n"
        "from core.photos import PhotoReader\n"
        "async def main():\n"
        "    reader = PhotoReader(workers=1, budget_seconds=5, queue_limit=0, zone=ZoneInfo('Europe/Moscow'))\n"
        "    probe = \"'tests.images' in __import__('sys').modules\"\n"
        "    print(reader._pool.schedule(eval, args=(probe,)).result(timeout=60))\n"
        "    await reader.close()\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", result.stdout
