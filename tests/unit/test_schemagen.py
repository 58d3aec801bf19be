"""The schema is derived from the doc pages, byte for byte reproducible."""

from __future__ import annotations

import json

from reconciler import schemagen


def _doc_fields(page, start, end):
    text = page.read_text("utf-8")
    return [n for n, *_ in schemagen.parse_table_rows(schemagen._section(text, start, end))]


def test_regenerating_gives_the_committed_file_byte_for_byte():
    assert schemagen.generate() == schemagen.SCHEMA_PATH.read_text("utf-8")


def test_every_top_level_field_of_both_pages_is_in_the_schema():
    props = json.loads(schemagen.SCHEMA_PATH.read_text("utf-8"))["properties"]
    put = _doc_fields(schemagen.PUT_PAGE, "### 请求体", "**类型额外说明**")
    assert len(put) == 21
    assert set(put) <= set(props)
    patch = schemagen.nest(
        schemagen.parse_table_rows(
            schemagen._section(schemagen.PATCH_PAGE.read_text("utf-8"), "### 请求体", "### 请求体示例")
        ),
        schemagen.request_example(schemagen.PATCH_PAGE.read_text("utf-8")),
    )
    assert [r.name for r in patch] == [p for p in props if p != "user_id"]
    assert len(patch) == 25


def test_nested_records_keep_the_docs_structure():
    props = json.loads(schemagen.SCHEMA_PATH.read_text("utf-8"))["properties"]
    assert set(props["orders"]["items"]["properties"]) == {
        "department_id",
        "user_order",
        "department_order",
        "is_primary_dept",
    }
    value = props["custom_attrs"]["items"]["properties"]["value"]
    assert set(value["properties"]) == {"text", "url", "pc_url", "option_id", "generic_user"}
    assert value["properties"]["generic_user"]["required"] == ["id", "type"]
    assert value["properties"]["text"]["maxLength"] == 100


def test_constraints_read_from_the_prose():
    props = json.loads(schemagen.SCHEMA_PATH.read_text("utf-8"))["properties"]
    assert props["name"]["minLength"] == 1 and props["name"]["maxLength"] == 255
    assert props["city"]["maxLength"] == 100
    assert props["job_title"]["maxLength"] == 255
    assert props["department_ids"]["maxItems"] == 50
    assert props["gender"]["enum"] == [0, 1, 2, 3]
    assert "enum" not in props["employee_type"]  # custom employee types are ints beyond 1-5
    assert props["custom_attrs"]["items"]["properties"]["type"]["enum"] == [
        "TEXT",
        "HREF",
        "ENUMERATION",
        "PICTURE_ENUM",
        "GENERIC_USER",
    ]


def test_unknown_keys_are_rejected_at_every_level():
    schema = json.loads(schemagen.SCHEMA_PATH.read_text("utf-8"))
    assert schema["additionalProperties"] is False
    assert schema["properties"]["orders"]["items"]["additionalProperties"] is False
