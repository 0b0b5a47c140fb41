"""Imports point inward: promo imports nothing of ours, core only promo, bots never storage; channels stand alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CHANNEL_LIBRARIES = {"aiogram", "vkbottle", "maxapi", "pywa", "pywa_async", "httpx", "aiohttp"}
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


# registered channel names that are also ordinary words of the core: the person's e-mail (a field, a registration
# step, a word people type) and "ok" (a word of consent). Such a literal alone is not a channel; the channel checks
# below still catch them where they name one (compared with a channel, ChannelName(...), button payloads).
ORDINARY_WORDS = {"email", "ok"}


def _channel_literals(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []

    def constants(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Set | ast.Tuple | ast.List):
            return [c for element in node.elts for c in constants(element)]
        return []

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.lower()
            for name in names:
                if (text == name and name not in ORDINARY_WORDS) or f"has_{name}" in text or f"channel:{name}" in text:
                    found.append((node.lineno, node.value))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ChannelName":
            found += [(node.lineno, c) for arg in node.args for c in constants(arg) if c.lower() in names]
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any("channel" in ast.unparse(side).lower() for side in sides):
                found += [(node.lineno, c) for side in sides for c in constants(side) if c.lower() in names]
    return found


def test_no_channel_is_named_in_the_core_or_run_py() -> None:
    """The core knows channels by what their profiles say (identity, formats, limits), never by name."""
    from bots.registry import CHANNELS

    names = {plugin.name for plugin in CHANNELS}
    offenders = []
    for path in [*(ROOT / "core").rglob("*.py"), ROOT / "run.py"]:
        for line, literal in _channel_literals(ast.parse(path.read_text(encoding="utf-8")), names):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {literal!r}")
    for path in (ROOT / "core" / "templates").glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: {pattern}" for name in names
                      for pattern in (f"has_{name}", f"channel:{name}") if pattern in text]
    assert offenders == []


def test_the_channel_check_catches_what_it_is_for() -> None:
    names = {"telegram", "email"}
    caught = _channel_literals(ast.parse(
        'a = "telegram"\nif account.channel == "email": pass\nb = ChannelName("email")\n'
        'c = "channel:telegram"\nd = "has_email"\nok = data["email"]\nwords = {"email", "ok"}'), names)
    assert [line for line, _ in caught] == [1, 2, 3, 4, 5]
