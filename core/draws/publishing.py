"""Checking a drawn draw as an outsider would, and what is published: the list, the winners, the protocol."""

from __future__ import annotations

import csv
import html
import io
import logging
from dataclasses import dataclass

from core.draws.common import DrawRefused, campaign_of
from core.ports import UnitOfWork
from core.ports.draws import Draw, DrawStatus
from promo import draws as algorithm
from promo.beacon import QUICKNET, chain

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Check:
    verification: algorithm.Verification
    commitment_matches: bool
    winners_match: bool


async def check(tx: UnitOfWork, draw_id: int) -> Check:
    """Recompute a drawn draw from its stored list exactly as an outsider would from the export."""
    draw = await tx.draws.get(draw_id)
    data = await tx.draws.entry_list(draw_id)
    if draw.status is not DrawStatus.DRAWN or data is None:
        raise DrawRefused("not_drawn", f"draw {draw_id} is not drawn yet")
    result = algorithm.verify(data, draw.seed, draw.tiers, draw.algorithm, draw.beacon_randomness)
    stored = [(w.tier, w.position, w.reserve, w.participant) for w in await tx.draws.winners(draw_id)]
    again = [(p.tier, p.position, p.reserve, p.participant) for p in result.picks]
    return Check(result, result.commitment == draw.commitment, stored == again)


async def entry_list(tx: UnitOfWork, draw_id: int) -> bytes:
    """The frozen list, published from the entries' close on (before the beacon round exists)."""
    data = await tx.draws.entry_list(draw_id)
    if data is None:
        raise DrawRefused("not_frozen", f"draw {draw_id}: its list is not frozen yet: it is frozen when its "
                                        f"entries close")
    return data


async def winners_csv(tx: UnitOfWork, draw_id: int) -> str:
    """The winners for publishing: tier, place, reserve or not, pseudonym, status. No names, no phones."""
    draw = await tx.draws.get(draw_id)
    campaign = await campaign_of(tx, draw)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["tier", "prize", "position", "reserve", "participant", "status"])
    for w in await tx.draws.winners(draw_id):
        writer.writerow([w.tier, campaign.tier(w.tier).name, w.position, "yes" if w.reserve else "no", w.participant,
                         w.status.value])
    return out.getvalue()


def verify_command(draw: Draw, file_name: str = "entries.csv") -> str:
    """The one command that checks everything: the list's hash, the seed against the commitment published at
    activation, the beacon's randomness mixed in, the winners and reserves."""
    beacon = f" --beacon {draw.beacon_randomness}" if draw.beacon_randomness else ""
    return (f"promo draw verify {file_name} --seed {draw.seed} --prizes {algorithm.format_tiers(draw.tiers)}"
            f"{beacon} --algorithm {draw.algorithm} --commitment {draw.commitment}")


async def protocol_html(tx: UnitOfWork, draw_id: int) -> str:
    """The printable protocol: commitment, revealed seed, beacon, list hash, winners, and how to check it all."""
    draw = await tx.draws.get(draw_id)
    if draw.status is not DrawStatus.DRAWN:
        raise DrawRefused("not_drawn", f"draw {draw_id} is not drawn yet")
    campaign = await campaign_of(tx, draw)
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(campaign.tier(w.tier).name)}</td><td>{w.position}</td>"
        f"<td>{'резерв' if w.reserve else 'победитель'}</td><td><code>{e(w.participant)}</code></td></tr>"
        for w in await tx.draws.winners(draw_id))
    zone = campaign.zone
    left = "\n".join(f"<tr><td><code>{e(x.participant)}</code></td><td><code>{e(x.reason)}</code></td></tr>"
                     for x in draw.exclusions)
    left_table = "" if not draw.exclusions else (
        "<h2>Исключены решением модератора до закрытия списка</h2>\n"
        f"<table><tr><th>Участник (псевдоним)</th><th>Код причины</th></tr>\n{left}\n</table>\n")
    beacon = "не использовался (акция проводит розыгрыш без маяка)" if draw.beacon_round is None else (
        f"drand, сеть <code>{e(draw.beacon_chain or '')}</code>, раунд {draw.beacon_round} (вышел "
        f"{chain(draw.beacon_chain or QUICKNET.hash).time_of(draw.beacon_round).astimezone(zone):%d.%m.%Y %H:%M:%S}), "
        f"randomness <code>{e(draw.beacon_randomness or '')}</code>, подпись <code>{e(draw.beacon_signature or '')}"
        f"</code>")
    frozen = f"{draw.frozen_at.astimezone(zone):%d.%m.%Y %H:%M:%S}" if draw.frozen_at else ""
    relay_check = "" if draw.beacon_round is None else (
        f"<li>Раунд drand проверяется у любого релея: <code>GET https://api.drand.sh/{e(draw.beacon_chain or '')}"
        f"/public/{draw.beacon_round}</code> (его randomness — SHA-256 подписи).</li>\n")
    return f"""<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><title>Протокол розыгрыша {e(campaign.name)} / {e(draw.code)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}}
code{{word-break:break-all}}table{{border-collapse:collapse}}td,th{{border:1px solid #999;padding:.3em .6em}}
@media print{{body{{margin:0}}}}</style></head><body>
<h1>Протокол розыгрыша</h1>
<p>Акция: <b>{e(campaign.name)}</b> ({e(campaign.code)}), розыгрыш <b>{e(draw.code)}</b>.<br>
Покупки с {draw.entries_from:%d.%m.%Y} по {draw.entries_to:%d.%m.%Y} (часовой пояс {e(zone.key)}).<br>
Проведён {draw.drawn_at.astimezone(zone) if draw.drawn_at else '':%d.%m.%Y %H:%M}.</p>
<table>
<tr><th>Алгоритм</th><td><code>{e(draw.algorithm)}</code></td></tr>
<tr><th>Обязательство (SHA-256 зерна), опубликовано заранее</th><td><code>{e(draw.commitment)}</code></td></tr>
<tr><th>Зерно (раскрыто)</th><td><code>{e(draw.seed)}</code></td></tr>
<tr><th>Публичная случайность</th><td>{beacon}</td></tr>
<tr><th>SHA-256 списка участников</th><td><code>{e(draw.entries_hash or '')}</code></td></tr>
<tr><th>Список закрыт и его SHA-256 опубликован</th><td>{frozen} — по закрытии приёма, до выхода раунда drand</td></tr>
<tr><th>Участников / шансов</th><td>{draw.participants} / {draw.entries}</td></tr>
<tr><th>Исключено решением модератора</th><td>{draw.excluded}</td></tr>
</table>
{left_table}<h2>Победители и резерв</h2>
<table><tr><th>Приз</th><th>Место</th><th></th><th>Участник (псевдоним)</th></tr>
{rows}
</table>
<h2>Как проверить</h2>
<ol><li>SHA-256 раскрытого зерна равен обязательству, опубликованному до розыгрыша.</li>
<li>SHA-256 файла списка участников (entries.csv) равен указанному выше.</li>
{relay_check}<li>Победители пересчитываются из списка, зерна и случайности по алгоритму из docs/draws.md; одна
команда проверяет всё сразу — хеш списка, зерно против обязательства, победителей и резерв:<br>
<code>{e(verify_command(draw))}</code></li></ol>
<p>Файлы: <a href="entries.csv">entries.csv</a> (список участников), <a href="winners.csv">winners.csv</a>
(победители и резерв).</p>
<p>Участник узнаёт свой псевдоним в боте (/draws). Имена и телефоны в протоколе не публикуются.</p>
</body></html>
"""
