"""Redis for the tests: the shared rate limiter runs against the real Redis at ``TEST_REDIS_URL`` (default
127.0.0.1:6379, database 15) when it answers; then its tests must run: a run that skipped or deselected them fails,
as for PostgreSQL."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_counts = {"candidates": 0, "selected": 0, "skipped": 0}


def _redis_answers() -> bool:
    parts = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


REDIS_PRESENT = _redis_answers()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "redis: runs against the real Redis")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("limiter_kind") == "redis":
            item.add_marker(pytest.mark.redis)
            _counts["candidates"] += 1


def pytest_collection_finish(session: pytest.Session) -> None:
    _counts["selected"] = sum(1 for item in session.items if item.get_closest_marker("redis"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "redis" in report.keywords:
        _counts["skipped"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REDIS_PRESENT or _counts["candidates"] == 0:
        return
    if _counts["skipped"] or _counts["selected"] < _counts["candidates"]:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"FAILED: Redis answers at {REDIS_URL} but not all of its tests ran ({_counts['candidates']} collected, "
            f"{_counts['selected']} selected, {_counts['skipped']} skipped)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
