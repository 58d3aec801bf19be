"""One source of truth per fact: the field table, the schema, the emulator and import agree."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.config import Settings
from reconciler.diff import diff_user
from reconciler.emulator.store import WRITABLE
from reconciler.fields import FIELDS, IDENTITY_KEY
from reconciler.importer import user_document
from reconciler.schema import user_schema

NAMES = {f.name for f in FIELDS}


def test_the_schema_declares_exactly_the_field_tables_fields_and_the_identity_key():
    assert set(user_schema()["properties"]) == NAMES | {IDENTITY_KEY}


def test_the_emulator_accepts_writes_of_exactly_the_field_tables_fields():
    assert set(WRITABLE) == NAMES


@pytest.mark.parametrize("field", [f for f in FIELDS if f.readable and f.empty is not None], ids=lambda f: f.name)
def test_declaring_a_fields_empty_value_against_a_live_user_without_it_is_no_change(field: Any):
    assert diff_user({field.name: field.empty_value}, {}) == []


@pytest.mark.parametrize("field", [f for f in FIELDS if f.readable and f.empty is not None], ids=lambda f: f.name)
def test_import_leaves_out_what_diff_reads_as_empty(field: Any):
    live = {"open_id": "ou_a", "name": "A", field.name: field.empty_value}
    if field.name == "is_frozen":
        live["status"] = {"is_frozen": False}
    document = user_document(live, Settings(), {"ou_a": "a"}, {})
    assert field.name not in document or field.name == "name"
