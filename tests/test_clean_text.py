"""What a channel hands the core is valid text: surrogates joined or replaced, NUL replaced, valid text untouched."""

from __future__ import annotations

import json

from core.clean_text import storable
from core.events import EventKind, InboundEvent, SharedContact
from core.ports import NewUpdate


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    for lone in ("\ud800", "\udfff", "\udc00\ud800"):
        text = json.loads(json.dumps(f"до {lone} после"))  # valid JSON: the escape is how it comes
        assert storable(text) == "до " + "\ufffd" * len(lone) + " после"
        storable(text).encode("utf-8")


def test_a_valid_surrogate_pair_becomes_its_character() -> None:
    pair = "\ud83d\ude00"  # two code points, as a decoder that does not join them leaves them
    assert storable(f"a{pair}b") == "a\U0001f600b"
    assert storable(f"\ud800{pair}\udc00") == "\ufffd\U0001f600\ufffd"  # a lone one beside a pair


def test_valid_text_is_kept_and_nul_is_replaced() -> None:
    for text in ("", "hello", "Привет, 😀 ‮ ﻿", "line\nbreak\ttab"):
        assert storable(text) == text
    assert storable("a\x00b") == "a\ufffdb"


def test_an_event_is_storable_whatever_the_channel_put_in_it() -> None:
    event = InboundEvent.from_text("telegram", "1\ud800", "/start x\ud800y", display_name="Анна\udc00",
                                   locale_hint="ru\x00", update_id="u\ud800")
    assert (event.kind, event.command, event.args) == (EventKind.COMMAND, "/start", "x\ufffdy")
    assert (event.account_id, event.text, event.display_name, event.locale_hint, event.update_id) == (
        "1\ufffd", "/start x\ufffdy", "Анна\ufffd", "ru\ufffd", "u\ufffd")
    button = InboundEvent.button("vk", "2", "consent:\ud800")
    assert button.payload == "consent:\ufffd"
    contact = InboundEvent("max", "3", EventKind.CONTACT, contact=SharedContact("+7\ud800", False),
                           qr_texts=("t=1\udc00",))
    assert contact.contact == SharedContact("+7\ufffd", False) and contact.qr_texts == ("t=1\ufffd",)


def test_an_update_s_ids_are_storable() -> None:
    new = NewUpdate("id\ud800", "acc\udc00", {"kept": "\ud800"})
    assert (new.update_id, new.account_id, new.raw) == ("id\ufffd", "acc\ufffd", {"kept": "\ud800"})
    assert NewUpdate("1", None, {}).account_id is None
