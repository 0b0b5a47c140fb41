"""One rule for what support may see of a person's contacts: phones and e-mails masked, wherever they appear.

A masked phone keeps its first digits and the last two (``+7916***67``), an e-mail its first letter and
domain (``a***@mail.ru``): enough to tell a caller "the number ending in 67", not enough to call. The rule
is applied to every text support reads (profile, timeline, ticket, exports), not to chosen fields: a
person types their number into a message, and the bot repeats it in a confirmation.
"""

from __future__ import annotations

import re
from typing import Any

# +7 916 123-45-67, 8 (916) 123-45-67, 89161234567, +79161234567, 7-916-123-45-67; and +<country> numbers.
# Never inside a longer run of digits or a word: a 16-digit fiscal drive number or an id is left alone.
_PHONE = re.compile(r"(?<![\w+])(?:"
                    r"(?:\+7|8|7)[\s\-.]*\(?\d{3}\)?[\s\-.]*\d{3}[\s\-.]*\d{2}[\s\-.]*\d{2}"
                    r"|\+\d(?:[\s\-.()]*\d){7,14}"
                    r")(?![\w])")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
CONTACT_KEYS = frozenset({"phone", "email", "contact", "address_value"})  # whole values that are a contact


def mask(value: str | None, keep: int = 2) -> str:
    """A phone or e-mail shown masked; "—" for none."""
    if not value:
        return "—"
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return value[: len(value) - 7] + "***" + value[-keep:] if len(value) > 7 else "***"


def _masked_phone(found: re.Match[str]) -> str:
    digits = "".join(ch for ch in found.group(0) if ch.isdigit())
    return mask(("+" if found.group(0).startswith("+") else "") + digits)


def redact_text(text: str) -> str:
    """Every phone and e-mail in a text, masked."""
    return _PHONE.sub(_masked_phone, _EMAIL.sub(lambda found: mask(found.group(0)), text))


def redact_document(value: Any, key: str = "") -> Any:
    """A copy of a JSON-like document with every string redacted, and contact fields masked whole."""
    if isinstance(value, dict):
        return {k: redact_document(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_document(v, key) for v in value]
    if isinstance(value, str):
        return mask(value) if key in CONTACT_KEYS and value else redact_text(value)
    if isinstance(value, int) and not isinstance(value, bool) and key in CONTACT_KEYS:
        return mask(str(value))
    return value
