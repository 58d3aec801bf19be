"""The compiled fast path never accepts what jsonschema rejects, and accepts what it accepts."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from reconciler.fastcheck import compile_schema
from reconciler.validate import schema_accepts, user_schema

VALID = {
    "user_id": "ou_1",
    "name": "张三",
    "gender": 1,
    "department_ids": ["@eng"],
    "orders": [{"department_id": "@eng", "user_order": 1, "is_primary_dept": True}],
    "custom_attrs": [{"type": "TEXT", "id": "C", "value": {"text": "x", "generic_user": {"id": "u", "type": 1}}}],
}


@pytest.mark.parametrize(
    "doc",
    [
        {**VALID, "gender": True},  # True == 1 in Python, but not for JSON Schema
        {**VALID, "gender": 1.0},  # unsure: floats go to jsonschema
        {**VALID, "nmae": "x"},
        {**VALID, "department_ids": ["@eng", "@eng"]},
        {**VALID, "orders": [{"department_id": "@eng", "user_ordr": 1}]},
        {**VALID, "custom_attrs": [{"value": {"generic_user": {"id": "u", "type": 2}}}]},
        {**VALID, "mobile": "12"},
        {k: v for k, v in VALID.items() if k != "user_id"},
        [VALID],
    ],
)
def test_fast_path_refuses_what_jsonschema_does_not_accept_or_is_unsure_of(doc):
    assert schema_accepts()(doc) is False


def test_fast_path_accepts_a_valid_document():
    assert Draft202012Validator(user_schema()).is_valid(VALID)
    assert schema_accepts()(VALID) is True


def test_unsupported_keywords_are_refused_at_compile_time():
    with pytest.raises(ValueError, match="oneOf"):
        compile_schema({"oneOf": []})
