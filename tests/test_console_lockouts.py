"""Sign-in throttling as an attacker tries it: made-up names from one address, one name from many, a proxy's
forwarded address (believed only from a trusted proxy), delays that grow, and the admin lifting a lockout."""

from __future__ import annotations

import ipaddress
import re

import pytest
from aiohttp.test_utils import TestClient

from bots.web.console.throttling import client_address, networks
from tests.test_console import PASSWORD, console_client

LOCAL = networks("127.0.0.1")  # the test client connects from here: as if it were our reverse proxy


async def _try(http: TestClient, name: str, password: str, via: str | None = None) -> int:
    headers = {"X-Forwarded-For": via} if via else {}
    answer = await http.post("/console/login", data={"username": name, "password": password}, headers=headers,
                             allow_redirects=False)
    return answer.status


async def _audit(store, action: str) -> list:
    async with store.transaction() as tx:
        return [e for e in await tx.staff.audit_log(limit=1000) if e.action == action]


@pytest.fixture
async def direct(store, clock):
    client = await console_client(store, clock)  # no proxy trusted: the default
    yield client
    await client.close()


@pytest.fixture
async def behind_proxy(store, clock):
    client = await console_client(store, clock, trusted_proxies=LOCAL, staff_networks=networks("10.1.0.0/16"))
    yield client
    await client.close()


async def test_made_up_names_from_one_address_never_lock_out_real_staff(direct: TestClient, store) -> None:
    for n in range(25):
        assert await _try(direct, f"nobody{n}", "guess guess guess") in (401, 429)
    assert await _try(direct, "nobody99", "guess guess guess") == 429  # the scanning address is held …
    assert await _try(direct, "olga", "wrong password!") == 429  # … and a real name answers the same: no name told
    assert await _try(direct, "admin", PASSWORD) == 302  # … but never a real account's correct password
    assert await _try(direct, "olga", PASSWORD) == 302
    assert [e.detail["kind"] for e in await _audit(store, "lockout")][-1] == "address"


async def test_without_a_trusted_proxy_a_forged_forwarded_address_is_ignored(direct: TestClient) -> None:
    for n in range(5):  # a fresh X-Forwarded-For each time would be a fresh key if it were believed
        await _try(direct, "olga", "wrong password!", via=f"198.51.100.{n}")
    assert await _try(direct, "olga", PASSWORD, via="198.51.100.77") == 429


async def test_behind_a_trusted_proxy_each_client_has_its_own_key(behind_proxy: TestClient, clock) -> None:
    for n in range(5):  # the attacker writes whatever it likes on the left: only the proxy's own hop counts
        await _try(behind_proxy, "olga", "wrong password!", via=f"10.9.9.{n}, 203.0.113.9")
    assert await _try(behind_proxy, "olga", PASSWORD, via="1.1.1.1, 203.0.113.9") == 429
    assert await _try(behind_proxy, "olga", PASSWORD, via="198.51.100.7") == 302  # olga herself, elsewhere


async def test_delays_grow_with_every_failure_past_the_limit(behind_proxy: TestClient, clock) -> None:
    via = "203.0.113.9"
    for _ in range(5):
        assert await _try(behind_proxy, "olga", "wrong password!", via=via) == 401
    assert await _try(behind_proxy, "olga", "wrong password!", via=via) == 429
    clock.advance(seconds=31)  # the first lock: 30 s
    assert await _try(behind_proxy, "olga", "wrong password!", via=via) == 401
    clock.advance(seconds=31)  # the next: 60 s
    assert await _try(behind_proxy, "olga", PASSWORD, via=via) == 429
    clock.advance(seconds=30)
    assert await _try(behind_proxy, "olga", PASSWORD, via=via) == 302


async def test_one_name_guessed_from_many_addresses_is_locked_but_not_for_the_office(behind_proxy: TestClient,
                                                                                    store) -> None:
    for n in range(10):
        await _try(behind_proxy, "olga", "wrong password!", via=f"203.0.113.{n}")
    assert await _try(behind_proxy, "olga", PASSWORD, via="198.51.100.7") == 429
    assert await _try(behind_proxy, "olga", "wrong password!", via="10.1.2.3") == 429  # no guessing from there …
    assert await _try(behind_proxy, "olga", PASSWORD, via="10.1.2.3") == 302  # … but staff still get in
    assert "name" in {e.detail["kind"] for e in await _audit(store, "lockout")}


async def test_the_admin_sees_and_lifts_a_lockout_with_csrf_and_it_is_audited(behind_proxy: TestClient,
                                                                              store) -> None:
    for _ in range(5):
        await _try(behind_proxy, "olga", "wrong password!", via="203.0.113.9")
    assert await _try(behind_proxy, "olga", PASSWORD, via="203.0.113.9") == 429
    assert await _try(behind_proxy, "admin", PASSWORD, via="198.51.100.1") == 302
    page = await (await behind_proxy.get("/console/staff")).text()
    assert "203.0.113.9" in page and "olga" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    lift = {"kind": "pair", "username": "olga", "address": "203.0.113.9"}
    refused = await behind_proxy.post("/console/staff/lockouts/lift", data=lift, allow_redirects=False)
    assert refused.status == 403  # no CSRF token: refused
    assert await _try(behind_proxy, "olga", PASSWORD, via="203.0.113.9") == 429
    lifted = await behind_proxy.post("/console/staff/lockouts/lift", data={**lift, "csrf": csrf},
                                     allow_redirects=False)
    assert lifted.status == 302
    assert [e.detail["failures"] for e in await _audit(store, "lift_lockout")] == [5]
    assert len(await _audit(store, "lockout")) >= 1
    assert await _try(behind_proxy, "olga", PASSWORD, via="203.0.113.9") == 302  # signs olga in: a new session
    page = await (await behind_proxy.get("/console/tickets")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    forbidden = await behind_proxy.post("/console/staff/lockouts/lift", data={**lift, "csrf": csrf})
    assert forbidden.status == 403  # support may not lift lockouts


def test_the_forwarded_address_is_read_from_the_right_past_trusted_proxies_only() -> None:
    proxies = networks("10.0.0.0/8, ::1")
    assert client_address("203.0.113.5", ["1.2.3.4"], proxies) == "203.0.113.5"  # not our proxy: ignored
    assert client_address("10.0.0.2", ["1.2.3.4, 198.51.100.7, 10.0.0.9"], proxies) == "198.51.100.7"
    assert client_address("10.0.0.2", ["1.2.3.4", "198.51.100.7"], proxies) == "198.51.100.7"  # two headers
    assert client_address("10.0.0.2", ["junk, 10.0.0.3"], proxies) == "10.0.0.3"  # stops at what it can't read
    assert client_address("10.0.0.2", [], proxies) == "10.0.0.2"
    assert client_address("::1", ["2001:db8::1"], proxies) == "2001:db8::1"
    assert client_address(None, [], ()) == "unknown"
    with pytest.raises(ValueError):
        networks("10.0.0.0/8, not-a-network")
    assert networks("") == () and networks("192.168.1.7") == (ipaddress.ip_network("192.168.1.7/32"),)
