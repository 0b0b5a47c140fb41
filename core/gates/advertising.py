"""A broadcast goes to an account only as the person's advertising consent there allows (``core.advertising``):
where they withdrew it (``/stop``) no broadcast goes, and an advertising broadcast goes only where they gave it.
The router then tries their other channels; with none left the message ends with this reason. Other messages
(receipt answers, payouts, winner notices) are not broadcasts: this gate lets them through."""

from __future__ import annotations

from core.advertising import may_receive
from core.gates import GO, Reason, Ruling, Situation, Verdict
from core.identity import ChannelAccount


class AdvertisingConsentGate:
    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        marketing = situation.facts.marketing
        if situation.message.broadcast_id is None or marketing is None:
            return GO
        consent = marketing.consents.get(account.channel)
        if may_receive(marketing.advertising, consent):
            return GO
        if consent is not None and not consent.given:
            return Ruling(Verdict.SKIP, Reason.NEWS_STOPPED,
                          detail=f"news stopped ({consent.source}, {consent.at:%Y-%m-%d %H:%M} UTC)")
        return Ruling(Verdict.SKIP, Reason.NO_ADVERTISING_CONSENT)
