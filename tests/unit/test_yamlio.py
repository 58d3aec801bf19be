"""Hostile input ends in a clear Issue, never an exception."""

from __future__ import annotations

import time

import pytest

from reconciler.yamlio import field_path, load_yaml_text, locate


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"a: [1\n", "YAML syntax error"),
        (b"a: &x [1]\nb: *x\n", "anchors and aliases"),
        (b"a: !!python/object:os.system {}\n", "a: 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
        (b"a: 1\na: 2\n", "duplicate key 'a'"),
        (b"\xff\xfe\x00junk", "binary"),
        (b"name: \xe5\xbc\xa0\xff\n", "not UTF-8"),
        (b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "nesting deeper"),
        (b"x" * (10 * 1024 * 1024), "at most 1 MiB"),
    ],
)
def test_hostile_input_is_an_issue_within_a_second(raw: bytes, message: str):
    started = time.process_time()
    data, issue = load_yaml_text(raw, "users/x.yaml")
    assert data is None and issue is not None
    assert message in str(issue)
    assert str(issue).startswith("users/x.yaml")
    assert time.process_time() - started < 1.0


def test_billion_laughs_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    data, issue = load_yaml_text("\n".join(lines).encode(), "bomb.yaml")
    assert data is None and "anchors and aliases" in str(issue)


def test_syntax_error_names_line_and_column():
    _, issue = load_yaml_text(b"user_id: ou_1\nname: [oops\n", "f.yaml")
    assert (issue.line, issue.col) == (3, 1)


def test_locate_finds_nested_keys():
    text = "user_id: x\norders:\n  - department_id: a\n    user_order: 1\n"
    assert locate(text, ["orders", 0, "user_order"]) == (4, 5)
    assert locate(text, ["nope"]) == (1, 1)


def test_field_path_reads_like_the_yaml():
    assert field_path(["orders", 0, "department_id"]) == "orders[0].department_id"


@pytest.mark.parametrize(
    "raw, where, message",
    [
        (
            b"join_time: 2021-01-31\n",
            "1:12: join_time",
            "read by YAML as a date; write a time as Unix seconds (1612051200",
        ),
        (b"join_time: 2021-01-31 10:00:00\n", "1:12: join_time", "read by YAML as a date"),
        (b"join_time: 2021-01-31T10:00:00+08:00\n", "1:12: join_time", "read by YAML as a date"),
        (b"name: !!timestamp '2020-01-01'\n", "1:7: name", "read by YAML as a date"),
        (b"name: !!binary aGVsbG8=\n", "1:7: name", "!!binary is not allowed"),
        (b"department_ids: !!set {a, b}\n", "1:17: department_ids", "!!set is not allowed: write a list"),
        (b"custom_attrs: !!omap [{a: 1}]\n", "1:15: custom_attrs", "!!omap is not allowed"),
        (b"custom_attrs: !!pairs [{a: 1}]\n", "1:15: custom_attrs", "!!pairs is not allowed"),
        (b"orders:\n  - {user_order: .inf}\n", "2:18: orders[0].user_order", "'.inf' is not a finite number"),
        (b"orders:\n  - {user_order: -.Inf}\n", "2:18: orders[0].user_order", "is not a finite number"),
        (b"employee_type: .NaN\n", "1:16: employee_type", "'.NaN' is not a finite number"),
        (b"name: !!python/name:os.system ''\n", "1:7: name", "is not allowed"),
    ],
)
def test_yaml_types_without_a_json_value_are_issues_naming_line_and_field(raw: bytes, where: str, message: str):
    data, issue = load_yaml_text(raw, "users/x.yaml")
    assert data is None
    assert str(issue).startswith(f"users/x.yaml:{where}: ")
    assert message in str(issue)
