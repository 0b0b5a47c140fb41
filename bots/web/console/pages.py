"""The console's navigation: each area adds its pages here, with the roles that see them.

Campaigns, draws, router decisions and broadcasts join this list from their own modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.ports.staff import StaffRole


@dataclass(frozen=True)
class Page:
    path: str
    title: str  # a key of ``i18n.WORDS``
    roles: frozenset[StaffRole]


NAVIGATION: list[Page] = []


def add_page(path: str, title: str, *roles: StaffRole) -> None:
    if all(page.path != path for page in NAVIGATION):
        NAVIGATION.append(Page(path, title, frozenset(roles)))


def visible_to(role: StaffRole) -> list[Page]:
    return [page for page in NAVIGATION if role in page.roles]
