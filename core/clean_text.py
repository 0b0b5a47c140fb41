"""Text from outside made storable: what a channel hands over becomes valid Unicode where it enters the core.

JSON may carry any UTF-16 code unit as an escape: ``"\\ud800"`` is valid JSON, and Python's
``json`` turns it into a ``str`` holding a lone surrogate, which no UTF-8 database, log or
messenger takes. Such an update would be stored and acknowledged, then fail the same way at
every attempt. PostgreSQL's text refuses NUL for the same reason. So the core's inbound types
(``NewUpdate``, ``InboundEvent``) pass every text, name and payload through ``storable`` when
they are built: each channel gets it by building them, none carries a copy of its own.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"  # Unicode's own "a character was here that could not be kept"


def storable(text: str) -> str:
    """``text`` with a surrogate pair (two code points) joined into its character, and a lone surrogate
    or a NUL replaced by U+FFFD; valid text comes back as it is."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # UTF-16 is where surrogates mean something: written out code unit by code unit and read back,
            # a high one followed by a low one is the character they encode, and any other is an error
            text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("\x00", REPLACEMENT)
