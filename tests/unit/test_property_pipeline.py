"""Property-based: generated documents (1,000 schema-valid, 1,000 invalid) never crash the pipeline.

Strategies are derived from schemas/user.schema.json itself (hypothesis-jsonschema does not work
with current hypothesis), so every documented field, enum, length and nesting is exercised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.cli import cli
from reconciler.desired import load_directory
from reconciler.engine import build_plan
from reconciler.render import RENDERERS
from reconciler.schema import schema_accepts, user_schema
from reconciler.validate import schema_issues, validate

SCHEMA = user_schema()
VALIDATOR = Draft202012Validator(SCHEMA)
INT32 = 2**31 - 1
PROFILE = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def strategy_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: len(s) <= schema.get("maxLength", 10**6)
            )
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
    if kind == "integer":
        return st.integers(schema.get("minimum", -INT32 - 1), schema.get("maximum", INT32))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            strategy_for(schema["items"]),
            max_size=min(schema.get("maxItems", 4), 4),
            unique_by=(lambda v: json.dumps(v, sort_keys=True)) if schema.get("uniqueItems") else None,
        )
    if kind == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: strategy_for(v) for k, v in props.items() if k in required},
            optional={k: strategy_for(v) for k, v in props.items() if k not in required},
        )
    raise AssertionError(f"schema kind {kind!r} has no strategy")


VALID = strategy_for(SCHEMA)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def invalid_documents(draw: st.DrawFn) -> bytes:
    how = draw(st.sampled_from(["unknown_key", "wrong_type", "junk", "bytes"]))
    if how == "bytes":
        return draw(st.binary(min_size=1, max_size=200).filter(lambda b: b"\x00" in b or not b.strip()))
    if how == "junk":
        doc = draw(JUNK)
        if isinstance(doc, dict) and VALIDATOR.is_valid(doc):
            doc = [doc]
        return yaml.safe_dump(doc, allow_unicode=True).encode()
    doc = draw(VALID)
    if how == "unknown_key":
        doc[draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in SCHEMA["properties"]))] = draw(JUNK)
    else:
        key = draw(st.sampled_from(sorted(SCHEMA["properties"])))
        doc[key] = draw(JUNK.filter(lambda v: not VALIDATOR.is_valid({**doc, key: v})))
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def _directory(tmp: Path) -> Path:
    (tmp / "users").mkdir(parents=True, exist_ok=True)
    (tmp / "departments.yaml").write_text("engineering: {id: od-eng, name: Engineering}\n", "utf-8")
    return tmp


def _as_live(doc: dict[str, Any], user_id: str) -> dict[str, Any]:
    live = {k: v for k, v in doc.items() if k != "user_id"}
    live["open_id"] = user_id
    if "is_frozen" in live:
        live["status"] = {"is_frozen": live.pop("is_frozen")}
    return live


@PROFILE
@given(doc=VALID, other=VALID)
def test_schema_valid_documents_never_crash_the_pipeline(
    tmp_path_factory: Any, doc: dict[str, Any], other: dict[str, Any]
):
    directory = _directory(tmp_path_factory.mktemp("valid"))
    (directory / "users" / "x.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    state = load_directory(directory)
    assert schema_issues(state.users[0]) == []
    assert schema_accepts()(doc)  # the fast path agrees, so valid files never pay for jsonschema
    result = validate(state)
    live = {doc["user_id"]: _as_live(other, doc["user_id"])} if "user_id" in doc else {}  # no id: a hire
    plan = build_plan(state, result, live, base_url="http://127.0.0.1:1")
    for render in RENDERERS.values():
        assert render(plan).strip()
    for change in plan.changes:
        undeclared = set(change.body) - set(doc)
        # the one exception: orders travel with department_ids (44002), sent with the live value unchanged
        assert undeclared <= {"department_ids"}
        if undeclared:
            assert "orders" in change.body
            assert change.body["department_ids"] == live[doc["user_id"]].get("department_ids", [])


@PROFILE
@given(raw=invalid_documents())
def test_invalid_documents_exit_1_with_a_message_and_no_traceback(tmp_path_factory: Any, raw: bytes):
    directory = _directory(tmp_path_factory.mktemp("invalid"))
    (directory / "users" / "x.yaml").write_bytes(raw)
    try:
        parsed = yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError):
        parsed = None
    if parsed is not None and not VALIDATOR.is_valid(parsed):
        assert schema_accepts()(parsed) is False  # the fast path never accepts what jsonschema rejects
    result = CliRunner().invoke(cli, ["validate", "--dir", str(directory)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "x.yaml" in result.output
    assert "Traceback" not in result.output
