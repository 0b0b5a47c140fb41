"""What a person's button press said, in the words they pressed: staff read «Без фото», not ``support:skip``.

A press is kept as its payload only (``[button support:skip]``, or ``/link_approve 12`` for a button that acts
as a command), so the label is found again where the person saw it: among the buttons of the messages the bot
had sent them before the press, the nearest first, on the channel they pressed it in first. A press the page does
not reach back to (an older page, a message not kept) takes a label some template gives that payload, and a
payload no template knows is shown as "button <payload>": a line is never empty.

Only a press is relabelled: a command the person typed stays as typed unless one of the messages before it
offered exactly that command as a button (then they most likely pressed it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bots.web.console.i18n import translator
from core.channels import ChannelDirectory, ChannelProfile
from core.errors import CoreError
from core.ports.timeline import TimelineItem
from core.templates import Templates

PRESS = re.compile(r"\[button (.*)\]", re.DOTALL)  # how ``InboundEvent.describe`` logs a press


@dataclass(frozen=True)
class Pressed:
    label: str
    code: str  # the press as stored: shown to staff on hover, for debugging


@dataclass(frozen=True)
class _Offered:
    item: TimelineItem
    channel: str
    locale: str
    labels: Mapping[str, str]  # payload -> label, as that message showed them


def payload_of(item: TimelineItem) -> tuple[str, bool] | None:
    """The payload an inbound line carries and whether it was surely a press (a command may have been typed)."""
    if item.source != "inbound":
        return None
    body, kind = str(item.data.get("body") or ""), str(item.data.get("kind") or "")
    if kind == "button" and (found := PRESS.fullmatch(body)):
        return found.group(1), True
    if kind == "command":
        return body, False
    return None


def _offered(item: TimelineItem, templates: Templates, channels: ChannelDirectory,
             fallback: ChannelProfile) -> _Offered | None:
    data = item.data
    channel = str(data.get("channel") or "")
    locale = str(data.get("locale") or templates.default_locale)
    # the channel's own profile: it decides which buttons were shown and how their labels were cut to fit
    profile = channels.profile(channel) or fallback
    try:
        rendered = templates.render(str(data["template"]), profile, locale, data.get("params") or {})
    except (CoreError, KeyError, ValueError):
        return None
    labels = {b.payload: b.label for row in rendered.buttons for b in row if b.kind == "callback" and b.payload}
    return _Offered(item, channel, locale, labels)


def _pattern(payload: str) -> re.Pattern[str]:
    """A template payload with ``{param}`` parts as a pattern: ``support:rate:{ticket}:5`` matches any ticket."""
    parts = re.split(r"\{[^{}]*\}", payload)
    return re.compile("(?:.+?)".join(re.escape(part) for part in parts))


def template_label(payload: str, templates: Templates, locale: str) -> str:
    """A label some template gives this payload in ``locale``; "" when none does with words of its own."""
    for key in templates.entries:
        for row in templates.button_specs(key):
            for spec in row:
                written = spec.get("payload")
                label = str(spec.get(locale) or spec.get(templates.default_locale) or "")
                # a label made of data ("{given_name}") says nothing without that data
                if not isinstance(written, str) or not label or "{" in label:
                    continue
                if written == payload or ("{" in written and _pattern(written).fullmatch(payload)):
                    return label
    return ""


def _nearest(payload: str, press: TimelineItem, offered: Sequence[_Offered]) -> _Offered | None:
    """The nearest message before the press that showed this payload, on the press's channel first."""
    earlier = [o for o in offered if o.item.at <= press.at and payload in o.labels]
    earlier.sort(key=lambda o: (o.item.at < press.at, o.item.at), reverse=True)  # strictly earlier ones first
    channel = str(press.data.get("channel") or "")
    return next((o for o in earlier if o.channel == channel), earlier[0] if earlier else None)


def pressed_labels(items: Iterable[TimelineItem], templates: Templates, channels: ChannelDirectory,
                   fallback: ChannelProfile, staff_locale: str = "ru") -> dict[tuple[str, int], Pressed]:
    """Each press among ``items`` (by source and row id) with the label the person pressed."""
    items = list(items)
    presses = [(item, found) for item in items if (found := payload_of(item)) is not None]
    if not presses:
        return {}
    offered = [o for item in items if item.source == "outbound" and "template" in item.data
               and (o := _offered(item, templates, channels, fallback)) is not None]
    button = translator(staff_locale)("button_pressed")
    result: dict[tuple[str, int], Pressed] = {}
    for item, (payload, surely) in presses:
        code = str(item.data.get("body") or "")
        nearest = _nearest(payload, item, offered)
        if nearest is not None:
            result[(item.source, item.row_id)] = Pressed(nearest.labels[payload], code)
            continue
        if not surely:  # a typed command no message offered: shown as typed
            continue
        locale = _person_locale(item, offered, templates.default_locale)
        label = template_label(payload, templates, locale) or f"{button} {payload}".strip()
        result[(item.source, item.row_id)] = Pressed(label, code)
    return result


def _person_locale(press: TimelineItem, offered: Sequence[_Offered], default: str) -> str:
    """The language the person read the bot in around the press (their labels were in it)."""
    before = [o for o in offered if o.item.at <= press.at] or list(offered)
    return max(before, key=lambda o: o.item.at).locale if before else default

