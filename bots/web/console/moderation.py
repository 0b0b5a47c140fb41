"""Receipt moderation: receipts no automatic check settled, and flagged duplicates shown beside the original.

Approving or rejecting goes through ``core.moderation`` (the person is told, the ledger moves)
in one unit of work with the audit entry.
"""

from __future__ import annotations

import re

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, requires
from bots.web.console.pages import add_page
from core import draws, moderation
from core.ports import ReceiptStatus
from core.ports.staff import StaffRole

MODERATORS = (StaffRole.ADMIN, StaffRole.SUPPORT, StaffRole.MANAGER)
SHA = re.compile(r"^[0-9a-f]{64}$")
IMAGE_TYPES = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"), (b"RIFF", "image/webp"))


@requires(*MODERATORS)
async def receipts_queue(request: web.Request) -> web.Response:
    config = config_of(request)
    async with config.store.transaction() as tx:
        waiting = await tx.receipts.with_status(ReceiptStatus.MODERATION, limit=200)
        flags = [f for f in await tx.receipts.flags() if f.resolved_at is None][-100:]
    return render(request, "receipts.html", {"waiting": waiting, "flags": list(reversed(flags))})


@requires(*MODERATORS)
async def receipt_page(request: web.Request) -> web.Response:
    config = config_of(request)
    receipt_id = request.match_info["receipt_id"]
    if not receipt_id.isdigit() or len(receipt_id) > 12:
        raise web.HTTPNotFound(text="no such receipt")
    async with config.store.transaction() as tx:
        try:
            receipt = await tx.receipts.get(int(receipt_id))
        except LookupError:
            raise web.HTTPNotFound(text="no such receipt") from None
        owner = await tx.people.get(receipt.person_id)
        claims = []
        for flag in await tx.receipts.flags(receipt.id):
            other = await tx.people.get(flag.person_id)
            claims.append({"flag": flag, "person": other, "receipts": len(await tx.receipts.of_person(other.id)),
                           "accounts": await tx.people.accounts_of(other.id),
                           "excluded": await draws.excluded_from(tx, receipt.campaign, other.id)})
        owner_accounts = await tx.people.accounts_of(owner.id)
    return render(request, "receipt.html", {"receipt": receipt, "owner": owner, "owner_accounts": owner_accounts,
                                            "claims": claims, "undecided": receipt.status in moderation.UNDECIDED,
                                            "channels": config.channels, "reasons": sorted(draws.EXCLUSION_REASONS)})


async def _decide(request: web.Request, approve: bool) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    receipt_id = int(request.match_info["receipt_id"]) if request.match_info["receipt_id"].isdigit() else 0
    reason = form_value(await request.post(), "reason", 200).strip()
    if not approve and not reason:
        raise web.HTTPBadRequest(text="a rejection needs a reason the person will read")
    async with config.store.transaction() as tx:
        try:
            now = config.clock()
            decision = (await moderation.approve(tx, receipt_id, now) if approve
                        else await moderation.reject(tx, receipt_id, reason, now))
        except LookupError:
            raise web.HTTPNotFound(text="no such receipt") from None
        await tx.staff.audit(staff.id, "approve" if approve else "reject", f"receipt:{receipt_id}", now,
                             {"changed": decision.changed, "reason": reason})
    raise web.HTTPFound(f"{config.mount}/receipts/{receipt_id}")


@requires(*MODERATORS)
async def approve(request: web.Request) -> web.Response:
    return await _decide(request, True)


@requires(*MODERATORS)
async def reject(request: web.Request) -> web.Response:
    return await _decide(request, False)


@requires(*MODERATORS)
async def exclude(request: web.Request) -> web.Response:
    """A moderator's decision on a flag: the flagged person takes no part in this receipt's campaign's draws from
    now on, told why; audited. A flag alone never leaves anyone out."""
    config, staff = config_of(request), staff_of(request)
    receipt_id = int(request.match_info["receipt_id"]) if request.match_info["receipt_id"].isdigit() else 0
    form = await request.post()
    person, reason = form_value(form, "person_id", 12), form_value(form, "reason", 32)
    note = " ".join(form_value(form, "note", 300).split())
    if not person.isdigit() or not note:
        raise web.HTTPBadRequest(text="an exclusion needs the person and a note saying why")
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            receipt = await tx.receipts.get(receipt_id)
            if int(person) not in {f.person_id for f in await tx.receipts.flags(receipt_id)}:
                raise web.HTTPBadRequest(text="only a person flagged on this receipt is excluded from here")
            decided = await draws.exclude(tx, receipt.campaign, int(person), reason, note, staff.id, now)
            await tx.staff.audit(staff.id, "exclude_from_draws", f"person:{person}", now, {
                "campaign": decided.campaign, "reason": reason, "note": note, "receipt": receipt_id})
    except LookupError:
        raise web.HTTPNotFound(text="no such receipt") from None
    except draws.DrawRefused as e:
        raise web.HTTPConflict(text=str(e)) from None
    raise web.HTTPFound(f"{config.mount}/receipts/{receipt_id}")


@requires(*MODERATORS)
async def photo(request: web.Request) -> web.Response:
    person_id, sha = request.match_info["person_id"], request.match_info["sha"]
    if not person_id.isdigit() or len(person_id) > 12 or not SHA.match(sha):
        raise web.HTTPNotFound()
    async with config_of(request).store.transaction() as tx:
        data = await tx.photos.get(int(person_id), sha)
    if data is None:
        raise web.HTTPNotFound()
    kind = next((mime for magic, mime in IMAGE_TYPES if data.startswith(magic)), "application/octet-stream")
    return web.Response(body=data, content_type=kind, headers={
        "Content-Security-Policy": "default-src 'none'", "Cache-Control": "private, max-age=3600"})


def add_routes(app: web.Application) -> None:
    add_page("/receipts", "moderation", *MODERATORS)
    app.router.add_get("/receipts", receipts_queue)
    app.router.add_get("/receipts/{receipt_id}", receipt_page)
    app.router.add_post("/receipts/{receipt_id}/approve", approve)
    app.router.add_post("/receipts/{receipt_id}/reject", reject)
    app.router.add_post("/receipts/{receipt_id}/exclude", exclude)
    app.router.add_get("/photos/{person_id}/{sha}", photo)
