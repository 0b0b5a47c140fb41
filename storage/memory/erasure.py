"""Erasing a person's personal data from the core's own tables, in memory (see ``storage.sql.erasure``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from core.ports.personal_data import ERASED, ErasureSubject, blank
from storage.memory.table import utc

if TYPE_CHECKING:
    from storage.memory import MemoryTables


class MemoryCorePersonalData:
    def __init__(self, tables: MemoryTables) -> None:
        self._t = tables

    async def erase_personal(self, subject: ErasureSubject, now: datetime) -> int:
        t, owner, changed = self._t, subject.person_id, 0
        person = t.people.persons.one(owner)
        t.people.persons.put(owner, replace(person, name=None, phone=None, phone_verified=False, email=None,
                                            email_verified=False, withdrawn_at=utc(now)))  # consent withdrawn
        for merge in t.people.merges.where(lambda m: owner in (m.survivor_id, m.absorbed_id) and m.details):
            t.people.merges.put(merge.id, replace(merge, details=None))  # see storage.sql.erasure
            changed += 1
        for account in t.people.accounts.where(lambda a: a.person_id == owner):
            t.people.accounts.put(account.id, replace(account, external_id=f"erased:{account.id}", display_name="",
                                                      unreachable_since=utc(now)))
            changed += 1
        for row in t.messages.log.where(lambda r: r.person_id == owner):
            t.messages.log.put(row.id, replace(row, body=ERASED, account_id=None))
            changed += 1
        for row in t.messages.outbox.where(lambda r: r.person_id == owner):
            tried = tuple(f"{e.split(':', 1)[0]}:{ERASED}" for e in row.tried)
            t.messages.outbox.put(row.id, replace(row, params={}, account_id=None, tried=tried,
                                                  last_error=blank(row.last_error, subject)))
            changed += 1
        for photo in t.photos.where(lambda p: p.person_id == owner):
            t.photos.delete(photo.id)
            changed += 1
        for key, state in [(k, s) for k, s in t.states.items() if k[0] == owner]:
            t.states.put(key, replace(state, data={}))  # blanked, not deleted: see storage.sql.erasure
        for timer in t.events.timers.where(lambda r: r.person_id == owner):
            t.events.timers.delete(timer.id)  # a journey's follow-ups end with the person's data
            changed += 1
        for code in t.link_codes.codes.where(lambda c: c.person_id == owner):
            t.link_codes.codes.put(code.id, replace(code, account_id=ERASED))
        for payout in t.ledger.payouts.where(lambda p: p.person_id == owner):
            t.ledger.payouts.put(payout.id, replace(payout, phone=ERASED))
        addresses = set(subject.accounts)
        for attempt in t.link_codes.attempts.where(lambda a: (a.channel, a.external_id) in addresses):
            t.link_codes.attempts.put(attempt.id, replace(attempt, external_id=ERASED))
        externals = {external for _, external in addresses}
        for update in t.inbox.updates.where(lambda u: u.account_id in externals and u.processed_at is not None):
            t.inbox.updates.put(update.id, replace(update, raw=None, account_id=None))
        for update in t.inbox.updates.where(lambda u: u.account_id in externals and u.dead_at is not None
                                            and u.processed_at is None):  # see storage.sql.erasure
            t.inbox.updates.put(update.id, replace(update, raw=None, account_id=None, last_error=None, dead_at=None,
                                                   processed_at=utc(now)))
        return changed + 1
