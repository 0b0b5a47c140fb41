"""The core's exception root; adapters translate their own errors into these with ``raise ... from``."""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    """Root of every error the core raises on purpose."""


class ConflictError(CoreError):
    """A concurrent writer changed what this transaction read; the caller retries."""


class TemplateError(CoreError):
    """A template key is unknown or a parameter it needs is missing."""


class ScenarioDeclarationError(CoreError):
    """A scenario refers to a state it does not declare."""


class Reject(CoreError):
    """Input refused by a step: the person is told ``template`` and asked again.

    Raised by scenario actions; the engine keeps the current state, says the
    refusal, then repeats the state's prompt.
    """

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template)
        self.template = template
        self.params = params
