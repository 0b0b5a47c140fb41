"""Imports point inward: promo imports nothing of ours, core only promo, bots never storage; channels stand alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CHANNEL_LIBRARIES = {"aiogram", "vkbottle", "aiohttp"}
FORBIDDEN = {
    "promo": {"core", "bots", "storage", "sqlalchemy", *CHANNEL_LIBRARIES},
    "core": {"bots", "storage", "sqlalchemy", "alembic", *CHANNEL_LIBRARIES},
    "storage": {"bots", *CHANNEL_LIBRARIES},
    "bots": {"storage", "sqlalchemy", "alembic"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_inward(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_ruff_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_channel_module_imports_no_other_channel_module() -> None:
    from bots.registry import CHANNELS

    modules = {plugin.build.__module__ for plugin in CHANNELS}
    assert len(modules) == len(CHANNELS)
    for module in modules:
        path = ROOT / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not imported & (modules - {module}), f"{module} imports another channel"


def test_no_test_reaches_into_a_stores_session() -> None:
    offenders = [path.name for path in (ROOT / "tests").rglob("*.py")
                 if path.name != "test_architecture.py" and "tx.session" in path.read_text(encoding="utf-8")]
    assert offenders == []


def test_run_py_names_no_channel() -> None:
    """``run.py`` loops over the registry: adding a channel never edits it."""
    source = (ROOT / "run.py").read_text(encoding="utf-8").lower()
    for name in ("telegram", "vk"):
        assert f"bots.{name}" not in source and f"{name}channel" not in source
