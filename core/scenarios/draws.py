"""``/draws``: the person's chances in each campaign they entered, the next draw's date and its commitment (a
campaign that draws nothing says so, and names no chances); their own pseudonym in each draw to come; once a
list is frozen its hash and where it is published; after a draw, what it gave them and the link to its protocol.

The commitment (SHA-256 of the draw's secret seed) is shown before the draw, so anyone can
later check that the seed revealed in the protocol is the one fixed in advance; the pseudonym
lets the person find themselves in the published list (``docs/draws.md``).
"""

from __future__ import annotations

from core import campaigns
from core import draws as draws_core
from core.context import Context
from core.machine import Scenario, State
from core.moments import shown_time
from core.ports import ReceiptStatus
from core.ports.draws import Draw, DrawStatus, Winner, WinnerStatus
from promo import draws as algorithm
from promo.beacon import chain
from promo.campaigns import Campaign

# plain text: it is a parameter of the template, and parameters are escaped for HTML channels
LINES = {
    "ru": {"campaign": "«{title}»\nВаши шансы: {entries}{pending}",
           "pending": " (ещё {count} — после проверки чеков)",
           "next": "Следующий розыгрыш: {when}\nОбязательство (SHA-256 зерна): {commitment}",
           "beacon": "В зерно войдёт публичный раунд drand №{round} ({when} UTC)",
           "no_next": "Розыгрышей больше не запланировано.",
           "no_draw": "«{title}»\nВ этой акции нет розыгрыша: покупки приносят кешбэк.",
           "excluded": "«{title}»\nВы исключены из розыгрышей этой акции решением модератора: {reason}. "
                       "Вопросы — в поддержку: /support",
           "pseudonym": "Ваш псевдоним в розыгрыше {code}: {pseudonym}",
           "later": "Розыгрыш {code} ({when}): ваш псевдоним {pseudonym}",
           "open": "Список участников закроется {when}",
           "frozen": "Список участников закрыт {when}, его SHA-256: {hash}\nНайдите себя в нём: {link}",
           "drawn": "Розыгрыш {code} проведён {when}: {outcome}\nВаш псевдоним: {pseudonym}\n"
                    "Протокол, список и победители: {link}",
           "won": "вы выиграли «{prize}»", "won_open": "вы выиграли «{prize}»! Подтвердите: /prize",
           "reserve": "вы в резерве приза «{prize}» (место {position})",
           "passed": "вы выиграли «{prize}», приз перешёл следующему в резерве",
           "nothing": "в этот раз без выигрыша"},
    "en": {"campaign": "“{title}”\nYour chances: {entries}{pending}",
           "pending": " ({count} more once receipts are checked)",
           "next": "Next draw: {when}\nCommitment (SHA-256 of the seed): {commitment}",
           "beacon": "The seed will be mixed with public drand round #{round} ({when} UTC)",
           "no_next": "No more draws are scheduled.",
           "no_draw": "“{title}”\nThis promotion has no draw: purchases earn cashback.",
           "excluded": "“{title}”\nA moderator excluded you from this promotion's draws: {reason}. "
                       "Questions: /support",
           "pseudonym": "Your pseudonym in draw {code}: {pseudonym}",
           "later": "Draw {code} ({when}): your pseudonym {pseudonym}",
           "open": "The entry list closes {when}",
           "frozen": "The entry list closed {when}, its SHA-256: {hash}\nFind yourself in it: {link}",
           "drawn": "Draw {code} was held {when}: {outcome}\nYour pseudonym: {pseudonym}\n"
                    "Protocol, list and winners: {link}",
           "won": "you won “{prize}”", "won_open": "you won “{prize}”! Confirm it: /prize",
           "reserve": "you are reserve for “{prize}” (place {position})",
           "passed": "you won “{prize}”; it went to the next reserve",
           "nothing": "no prize this time"},
}


def _pseudonym(draw: Draw, person_id: int) -> str:
    """The person's name in the draw's list, as the list is built (``core.draws.freezing``)."""
    return algorithm.pseudonym(bytes.fromhex(draw.participant_key), person_id)


def _link(ctx: Context, draw: Draw, file: str) -> str:
    """Where the draw's files are published for everyone (``bots/web/draws_public.py``)."""
    return f"{ctx.services.web_url.rstrip('/')}/draws/{draw.id}/{file}"


def _outcome(words: dict[str, str], campaign: Campaign, win: Winner | None) -> str:
    if win is None or win.status is WinnerStatus.SKIPPED:
        return words["nothing"]
    prize = campaign.tier(win.tier).name
    if win.status is WinnerStatus.RESERVE:
        return words["reserve"].format(prize=prize, position=win.position)
    if win.status in (WinnerStatus.DECLINED, WinnerStatus.EXPIRED, WinnerStatus.PASSED):
        return words["passed"].format(prize=prize)
    waiting = win.status in (WinnerStatus.NOTIFIED, WinnerStatus.UNREACHED)  # unreached, until now: /prize opens it
    return words["won_open" if waiting else "won"].format(prize=prize)


def _draw_lines(ctx: Context, words: dict[str, str], campaign: Campaign, draws: list[Draw],
                wins: dict[int, Winner]) -> list[str]:
    """What each drawn draw gave the person, with its protocol; then their pseudonym in each draw to come and,
    once the next one's list is frozen, its hash and where to find it."""
    locale, lines = ctx.person.locale, []
    for draw in draws:
        if draw.status is DrawStatus.DRAWN and draw.drawn_at is not None:
            lines.append(words["drawn"].format(
                code=draw.code, when=shown_time(draw.drawn_at, campaign.zone, locale),
                outcome=_outcome(words, campaign, wins.get(draw.id)), pseudonym=_pseudonym(draw, ctx.person.id),
                link=_link(ctx, draw, "protocol.html")))
    upcoming = [d for d in draws if d.status is DrawStatus.SCHEDULED]
    if not upcoming:
        return [*lines, words["no_next"]]
    draw = upcoming[0]
    lines.append(words["next"].format(when=shown_time(draw.draw_at, campaign.zone, locale),
                                      commitment=draw.commitment))
    if draw.beacon_round is not None and draw.beacon_chain:
        moment = chain(draw.beacon_chain).time_of(draw.beacon_round)
        lines.append(words["beacon"].format(round=draw.beacon_round, when=f"{moment:%d.%m.%Y %H:%M}"))
    lines.append(words["pseudonym"].format(code=draw.code, pseudonym=_pseudonym(draw, ctx.person.id)))
    if draw.frozen_at is not None:
        lines.append(words["frozen"].format(when=shown_time(draw.frozen_at, campaign.zone, locale),
                                            hash=draw.entries_hash, link=_link(ctx, draw, "entries.csv")))
    else:
        close = campaign.days(draw.entries_from, draw.entries_to)[1]
        lines.append(words["open"].format(when=shown_time(close, campaign.zone, locale)))
    lines += [words["later"].format(code=d.code, when=shown_time(d.draw_at, campaign.zone, locale),
                                    pseudonym=_pseudonym(d, ctx.person.id)) for d in upcoming[1:]]
    return lines


async def summarise(ctx: Context) -> None:
    await campaigns.ensure_seeded(ctx.tx, ctx.services.campaign, ctx.now)
    current = await campaigns.current_of(ctx.tx, ctx.person.id, ctx.now)
    codes = list(dict.fromkeys([*([current.code] if current else []),
                                *(m.campaign for m in await ctx.tx.campaigns.memberships(ctx.person.id))]))
    words = LINES.get(ctx.person.locale, LINES["ru"])
    receipts = await ctx.tx.receipts.of_person(ctx.person.id)
    wins = {w.draw_id: w for w in await ctx.tx.draws.wins_of(ctx.person.id)}
    blocks, committed = [], False
    for code in codes:
        campaign = await ctx.tx.campaigns.get(code)
        if campaign is None:
            continue
        if not campaign.has_draw:  # entries of a campaign that draws nothing are no chances: none are shown
            blocks.append(words["no_draw"].format(title=campaign.name))
            continue
        excluded = await draws_core.excluded_from(ctx.tx, code, ctx.person.id)
        if excluded is not None:  # no chances to promise: they are in none of its draws from now on
            reason = draws_core.reason_text(excluded.reason, ctx.person.locale)
            blocks.append(words["excluded"].format(title=campaign.name, reason=reason))
            continue
        mine = [r for r in receipts if r.campaign == code]
        counted = sum(r.entries for r in mine if r.status is ReceiptStatus.ACCEPTED)
        waiting = sum(r.entries for r in mine if r.status in (ReceiptStatus.VERIFYING, ReceiptStatus.MODERATION))
        pending = words["pending"].format(count=waiting) if waiting else ""
        lines = [words["campaign"].format(title=campaign.name, entries=counted, pending=pending)]
        draws = await ctx.tx.draws.of_campaign(code)
        committed = committed or any(d.status is DrawStatus.SCHEDULED for d in draws)
        lines += _draw_lines(ctx, words, campaign, draws, wins)
        blocks.append("\n".join(lines))
    ctx.data["summary"] = "\n\n".join(blocks)
    ctx.data["has_any"] = "1" if blocks else ""
    ctx.data["commitment"] = "1" if committed else ""  # what a commitment is, said only when one is shown


async def answer(ctx: Context) -> None:
    await summarise(ctx)
    ctx.say("draws.summary" if ctx.data["has_any"] else "draws.none", summary=ctx.data["summary"],
            commitment=ctx.data["commitment"])


DRAWS = Scenario(
    name="draws", commands=("/draws",), words=("розыгрыш", "розыгрыши", "мои шансы", "draws", "my chances"),
    aside=True, initial=("shown",), states=(State("shown", on_enter=answer, final=True),),
)
