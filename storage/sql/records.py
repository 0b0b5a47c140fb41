"""Rows into the core's records, by field name."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Row

R = TypeVar("R")
_FIELDS: dict[type, tuple[str, ...]] = {}


def record(cls: type[R], row: Row[Any], **overrides: Any) -> R:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    mapping = row._mapping
    values = {name: mapping[name] for name in names if name not in overrides and name in mapping}
    return cls(**values, **overrides)
