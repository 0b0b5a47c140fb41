"""Runs declared scenarios: what an event triggers, and how a scenario moves from state to state.

Order of precedence for one event: something the channel could not read is answered as
such; a command (or the words of one) starts its scenario unless the current state
declared that exact command itself; otherwise the current state's transitions; then
what an idle person's input starts. Input a state does not accept gets a short "not
that" and the state's question again, so the person always knows what is awaited
and that /cancel leaves.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.context import Context
from core.errors import Reject, ScenarioDeclarationError
from core.events import EventKind, InboundEvent, SharedContact
from core.machine import Catalog, Scenario, State, Transition
from core.ports import ScenarioState
from core.ports.photos import MAX_KEPT_PHOTO

KEPT = "kept"  # onboarding's memory of what the person sent before registering
MAX_KEPT = 5


def keep(event: InboundEvent) -> dict[str, Any]:
    """What is kept of an event for later (the photo by reference: its bytes stay in ``tx.photos``)."""
    return {"kind": event.kind.value, "text": event.text[:4096], "command": event.command, "args": event.args,
            "payload": event.payload, "qr_texts": list(event.qr_texts) if event.qr_texts is not None else None,
            "attachment_error": event.attachment_error, "photo_ref": event.photo_ref,
            "contact": [event.contact.phone, event.contact.is_own] if event.contact else None}


async def keep_photo(ctx: Context) -> InboundEvent:
    """The event with its photo stored for moderation (bounded in size), referred to by its hash."""
    event = ctx.event
    if event.photo is None or event.photo_ref is not None or len(event.photo) > MAX_KEPT_PHOTO:
        return event
    return replace(event, photo_ref=await ctx.tx.photos.put(ctx.person.id, event.photo, ctx.now))


def unkeep(kept: dict[str, Any], source: InboundEvent) -> InboundEvent:
    qr_texts = kept.get("qr_texts")
    contact = kept.get("contact")
    return InboundEvent(source.channel, source.account_id, EventKind(kept["kind"]), text=kept.get("text", ""),
                        command=kept.get("command", ""), args=kept.get("args", ""), payload=kept.get("payload", ""),
                        qr_texts=tuple(qr_texts) if qr_texts is not None else None,
                        attachment_error=kept.get("attachment_error"), photo_ref=kept.get("photo_ref"),
                        contact=SharedContact(contact[0], contact[1]) if contact else None, replayed=True)


class Dispatcher:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def begin_named(self, ctx: Context, scenario: str, apply_event: bool = False) -> None:
        await self.begin(ctx, self.catalog[scenario], apply_event)

    async def begin_onboarding(self, ctx: Context) -> None:
        await self.begin(ctx, self.catalog.onboarding)

    async def route(self, ctx: Context) -> None:
        event = ctx.event
        if event.kind is EventKind.UNSUPPORTED:
            ctx.say("common.unsupported")
            self.reprompt(ctx)
            return
        named = self._named(event)
        if named is not None and named.commands and event.kind is EventKind.TEXT:
            ctx.event = event = replace(event, kind=EventKind.COMMAND, command=named.commands[0], args="")
        transition = self._transition(ctx)
        if named is not None and (transition is None or transition.payload is None):
            await self.begin(ctx, named)
            return
        starter = self._starter(ctx)
        if starter is not None and starter.kept_until_registered and not ctx.person.is_registered:
            await self._keep_until_registered(ctx)  # a receipt is a receipt, whatever step registration is at
            return
        if transition is not None:
            await self.fire(ctx, self.catalog[ctx.current.scenario], transition)  # type: ignore[union-attr]
            return
        if event.kind is EventKind.COMMAND:
            ctx.say("common.unknown_command", command=event.command)
            self.reprompt(ctx)
        elif ctx.current is not None:
            ctx.say("common.stale_button" if event.kind is EventKind.BUTTON else "common.unexpected")
            self.reprompt(ctx)
        elif not ctx.person.is_registered:
            await self.begin(ctx, self.catalog.onboarding)
        elif starter is not None:
            await self.begin(ctx, starter, apply_event=True)
        elif event.kind is EventKind.BUTTON:
            ctx.say("common.stale_button")
            ctx.say("common.menu")
        else:
            ctx.say("common.menu")

    def _transition(self, ctx: Context) -> Transition | None:
        if ctx.current is None:
            return None
        state = self.catalog[ctx.current.scenario].state(ctx.current.state)
        return next((t for t in state.transitions if t.matches(ctx)), None)

    def _named(self, event: InboundEvent) -> Scenario | None:
        if event.kind is EventKind.COMMAND:
            return self.catalog.by_command.get(event.command)
        if event.kind is EventKind.TEXT:
            return self.catalog.named_by(event.text)
        return None

    def _starter(self, ctx: Context) -> Scenario | None:
        return next((s for s in self.catalog if ctx.event.kind in s.starts_on
                     and (s.starts_when is None or s.starts_when(ctx))), None)

    async def _keep_until_registered(self, ctx: Context) -> None:
        """A receipt sent before registering is kept and applied once registration completes."""
        onboarding = self.catalog.onboarding
        starting = ctx.current is None or ctx.current.scenario != onboarding.name
        mark = len(ctx.replies)
        if starting:
            await self.begin(ctx, onboarding)
        kept: list[dict[str, Any]] = ctx.data.setdefault(KEPT, [])
        if len(kept) >= MAX_KEPT:
            ctx.say("registration.too_many_kept", limit=MAX_KEPT)
        else:
            kept.append(keep(await keep_photo(ctx)))
            ctx.say("registration.receipt_kept")
        ctx.replies.insert(mark, ctx.replies.pop())  # said before the first question
        if not starting:
            self.reprompt(ctx)

    # running scenarios --------------------------------------------------------------------

    async def begin(self, ctx: Context, scenario: Scenario, apply_event: bool = False) -> None:
        if scenario.needs_registration and not ctx.person.is_registered:
            ctx.say("common.register_first")
            if ctx.current is None or ctx.current.scenario != self.catalog.onboarding.name:
                await self.begin(ctx, self.catalog.onboarding)
            else:
                self.reprompt(ctx)
            return
        if scenario.aside:
            await self._aside(ctx, scenario)
            return
        ctx.starts += 1
        state = ctx.states.get(scenario.name) or ScenarioState(ctx.person.id, scenario.name, scenario.initial[0], True)
        kept = state.data.get(KEPT) if scenario.onboarding else None
        state.data = {KEPT: kept} if kept else {}
        ctx.activate(state)
        first = (await scenario.entry(ctx) if scenario.entry else None) or scenario.initial[0]
        if first not in scenario.initial:
            raise ScenarioDeclarationError(f"{scenario.name}: entry chose undeclared {first!r}")
        event = ctx.event
        if scenario.takes_args and event.kind is EventKind.COMMAND and event.args:
            ctx.event = replace(event, kind=EventKind.TEXT, text=event.args, command="", args="")
            apply_event = True
        await self._enter(ctx, scenario, first, announce=not apply_event)
        if apply_event and ctx.current is state:
            await self.route(ctx)

    async def _aside(self, ctx: Context, scenario: Scenario) -> None:
        """Answer without disturbing what runs: then ask its question again (unless the answer changed it)."""
        running, starts = ctx.current, ctx.starts
        ctx.aside_data = {}
        try:
            if scenario.entry is not None:
                await scenario.entry(ctx)
            state = scenario.states[0]
            if state.on_enter is not None:
                await state.on_enter(ctx)
            if state.prompt:
                ctx.say(state.prompt, **ctx.aside_data)
        finally:
            ctx.aside_data = None
        if running is not None and ctx.current is running and ctx.starts == starts:
            self.reprompt(ctx)

    async def _enter(self, ctx: Context, scenario: Scenario, name: str, announce: bool = True) -> None:
        current = ctx.current
        assert current is not None
        state: State = scenario.state(name)
        current.state = name
        ctx.touch(current)
        if state.on_enter is not None:
            await state.on_enter(ctx)
        if ctx.current is not current:  # the step began another scenario
            return
        if state.prompt and announce:
            ctx.say(state.prompt, **current.data)
        if state.final:
            ctx.abandon()
            if scenario.onboarding and ctx.person.is_registered:
                await self._replay_kept(ctx, current.data.pop(KEPT, None) or [])

    async def _replay_kept(self, ctx: Context, kept: list[dict[str, Any]]) -> None:
        """Registration is done: what the person sent before is applied now, in order."""
        source = ctx.event
        for item in kept:
            ctx.event = unkeep(item, source)
            await self.route(ctx)
        ctx.event = source

    async def fire(self, ctx: Context, scenario: Scenario, transition: Transition) -> None:
        try:
            chosen = await transition.action(ctx) if transition.action else None
        except Reject as refusal:
            ctx.say(refusal.template, **refusal.params)
            self.reprompt(ctx)
            return
        if chosen is not None and chosen not in transition.targets():
            raise ScenarioDeclarationError(f"{scenario.name}: action chose undeclared {chosen!r}")
        target = chosen or transition.to
        if target is not None and ctx.current is not None and ctx.current.scenario == scenario.name:
            await self._enter(ctx, scenario, target)

    def reprompt(self, ctx: Context) -> None:
        if ctx.current is None:
            if ctx.person.is_registered:
                ctx.say("common.menu")
            return
        state = self.catalog[ctx.current.scenario].state(ctx.current.state)
        if state.prompt:
            ctx.say(state.prompt, **ctx.current.data)
