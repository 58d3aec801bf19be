"""One source of truth per fact: the field table, the schema, the emulator and import agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.config import Settings
from reconciler.diff import diff_user
from reconciler.emulator.store import WRITABLE
from reconciler.fields import FIELDS, IDENTITY_KEY
from reconciler.importer import user_document
from reconciler.schema import user_schema

NAMES = {f.name for f in FIELDS}
ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_declares_exactly_the_field_tables_fields_and_the_identity_key():
    assert set(user_schema()["properties"]) == NAMES | {IDENTITY_KEY}


def test_the_emulator_accepts_writes_of_exactly_the_field_tables_fields():
    assert set(WRITABLE) == NAMES


@pytest.mark.parametrize("field", [f for f in FIELDS if f.readable and f.empty is not None], ids=lambda f: f.name)
def test_declaring_a_fields_empty_value_against_a_live_user_answering_it_unset_is_no_change(field: Any):
    from reconciler.emulator.store import UNSET

    live = {"status": {"is_frozen": False}} if field.name == "is_frozen" else {field.name: UNSET[field.name]}
    assert diff_user({field.name: field.empty_value}, live) == []


def test_a_field_the_live_record_leaves_out_is_not_compared():
    assert diff_user({"mobile": "+8613011111111", "job_title": "x"}, {"job_title": "y"})[0].field == "job_title"
    assert diff_user({"mobile": "+8613011111111"}, {"job_title": "y"}) == []


@pytest.mark.parametrize("field", [f for f in FIELDS if f.readable and f.empty is not None], ids=lambda f: f.name)
def test_import_leaves_out_what_diff_reads_as_empty(field: Any):
    live = {"open_id": "ou_a", "name": "A", field.name: field.empty_value}
    if field.name == "is_frozen":
        live["status"] = {"is_frozen": False}
    document = user_document(live, Settings(), {"ou_a": "a"}, {})
    assert field.name not in document or field.name == "name"


def _permission_row(field: Any) -> str:
    from reconciler import permissions

    if not field.readable:
        return f"| `{field.name}` | not returned by the read APIs (write-only) |"
    options = () if field.name == "is_frozen" else permissions.FIELD_READ.get(field.name, ())
    if not options:
        return f"| `{field.name}` | none |"
    first, *others = options
    general = " (or a general read permission)" if set(permissions.GENERAL) <= set(others) else ""
    more = "".join(f" or `{o}`" for o in others if o not in permissions.GENERAL)
    return f"| `{field.name}` | `{first}`{more}{general} |"


def test_readme_field_permission_table_is_the_permission_table():
    from reconciler.fields import FIELDS

    readme = (ROOT / "README.md").read_text("utf-8")
    for field in FIELDS:
        assert _permission_row(field) in readme, field.name


def test_every_permission_readme_names_is_a_documented_one():
    import re

    from reconciler import permissions

    readme = (ROOT / "README.md").read_text("utf-8")
    named = set(re.findall(r"`(contact:[a-z_.:]+|directory:[a-z_.:]+)`", readme))
    assert named and named <= set(permissions.ALL), named - set(permissions.ALL)


def test_the_emulator_enforces_the_permission_of_every_endpoint_it_serves():
    from reconciler import permissions
    from reconciler.emulator import Emulator, Store, demo_seed

    app = Emulator(Store(demo_seed()))
    paths = {
        ("GET", "/open-apis/contact/v3/users/batch"),
        ("GET", "/open-apis/contact/v3/users/find_by_department"),
        ("POST", "/open-apis/contact/v3/users/batch_get_id"),
        ("GET", "/open-apis/contact/v3/users/ou_x"),
        ("PATCH", "/open-apis/contact/v3/users/ou_x"),
        ("PUT", "/open-apis/contact/v3/users/ou_x"),
        ("POST", "/open-apis/contact/v3/users"),
        ("DELETE", "/open-apis/contact/v3/users/ou_x"),
        ("GET", "/open-apis/contact/v3/departments/0/children"),
        ("GET", "/open-apis/contact/v3/departments/od-x"),
        ("GET", "/open-apis/contact/v3/scopes"),
        ("GET", "/open-apis/application/v6/scopes"),
    }
    served = {app.route(method, path)[0] for method, path in paths}
    assert served == set(permissions.ENDPOINT)
