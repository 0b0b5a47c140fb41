"""A message past its deadline is not sent any more: delivered once and never answered, it is left unreached for
staff; never delivered, unreachable."""

from __future__ import annotations

from core.gates import GO, Reason, Ruling, Situation, Verdict


class Deadline:
    def check(self, situation: Situation) -> Ruling:
        deadline = situation.message.deadline
        if deadline is None or situation.now < deadline:
            return GO
        why = "no answer by the deadline" if situation.escalating else "not delivered by the deadline"
        return Ruling(Verdict.DROP, Reason.DEADLINE, detail=why)
