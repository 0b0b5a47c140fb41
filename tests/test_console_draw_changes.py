"""Issue 22 §5.5 on the console's draw page (managers): a scheduled draw moved or cancelled with a reason, audited,
while its entries are open, refused plainly once its list is frozen; each winner links to the person's page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from core.ports.draws import DrawStatus, NewWinner, WinnerStatus
from tests.test_console_manager import _create_and_activate, _login, http  # noqa: F401  (http: the fixture)


async def test_a_manager_moves_a_draw_with_a_reason_and_cannot_once_its_list_closes(http: TestClient, store,  # noqa: F811
                                                                                   clock) -> None:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert f'action="/console/draws/{draw.id}/move"' in page and f'action="/console/draws/{draw.id}/cancel"' in page

    unsaid = await http.post(f"/console/draws/{draw.id}/move", data={"csrf": csrf, "draw_at": "2023-09-20T18:00",
                                                                      "reason": " "})
    assert unsaid.status == 409 and "say why" in await unsaid.text()
    moved = await http.post(f"/console/draws/{draw.id}/move", data={
        "csrf": csrf, "draw_at": "2023-09-20T18:00", "reason": "призы задерживаются"}, allow_redirects=False)
    assert moved.status == 302, await moved.text()
    async with store.transaction() as tx:
        after = await tx.draws.get(draw.id)
        audit = await tx.staff.audit_log(target=f"draw:{draw.id}")
    assert after.draw_at == datetime(2023, 9, 20, 15, 0, tzinfo=UTC)  # 18:00 in Moscow
    assert audit[0].action == "draw_moved" and audit[0].detail["reason"] == "призы задерживаются"
    assert audit[0].staff_id is not None
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert "призы задерживаются" in page and "20.09.2023 18:00" in page

    clock.now = datetime(2023, 9, 15, 0, 1, tzinfo=UTC)  # the entries closed at 14.09 24:00 Moscow
    csrf = await _login(http, "ivan")
    late = await http.post(f"/console/draws/{draw.id}/cancel", data={"csrf": csrf, "reason": "поздно"})
    assert late.status == 409 and "held as announced" in await late.text()
    async with store.transaction() as tx:
        assert (await tx.draws.get(draw.id)).status is DrawStatus.SCHEDULED
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert f'action="/console/draws/{draw.id}/move"' not in page


async def test_a_cancelled_draw_says_why_and_its_winners_link_to_their_people(http: TestClient, store,  # noqa: F811
                                                                              clock) -> None:
    clock.now = datetime(2023, 9, 10, 9, 0, tzinfo=UTC)
    csrf = await _login(http, "ivan")
    await _create_and_activate(http, csrf)
    async with store.transaction() as tx:
        (draw,) = await tx.draws.of_campaign("autumn")
    cancelled = await http.post(f"/console/draws/{draw.id}/cancel", data={"csrf": csrf, "reason": "акция сокращена"},
                                allow_redirects=False)
    assert cancelled.status == 302, await cancelled.text()
    page = await (await http.get(cancelled.headers["Location"])).text()
    assert "отменён — акция сокращена" in page and "Розыгрыш отменён; причина записана" in page
    async with store.transaction() as tx:
        assert (await tx.draws.get(draw.id)).status is DrawStatus.CANCELLED
        person = await tx.people.create("ru", clock())
        await tx.draws.save(replace(await tx.draws.get(draw.id), status=DrawStatus.DRAWN,
                                    drawn_at=clock() + timedelta(minutes=1)))
        await tx.draws.add_winners(draw.id, [NewWinner(person.id, "p-1", draw.tiers[0].tier, 1, False,
                                                       WinnerStatus.NOTIFIED, None)], clock())
    page = await (await http.get(f"/console/draws/{draw.id}")).text()
    assert f'<a href="/console/people/{person.id}">#{person.id}</a>' in page
