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
        (b"a: !!python/object:os.system {}\n", "YAML syntax error"),
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
