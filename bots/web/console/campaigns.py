"""Managers' campaigns: the list, a campaign's rules and draws, a form to create one or change its rules, and its
lifecycle (draft -> active -> finished).

Everything goes through ``core.campaigns`` as ``promo campaign …`` does; the form is read into the same written
form a campaign's TOML file holds (``promo.campaign_file.from_mapping``), so the console and the command line
accept exactly the same campaigns and name a wrong field the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from bots.web.console.app import config_of, render, staff_of
from bots.web.console.auth import form_value, requires
from bots.web.console.pages import add_page
from core import campaigns
from core.draws import DrawRefused
from core.ports.staff import StaffRole
from promo.campaign_file import from_mapping, from_toml, to_mapping
from promo.campaigns import CODE, PRIZE_NEEDS, Campaign, CampaignError, CampaignStatus

MANAGERS = (StaffRole.ADMIN, StaffRole.MANAGER)
WHOLE = re.compile(r"^-?\d{1,12}$")
BLANK_ROWS = 2  # empty prize and draw rows a form offers for adding
MAX_ROWS = 200
RULES = ("min_sum", "per_day", "per_hour", "cashback_percent", "cashback_cap_per_receipt", "cashback_cap_per_person",
         "roubles_per_entry", "max_entries_per_receipt", "max_entries_per_person")
FRAUD = ("receipts_per_shop_per_hour", "people_per_fiscal_drive")
DRAW_RULES = ("beacon", "beacon_margin_minutes", "late_receipts")  # docs/draws.md: what makes a draw unsteerable
INTEGERS = {"per_day", "per_hour", "max_entries_per_receipt", "max_entries_per_person", *FRAUD, "min_items",
            "entries_per_item", "quantity", "reserves", "beacon_margin_minutes"}
PRIZE_FIELDS = ("code", "name", "quantity", "value")
DRAW_FIELDS = ("code", "entries_from", "entries_to", "draw_at", "prizes", "reserves")


def _typed(name: str, value: str) -> Any:
    """A form's text as the written form has it: whole numbers where one is expected; anything else is left as
    typed, so the campaign's reader names the field and says what is wrong with it."""
    value = value.strip()
    return int(value) if name in INTEGERS and WHOLE.match(value) else value


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _prize_counts(text: str) -> Any:
    """``tv=1, cert=2`` as ``{"tv": 1, "cert": 2}``; anything else as typed (the reader says what it expects)."""
    counts: dict[str, Any] = {}
    for piece in _lines(text):
        tier, sep, count = piece.partition("=")
        if not sep or not tier.strip():
            return text
        counts[tier.strip()] = _typed("quantity", count)
    return counts or text


def _rows(form: Mapping[str, Any], prefix: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The filled rows of a table of the form (``prizes-0.code``, …), each with its ``index`` in the form."""
    rows = []
    for index in range(MAX_ROWS):
        row = {name: form_value(form, f"{prefix}-{index}.{name}", 500) for name in fields}
        if f"{prefix}-{index}.code" not in form:
            break
        if any(v.strip() for v in row.values()):
            rows.append({**row, "index": index})
    return rows


def written_form(form: Any) -> dict[str, Any]:
    """The form as the mapping a campaign's TOML file holds (``promo.campaign_file``)."""
    data: dict[str, Any] = {name: form_value(form, name, 500).strip() for name in ("code", "title", "time_zone",
                                                                                    "starts_on", "ends_on")}
    data["receipts"] = {name: _typed(name, form_value(form, f"receipts.{name}", 50)) for name in RULES
                        if form_value(form, f"receipts.{name}", 50).strip()}
    data["anti_fraud"] = {name: _typed(name, form_value(form, f"anti_fraud.{name}", 50)) for name in FRAUD
                          if form_value(form, f"anti_fraud.{name}", 50).strip()}
    data["draw_rules"] = {name: _typed(name, form_value(form, f"draw_rules.{name}", 50)) for name in DRAW_RULES
                          if form_value(form, f"draw_rules.{name}", 50).strip()}
    include = _lines(form_value(form, "products.include", 5000))
    if include:
        data["products"] = {"include": include, "exclude": _lines(form_value(form, "products.exclude", 5000)),
                            **{name: _typed(name, form_value(form, f"products.{name}", 50))
                               for name in ("min_items", "entries_per_item")
                               if form_value(form, f"products.{name}", 50).strip()}}
    data["prizes"] = []
    for row in _rows(form, "prizes", PRIZE_FIELDS):
        needs = [n for n in form.getall(f"prizes-{row['index']}.needs", []) if isinstance(n, str)]
        data["prizes"].append({"code": row["code"].strip(), "name": row["name"].strip(),
                               "quantity": _typed("quantity", row["quantity"]),
                               "value": row["value"].strip() or "0", "needs": needs})
    data["draws"] = [{"code": row["code"].strip(), "entries_from": row["entries_from"].strip(),
                      "entries_to": row["entries_to"].strip(), "draw_at": row["draw_at"].strip(),
                      "prizes": _prize_counts(row["prizes"]), "reserves": _typed("reserves", row["reserves"] or "0")}
                     for row in _rows(form, "draws", DRAW_FIELDS)]
    return data


def form_values(campaign: Campaign) -> dict[str, Any]:
    """A stored campaign as the form shows it (its written form, draw times in the campaign's zone)."""
    data = to_mapping(campaign)
    values: dict[str, Any] = {name: data[name] for name in ("code", "title", "time_zone", "starts_on", "ends_on")}
    values.update({f"receipts.{k}": v for k, v in data["receipts"].items()})
    values.update({f"anti_fraud.{k}": v for k, v in data["anti_fraud"].items()})
    values.update({f"draw_rules.{k}": v for k, v in data["draw_rules"].items()})
    products = data.get("products")
    if products:
        values.update({"products.include": "\n".join(products["include"]),
                       "products.exclude": "\n".join(products["exclude"]),
                       "products.min_items": products["min_items"],
                       "products.entries_per_item": products["entries_per_item"]})
    values["prizes"] = [{**p, "needs": list(p["needs"])} for p in data["prizes"]]
    values["draws"] = [{**d, "prizes": ", ".join(f"{tier}={count}" for tier, count in d["prizes"].items()),
                        "draw_at": f"{datetime.fromisoformat(d['draw_at']).astimezone(campaign.zone):%Y-%m-%dT%H:%M}"}
                       for d in data["draws"]]
    return values


def submitted_values(form: Any) -> dict[str, Any]:
    """What was typed, shown again beside the error so nothing has to be typed twice."""
    values: dict[str, Any] = {name: form_value(form, name, 5000) for name in form
                              if isinstance(name, str) and "-" not in name and name != "csrf"}
    values["prizes"] = []
    for row in _rows(form, "prizes", PRIZE_FIELDS):
        values["prizes"].append({**row, "needs": [n for n in form.getall(f"prizes-{row['index']}.needs", [])
                                                  if isinstance(n, str)]})
    values["draws"] = _rows(form, "draws", DRAW_FIELDS)
    return values


def _code(request: web.Request) -> str:
    code = request.match_info["code"]
    if not CODE.match(code):
        raise web.HTTPNotFound(text="no such campaign")
    return code


def _form(request: web.Request, values: Mapping[str, Any], *, editing: str = "", error: str = "",
          field: str = "", status: int = 200) -> web.Response:
    blank = {"needs": []}
    prizes = [*values.get("prizes", []), *([blank] * BLANK_ROWS)]
    draws = [*values.get("draws", []), *([{}] * BLANK_ROWS)]
    return render(request, "campaign_form.html", {
        "values": values, "prizes": prizes, "draws": draws, "needs": sorted(PRIZE_NEEDS), "rules": RULES,
        "fraud": FRAUD, "editing": editing, "error": error, "field": field}, status=status)


@requires(*MANAGERS)
async def campaign_list(request: web.Request) -> web.Response:
    config = config_of(request)
    async with config.store.transaction() as tx:
        found = await campaigns.listing(tx)
        draws = {c.code: await tx.draws.of_campaign(c.code) for c in found}
    return render(request, "campaigns.html", {"campaigns": found, "draws": draws})


@requires(*MANAGERS)
async def campaign_page(request: web.Request) -> web.Response:
    config, code = config_of(request), _code(request)
    async with config.store.transaction() as tx:
        try:
            view = await campaigns.view(tx, code)
        except campaigns.CampaignRefused:
            raise web.HTTPNotFound(text="no such campaign") from None
    return render(request, "campaign.html", {"campaign": view.campaign, "draws": view.draws,
                                             "message": request.query.get("done", "")[:32],
                                             "error": "", "statuses": CampaignStatus})


@requires(*MANAGERS)
async def new_campaign(request: web.Request) -> web.Response:
    return _form(request, {"time_zone": str(config_of(request).zone.key), "receipts.per_day": 5,
                           "receipts.per_hour": 3, "receipts.max_entries_per_receipt": 100,
                           "receipts.max_entries_per_person": 1000, "draw_rules.beacon": "drand",
                           "draw_rules.beacon_margin_minutes": 10, "draw_rules.late_receipts": "next_draw"})


async def _save(request: web.Request, editing: str) -> web.Response:
    config, staff = config_of(request), staff_of(request)
    form = await request.post()
    toml = form_value(form, "toml", 1_000_000)
    try:
        if toml.strip() and not editing:
            campaign = from_toml(toml)
        else:
            data = written_form(form)
            if editing:
                data["code"] = editing
            campaign = from_mapping(data)
    except CampaignError as e:
        return _form(request, submitted_values(form) | ({"code": editing} if editing else {}), editing=editing,
                     error=f"{e.reason}: {e.detail}", field=e.reason, status=400)
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            saved = await (campaigns.edit(tx, campaign, now) if editing else campaigns.create(tx, campaign, now))
            await tx.staff.audit(staff.id, "campaign_edit" if editing else "campaign_create", f"campaign:{saved.code}",
                                 now, {"status": saved.status.value})
    except campaigns.CampaignRefused as e:
        return _form(request, submitted_values(form) | ({"code": editing} if editing else {}), editing=editing,
                     error=str(e), field=e.reason, status=409)
    raise web.HTTPFound(f"{config.mount}/campaigns/{saved.code}?done={'saved' if editing else 'created'}")


@requires(*MANAGERS)
async def create_campaign(request: web.Request) -> web.Response:
    return await _save(request, "")


@requires(*MANAGERS)
async def edit_page(request: web.Request) -> web.Response:
    config, code = config_of(request), _code(request)
    async with config.store.transaction() as tx:
        try:
            campaign = await campaigns.get(tx, code)
        except campaigns.CampaignRefused:
            raise web.HTTPNotFound(text="no such campaign") from None
    return _form(request, form_values(campaign), editing=code)


@requires(*MANAGERS)
async def edit_campaign(request: web.Request) -> web.Response:
    code = _code(request)
    async with config_of(request).store.transaction() as tx:
        if await tx.campaigns.get(code) is None:
            raise web.HTTPNotFound(text="no such campaign")
    return await _save(request, code)


async def _lifecycle(request: web.Request, action: str) -> web.Response:
    config, staff, code = config_of(request), staff_of(request), _code(request)
    now = config.clock()
    try:
        async with config.store.transaction() as tx:
            if action == "activate":
                await campaigns.activate(tx, code, now, config.seal)
            else:
                await campaigns.finish(tx, code, now)
            await tx.staff.audit(staff.id, f"campaign_{action}", f"campaign:{code}", now)
    except (campaigns.CampaignRefused, DrawRefused) as e:  # a draw already past is refused as on the command line
        if e.reason == "unknown":
            raise web.HTTPNotFound(text="no such campaign") from None
        async with config.store.transaction() as tx:
            view = await campaigns.view(tx, code)
        return render(request, "campaign.html", {"campaign": view.campaign, "draws": view.draws, "message": "",
                                                 "error": str(e), "statuses": CampaignStatus}, status=409)
    raise web.HTTPFound(f"{config.mount}/campaigns/{code}?done={'activated' if action == 'activate' else 'finished'}")


@requires(*MANAGERS)
async def activate(request: web.Request) -> web.Response:
    return await _lifecycle(request, "activate")


@requires(*MANAGERS)
async def finish(request: web.Request) -> web.Response:
    return await _lifecycle(request, "finish")


def add_routes(app: web.Application) -> None:
    add_page("/campaigns", "campaigns", *MANAGERS)
    app.router.add_get("/campaigns", campaign_list)
    app.router.add_post("/campaigns", create_campaign)
    app.router.add_get("/campaigns/_new", new_campaign)  # "_" starts no campaign code
    app.router.add_get("/campaigns/{code}", campaign_page)
    app.router.add_get("/campaigns/{code}/edit", edit_page)
    app.router.add_post("/campaigns/{code}/edit", edit_campaign)
    app.router.add_post("/campaigns/{code}/activate", activate)
    app.router.add_post("/campaigns/{code}/finish", finish)
