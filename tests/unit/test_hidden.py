"""One definition of the characters that hide text, shared by validation, the plans and the picture."""

from __future__ import annotations

import pytest

from reconciler.hidden import escaped, hidden_in, may_hide
from reconciler.orgchart import label
from reconciler.render import visible

HIDDEN = {
    "bidi override": "\u202e",
    "zero-width space": "\u200b",
    "escape (terminal colours)": "\x1b",
    "C1 control": "\x85",
    "soft hyphen": "\u00ad",
    "deprecated format character": "\u206a",
    "tag character (invisible text)": "\U000e0041",
    "private use": "\ue000",
    "unassigned": "\u0378",
    "line separator": "\u2028",
    "byte order mark": "\ufeff",
}
SHOWN = {
    "CJK": "王芳",
    "no-break space": "a\u00a0b",
    "ideographic space": "王\u3000芳",
    "emoji": "🙂",
    "accents": "José Müller",
}


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_every_class_of_hidden_character_is_found_and_shown_escaped(char: str):
    assert hidden_in(f"a{char}b") == [char]
    shown = escaped(f"a{char}b")
    assert char not in shown
    assert shown == (f"a\\u{ord(char):04x}b" if ord(char) <= 0xFFFF else f"a\\U{ord(char):08x}b")


@pytest.mark.parametrize("text", SHOWN.values(), ids=SHOWN.keys())
def test_visible_text_and_spaces_are_left_as_they_are(text: str):
    assert hidden_in(text) == []
    assert escaped(text) == text


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_the_plans_and_the_picture_escape_the_same_characters(char: str):
    assert char not in visible(f"a{char}b")
    assert char not in label(f"a{char}b")
    assert escaped(char) in visible(f"a{char}b")


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_file_holding_a_hidden_character_is_flagged_for_validation_to_look_at(char: str):
    assert may_hide(f"user_id: ou_1\nname: a{char}b\n".encode())


def test_a_yaml_escape_in_double_quotes_is_flagged_too():
    assert may_hide(b'user_id: ou_1\nname: "a\\u202eb"\n')


@pytest.mark.parametrize("text", ["user_id: ou_1\nname: Ada\n", "user_id: ou_1\nname: 王芳\n"], ids=["ASCII", "CJK"])
def test_a_plain_file_is_not_flagged(text: str):
    assert not may_hide(text.encode())
