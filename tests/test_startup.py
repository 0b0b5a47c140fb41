"""``python run.py`` as a newcomer runs it: bad settings stop it with one clear line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _run_with(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment.update(env)
    return subprocess.run([sys.executable, str(ROOT / "run.py")], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_URL", "mysql://root@localhost/promo"),
    ("TIME_ZONE", "Mars/Olympus"),
    ("WEB_PORT", "eighty"),
    ("LOCALE", "fr"),
    ("TELEGRAM_API_BASE", "ftp://example"),
])
def test_a_wrong_setting_stops_startup_with_one_line_naming_it(tmp_path: Path, name: str, value: str) -> None:
    result = _run_with(tmp_path, **{name: value})
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if " INFO promo: start-up: " not in line]
    assert len(lines) == 1 and lines[0].startswith(f"configuration error: {name}:"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_setting_in_dot_env_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TIME_ZONE=Nowhere/Town\n", encoding="utf-8")
    result = _run_with(tmp_path)
    assert result.returncode == 2 and "TIME_ZONE" in result.stderr


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    result = _run_with(tmp_path, DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none", WEB_PORT="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("start-up error: cannot prepare the database")
    assert "Traceback" not in result.stderr


def test_managers_export_payouts_as_csv(tmp_path: Path) -> None:
    export = subprocess.run([sys.executable, str(ROOT / "run.py"), "export-payouts"], cwd=tmp_path,
                            env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
                            capture_output=True, text=True, timeout=60)
    assert export.returncode == 0, export.stderr
    assert export.stdout.splitlines() == ["payout_id,person_id,name,phone,amount_rub,requested_at"]
    unknown = subprocess.run([sys.executable, str(ROOT / "run.py"), "payout-paid", "42"], cwd=tmp_path,
                             env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "no requested payout 42" in unknown.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_sandbox_starts_with_no_tokens_and_stops_cleanly_on_a_signal(tmp_path: Path, sig: int) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
    environment.update(WEB_PORT="0", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'promo.db'}")
    process = subprocess.Popen([sys.executable, str(ROOT / "run.py")], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = process.stdout.readline() if process.stdout else ""
        assert ready.startswith("ready: http://127.0.0.1:") and "/sandbox" in ready, ready
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "stopping" in stderr and "Traceback" not in stderr
    assert "startup heap settled" in stderr  # full collections no longer walk what startup built
    # the seconds of start-up say what they are spent on, from the first
    progress = [line.split(" promo: ", 1)[1] for line in stderr.splitlines() if " INFO promo: " in line]
    assert progress[0].startswith("start-up: 127.0.0.1:") and "loading the channels" in progress[0], stderr
    assert any("sandbox emulators running" in line for line in progress), stderr


def test_a_busy_port_is_said_at_once_before_the_channels_load(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TELEGRAM_", "VK_"))}
        environment.update(WEB_PORT=str(port), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'promo.db'}")
        result = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "run.py")], cwd=tmp_path,
                                env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"start-up error: cannot serve on 127.0.0.1:{port}:"), result.stderr[-500:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import")}
    assert not {"aiogram", "vkbottle", "maxapi", "pywa"} & imported  # said before seconds of importing them
    assert not (tmp_path / "promo.db").exists()  # nor after preparing the database


def test_help_says_that_no_command_runs_the_platform(tmp_path: Path) -> None:
    shown = subprocess.run([sys.executable, str(ROOT / "run.py"), "--help"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert "With no command, `run.py` runs it" in shown.stdout, shown.stdout


def test_an_empty_broadcast_list_says_so(tmp_path: Path) -> None:
    listed = subprocess.run([sys.executable, str(ROOT / "run.py"), "broadcast", "list"], cwd=tmp_path,
                            env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"},
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "no broadcasts yet (`broadcast send` starts one)", listed.stdout
