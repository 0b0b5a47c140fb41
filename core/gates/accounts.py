"""Accounts the router may not use: a channel this platform does not run, a channel down as a whole (measured, or
marked by a manager: ``core.health``), an account the person cannot be reached on (they blocked the bot, a letter
bounced, they unsubscribed), a number or address never proved to be theirs, a channel that may write only within a
while of the person's last message (a session window) when that while is over and the message has no approved
template there."""

from __future__ import annotations

from datetime import timedelta

from core.gates import GO, AccountGate, Reason, Ruling, Situation, Verdict
from core.identity import ChannelAccount


class ChannelRunning:
    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        if account.channel in situation.profiles:
            return GO
        return Ruling(Verdict.SKIP, Reason.CHANNEL_NOT_RUNNING)


class ChannelUp:
    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        why = situation.down.get(account.channel)
        if why is None:
            return GO
        return Ruling(Verdict.SKIP, Reason.CHANNEL_DOWN, detail=f"channel down: {why}")


class Reachable:
    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        if account.unreachable_since is None:
            return GO
        why = account.unreachable_reason or "unreachable"
        since = f"{account.unreachable_since:%Y-%m-%d %H:%M} UTC"
        return Ruling(Verdict.SKIP, Reason.UNREACHABLE, detail=f"{why} (since {since})")


class Proved:
    """Typed numbers and addresses may be someone else's: never written to unproven."""

    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        profile = situation.profiles.get(account.channel)
        if profile is None or account.verified or not profile.verified_only:
            return GO
        return Ruling(Verdict.SKIP, Reason.NOT_VERIFIED)


class SessionWindow:
    """Outside its window a channel sends only its approved templates (paid): others go to the next channel."""

    def check(self, situation: Situation, account: ChannelAccount) -> Ruling:
        profile = situation.profiles.get(account.channel)
        if profile is None or profile.session_window is None:
            return GO
        last = account.last_seen_at
        if last is not None and situation.now - last < profile.session_window:
            return GO
        template = situation.message.template
        if template in profile.window_templates:
            return GO
        ago = "never wrote" if last is None else f"last wrote {_ago(situation.now - last)} ago"
        return Ruling(Verdict.SKIP, Reason.SESSION_WINDOW,
                      detail=f"session window closed ({ago}); no approved template for {template}")


def _ago(gap: timedelta) -> str:
    hours = int(gap.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


ACCOUNT_GATES: tuple[AccountGate, ...] = (ChannelRunning(), ChannelUp(), Reachable(), Proved(), SessionWindow())
