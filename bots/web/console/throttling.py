"""How sign-in is throttled, and whose address a request is.

Failures are counted under three keys, each locking for a delay that doubles with every failure past
its threshold:

- a name from one address — the guesser's own key, so it locks first;
- a name from anywhere — guessing one account from many addresses; from the staff's own networks
  (``CONSOLE_STAFF_NETWORKS``) a correct password still gets in, so nobody outside can lock staff out;
- an address, counting only names no account has — a scan of made-up names; it never stops a correct
  password of a real account, and wrong ones for real names answer the same 429 so it tells no names.

A request's address is its peer's, unless the peer is a trusted proxy (``CONSOLE_TRUSTED_PROXIES``,
none by default): then ``X-Forwarded-For`` is walked from the right past the trusted proxies, since
only what they appended can be believed; anything to its left the client wrote itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.ports.staff import FailureGroup, LoginFailures

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WINDOW = timedelta(hours=24)  # failures older than this no longer count


class LockKind(StrEnum):
    PAIR = "pair"  # one name from one address
    NAME = "name"  # one name from every address
    ADDRESS = "address"  # one address, names no account has


@dataclass(frozen=True)
class Rule:
    kind: LockKind
    threshold: int  # this many failures lock …
    first_delay: timedelta  # … for this long, doubled by each failure after it …
    longest: timedelta  # … up to this

    def locked_until(self, failures: LoginFailures) -> datetime | None:
        if failures.count < self.threshold or failures.last_at is None:
            return None
        doublings = min(failures.count - self.threshold, 30)  # 2**30 minutes is past any cap already
        return failures.last_at + min(self.longest, self.first_delay * 2 ** doublings)


RULES = {
    LockKind.PAIR: Rule(LockKind.PAIR, 5, timedelta(seconds=30), timedelta(minutes=15)),
    LockKind.NAME: Rule(LockKind.NAME, 10, timedelta(minutes=1), timedelta(minutes=15)),
    LockKind.ADDRESS: Rule(LockKind.ADDRESS, 20, timedelta(minutes=1), timedelta(hours=1)),
}


@dataclass(frozen=True)
class Lockout:
    kind: LockKind
    username: str  # "" for an address lockout
    address: str  # "" for a name lockout
    failures: int
    until: datetime


def networks(text: str) -> tuple[Network, ...]:
    """``10.0.0.0/8, 192.168.1.7`` as networks; ``ValueError`` names a wrong one."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def inside(address: str, nets: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in net for net in nets)


def client_address(peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str:
    """The first address, from the right, that is not one of our trusted proxies."""
    address = peer or "unknown"
    if not inside(address, proxies):
        return address[:64]
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:  # a hop our proxy would never write: stop at the last address it vouched for
            break
        address = str(ip)
        if not inside(address, proxies):
            break
    return address[:64]


def lockouts(groups: Sequence[FailureGroup], now: datetime) -> list[Lockout]:
    """The lockouts in force now, from the failures still counted (``failure_groups``)."""
    found: list[Lockout] = []

    def add(kind: LockKind, username: str, address: str, members: list[FailureGroup]) -> None:
        failures = LoginFailures(sum(g.count for g in members), max(g.last_at for g in members))
        until = RULES[kind].locked_until(failures)
        if until is not None and until > now:
            found.append(Lockout(kind, username, address, failures.count, until))

    by_name: dict[str, list[FailureGroup]] = {}
    by_address: dict[str, list[FailureGroup]] = {}
    for group in groups:
        add(LockKind.PAIR, group.username, group.address, [group])
        by_name.setdefault(group.username, []).append(group)
        if not group.known:
            by_address.setdefault(group.address, []).append(group)
    for name, members in by_name.items():
        add(LockKind.NAME, name, "", members)
    for address, members in by_address.items():
        add(LockKind.ADDRESS, "", address, members)
    return sorted(found, key=lambda lock: lock.until, reverse=True)
