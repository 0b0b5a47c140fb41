"""The suite refuses to pass on a machine with PostgreSQL when the PostgreSQL tests were left out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_PRESENT

ROOT = Path(__file__).parents[1]


@pytest.mark.skipif(not POSTGRES_PRESENT, reason="needs a PostgreSQL that answers, to leave its tests out")
@pytest.mark.parametrize("leave_out", [["-k", "not postgresql"], ["-m", "not postgres"]])
def test_deselecting_the_postgresql_tests_fails_the_run(leave_out: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/test_storage.py", *leave_out], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stdout
    assert "PostgreSQL answers" in result.stdout
