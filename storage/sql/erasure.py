"""Erasing a person's personal data from the core's own tables (people, messages, photos, link audit, payouts).

Features that keep personal data in tables of their own implement ``PersonalData`` in their
repositories (as tickets do) and are listed beside this one in the unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, delete, func, literal, null, or_, select, update

from core.ports.personal_data import ERASED, ErasureSubject
from storage.sql.db import Db
from storage.tables.events import timers
from storage.tables.inbox import inbox
from storage.tables.ledger import payouts
from storage.tables.link_codes import link_attempts, link_codes
from storage.tables.messages import message_log, outbox
from storage.tables.people import channel_accounts, person_merges, persons
from storage.tables.photos import photos
from storage.tables.scenario_states import scenario_states


def blanked(column: Any, subject: ErasureSubject) -> Any:
    """The column's text with every id and address of the subject replaced (``core.ports.personal_data.blank``)."""
    for value in subject.known():
        column = func.replace(column, value, ERASED)
    return column


def tried_blanked(tried: list[str]) -> list[str]:
    """"channel:account" -> "channel:[erased]": the channels and their count (an escalation's round) stay."""
    return [f"{entry.split(':', 1)[0]}:{ERASED}" for entry in tried]


_tried = update(outbox).where(outbox.c.id == bindparam("id_")).values(tried=bindparam("tried_"))


class SqlCorePersonalData:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        await self.db.flush()
        owner = subject.person_id
        changed = 0
        statements = [
            # consent is withdrawn: in no later draw's list nor any broadcast (registered_at stays: who took part)
            update(persons).where(persons.c.id == owner).values(name=None, phone=None, phone_verified=False,
                                                                email=None, email_verified=False, withdrawn_at=now),
            # a merge's details name both people (and what one took from the other): its undo then moves rows only
            update(person_merges).where(or_(person_merges.c.survivor_id == owner,
                                            person_merges.c.absorbed_id == owner),
                                        person_merges.c.details.is_not(None)).values(details=null()),
            # the address becomes a pseudonym: the messenger's id is gone, the row (and its unique key) stays
            update(channel_accounts).where(channel_accounts.c.person_id == owner).values(
                external_id=literal("erased:", String) + cast(channel_accounts.c.id, String),
                display_name="", unreachable_since=now),
            update(message_log).where(message_log.c.person_id == owner).values(body=ERASED, params=None,
                                                                               external_id=None),
            # a delivery error may name the address ("550 anna@…: no such user"); the error itself stays (fallbacks)
            update(outbox).where(outbox.c.person_id == owner).values(
                params={}, external_id=None, last_error=blanked(outbox.c.last_error, subject)),
            delete(photos).where(photos.c.person_id == owner),
            # blanked, not deleted: the step that asked for the erasure still saves its state by version
            update(scenario_states).where(scenario_states.c.person_id == owner).values(data={}),
            delete(timers).where(timers.c.person_id == owner),  # a journey's follow-ups end with the person's data
            update(link_codes).where(link_codes.c.person_id == owner).values(account_external_id=ERASED),
            update(payouts).where(payouts.c.person_id == owner).values(phone=ERASED),
        ]
        if subject.accounts:
            addressed = or_(*[and_(link_attempts.c.channel == channel, link_attempts.c.external_id == external)
                              for channel, external in subject.accounts])
            statements.append(update(link_attempts).where(addressed).values(external_id=ERASED))
            statements.append(update(inbox).where(
                inbox.c.account_id.in_([external for _, external in subject.accounts]),
                inbox.c.processed_at.is_not(None)).values(raw=None, account_id=None))
            # a dead update keeps its body for a retry: erased, it is over (its error may quote the body too)
            statements.append(update(inbox).where(
                inbox.c.account_id.in_([external for _, external in subject.accounts]),
                inbox.c.processed_at.is_(None), inbox.c.dead_at.is_not(None)).values(
                raw=None, account_id=None, last_error=None, dead_at=None, processed_at=now))
        for statement in statements:
            changed += int((await self.db.execute(statement)).rowcount or 0)
        tried = await self.db.rows(select(outbox.c.id, outbox.c.tried).where(outbox.c.person_id == owner,
                                                                               outbox.c.tried.is_not(None)))
        tried = [row for row in tried if row.tried]  # a JSON null is not an SQL NULL
        if tried:
            await self.db.execute(_tried, [{"id_": row.id, "tried_": tried_blanked(list(row.tried))} for row in tried])
        return changed
