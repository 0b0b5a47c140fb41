"""Issue 22 §5.5–5.6 at the command line, as a manager runs it (``run.py`` in a subprocess on a SQLite file):
``staff add`` / ``create-admin`` read a piped password quietly with ``--password-stdin``; ``receipts list`` names
the campaign and the flags; ``draw move`` / ``draw cancel`` change a scheduled draw with a reason, audited, and
refuse once its list is frozen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from bots.web.console.auth import password_matches
from storage.database import create_engine, migrate
from storage.sql import SqlStore

ROOT = Path(__file__).parents[1]


def cli(database: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment["DATABASE_URL"] = f"sqlite+aiosqlite:///{database}"
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=database.parent, env=environment,
                          input=stdin, capture_output=True, text=True, timeout=120)


async def open_store(database: Path) -> SqlStore:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    return SqlStore(engine)


async def test_a_piped_password_is_read_quietly_with_password_stdin(tmp_path) -> None:
    database = tmp_path / "promo.db"
    made = cli(database, "staff", "add", "olga", "--role", "manager", "--password-stdin",
               stdin="correct horse battery\n")
    assert made.returncode == 0, made.stderr
    assert "Warning" not in made.stderr and made.stderr == "", made.stderr
    admin = cli(database, "create-admin", "root", "--password-stdin", stdin="another long secret\r\n")
    assert admin.returncode == 0 and admin.stderr == "", admin.stderr
    store = await open_store(database)
    async with store.transaction() as tx:
        olga, root = await tx.staff.find_user("olga"), await tx.staff.find_user("root")
    await store.close()
    assert olga is not None and olga.role.value == "manager" and password_matches(olga, "correct horse battery")
    assert root is not None and password_matches(root, "another long secret")  # the line ending is not the password

    empty = cli(database, "staff", "add", "ivan", "--role", "support", "--password-stdin", stdin="\n")
    assert empty.returncode == 2 and "empty" in empty.stderr and "Warning" not in empty.stderr
    piped = cli(database, "staff", "add", "ivan", "--role", "support", stdin="x" * 12 + "\n")
    assert piped.returncode == 2 and "--password-stdin" in piped.stderr and "Warning" not in piped.stderr


async def test_receipts_list_names_the_campaign_and_the_flags(tmp_path) -> None:
    from core.ports import ReceiptStatus
    from promo.campaigns import Award
    from promo.receipts import parse
    from tests.contract.helpers import NOW

    MOSCOW = ZoneInfo("Europe/Moscow")
    database = tmp_path / "promo.db"
    store = await open_store(database)
    async with store.transaction() as tx:
        person = await tx.people.create("ru", NOW)
        flagged = await tx.receipts.add(person.id, "autumn", parse("t=20261120T1200&s=500.00&fn=7380440700123456&i=1"
                                                                   "&fp=2964503817&n=1", MOSCOW), "typed",
                                        ReceiptStatus.MODERATION, Award(2500, 5, False), NOW, None)
        plain = await tx.receipts.add(person.id, "spring", parse("t=20261120T1200&s=300.00&fn=7380440700123456&i=2"
                                                                 "&fp=2964503818&n=1", MOSCOW), "typed",
                                      ReceiptStatus.MODERATION, Award(1500, 3, False), NOW, None)
        await tx.receipts.flag(flagged.id, person.id, "sent_by_another_person", NOW)
    await store.close()
    listed = cli(database, "receipts", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split("\t") == ["receipt_id", "campaign", "person_id", "sum_rub", "cashback_rub", "sent_at", "flags"]
    cells = {int(row.split("\t")[0]): row.split("\t") for row in rows}
    assert cells[flagged.id][1] == "autumn" and cells[flagged.id][6] == "sent_by_another_person"
    assert cells[plain.id][1] == "spring" and cells[plain.id][6] == "-"


async def test_a_draw_is_moved_or_cancelled_with_a_reason_before_its_list_closes_and_never_after(tmp_path) -> None:
    import csv
    import io
    from datetime import UTC, datetime, timedelta

    from core import campaigns
    from core.ports.draws import DrawStatus, NewWinner, WinnerStatus
    from promo.draws import TierDraw
    from tests.test_draws_flow import SPRING

    database = tmp_path / "promo.db"
    store = await open_store(database)
    now = datetime.now(UTC)
    later = (now + timedelta(days=60)).date()
    async with store.transaction() as tx:
        await campaigns.create(tx, SPRING, now)
        tiers = (TierDraw("tv", 1, 1),)
        args = (tiers, "", "cd" * 32, "ef" * 32, "weighted-hmac-sha256/v1", now)
        open_draw = await tx.draws.add("spring", "open", later, later, datetime.combine(
            later + timedelta(days=2), datetime.min.time(), UTC), *args)
        other = await tx.draws.add("spring", "other", later, later, open_draw.draw_at, *args)
        past = (now - timedelta(days=3)).date()  # entries closed: its list is (due to be) frozen
        closed = await tx.draws.add("spring", "closed", past, past, now + timedelta(days=1), *args)
        person = await tx.people.create("ru", now)
        person.name = "=HYPERLINK(\"x\")"
        await tx.people.save(person)
        await tx.draws.add_winners(closed.id, [NewWinner(person.id, "p-1", "tv", 1, False, WinnerStatus.UNREACHED,
                                                         None)], now)
    await store.close()

    to = f"{later + timedelta(days=5):%Y-%m-%d} 18:00"  # the campaign's zone: Moscow, UTC+3
    moved = cli(database, "draw", "move", str(open_draw.id), "--to", to, "--reason", "призы задерживаются")
    assert moved.returncode == 0, moved.stderr
    assert f"to {later + timedelta(days=5):%Y-%m-%d} 15:00 UTC" in moved.stdout
    no_reason = cli(database, "draw", "cancel", str(other.id), "--reason", "  ")
    assert no_reason.returncode == 1 and "say why" in no_reason.stderr
    cancelled = cli(database, "draw", "cancel", str(other.id), "--reason", "одного розыгрыша хватит")
    assert cancelled.returncode == 0, cancelled.stderr
    too_late = cli(database, "draw", "move", str(closed.id), "--to", to, "--reason", "поздно")
    close = datetime.combine(past + timedelta(days=1), datetime.min.time(), SPRING.zone).astimezone(UTC)
    assert too_late.returncode == 1 and f"entries closed at {close:%Y-%m-%d %H:%M} UTC" in too_late.stderr
    assert "held as announced" in too_late.stderr
    assert cli(database, "draw", "cancel", str(closed.id), "--reason", "поздно").returncode == 1

    store = await open_store(database)
    async with store.transaction() as tx:
        after = [await tx.draws.get(d.id) for d in (open_draw, other, closed)]
        changes = await tx.draws.changes(open_draw.id)
        audit = await tx.staff.audit_log(limit=10)
    await store.close()
    assert after[0].draw_at == datetime.combine(later + timedelta(days=5), datetime.min.time(), UTC) + timedelta(
        hours=15)
    assert [d.status for d in after] == [DrawStatus.SCHEDULED, DrawStatus.CANCELLED, DrawStatus.SCHEDULED]
    assert after[2].draw_at == closed.draw_at and changes[0].reason == "призы задерживаются"
    assert {(e.action, e.detail.get("reason")) for e in audit} >= {
        ("draw_moved", "призы задерживаются"), ("draw_cancelled", "одного розыгрыша хватит")}

    sheet = cli(database, "draw", "winners", str(closed.id), "--csv")
    assert sheet.returncode == 0, sheet.stderr
    (row,) = csv.DictReader(io.StringIO(sheet.stdout))
    assert (row["prize"], row["prize_name"], row["person_id"], row["pseudonym"]) == (
        "tv", "Телевизор", str(person.id), "p-1")
    assert row["name"] == "'=HYPERLINK(\"x\")" and row["contact"] == "unreached" and row["outcome"] == "waiting"
