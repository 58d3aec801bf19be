"""The reviewer's picture and per-department table, from a plan's JSON dict (Mermaid's own parser
checks the text in tests/integration/test_orgchart_mermaid.py)."""

from __future__ import annotations

from typing import Any

from reconciler.orgchart import GROUP_FROM, MAX_PEOPLE, department_rows, diagram, is_drawn, label


def _change(i: int, before: dict[str, Any] | None, after: dict[str, Any] | None, action: str = "update") -> dict:
    placement = {k: v for k, v in (("before", before), ("after", after)) if v is not None}
    return {"handle": f"p{i}", "user_id": f"ou_{i}", "name": f"P{i}", "action": action, "placement": placement}


def _at(dept: str, leader: str | None = None) -> dict[str, Any]:
    return {"leader": leader, "departments": [dept]}


def test_a_label_keeps_names_and_writes_every_mark_mermaid_reads_as_an_entity():
    assert label("李四 (@lisi)") == "李四 (@lisi)"
    assert label('a"b') == "a#34;b"
    assert label("x\ny") == "x#92;u000ay"
    assert label("`#;") == "#96;#35;#59;"
    assert label("\u202eevil") == "#92;u202eevil"  # a direction mark is shown, never obeyed


def test_a_long_label_is_cut():
    assert label("x" * 100, limit=10) == "x" * 9 + "#8230;"


def test_a_change_that_keeps_leader_and_departments_is_not_drawn():
    assert not is_drawn(_change(1, _at("od-a", "ou_l"), _at("od-a", "ou_l")))
    assert is_drawn(_change(1, _at("od-a", "ou_l"), _at("od-a", "ou_m")))
    assert is_drawn(_change(1, _at("od-a"), _at("od-b")))
    assert is_drawn(_change(1, None, _at("od-a"), "create"))
    assert is_drawn(_change(1, _at("od-a"), None, "offboard"))


def test_no_picture_when_nobody_joins_leaves_or_moves():
    data = {"names": {}, "changes": [_change(1, _at("od-a"), _at("od-a"))]}
    assert diagram(data) == []


def test_a_move_draws_the_person_in_the_new_department_and_a_was_node_in_the_old():
    data = {"names": {"od-a": "Product", "od-b": "Engineering"}, "changes": [_change(1, _at("od-a"), _at("od-b"))]}
    text = "\n".join(diagram(data))
    assert 'subgraph d1["Engineering"]\n    n1["P1 (@p1)"]\n  end' in text
    assert 'subgraph d2["Product"]\n    n2("was: P1 (@p1)")\n  end' in text
    assert 'n2 -. "moves" .-> n1' in text


def test_a_leader_who_also_moves_is_drawn_once():
    changes = [_change(1, _at("od-a", "ou_2"), _at("od-a", "ou_3")), _change(2, _at("od-a"), _at("od-b"))]
    text = "\n".join(diagram({"names": {}, "changes": changes}))
    assert text.count("(@p2)") == 2  # the person and their "was" node; no separate leader node
    assert 'n2 -. "was leader" .-> n1' in text


def test_people_with_the_same_move_are_one_node_with_a_count():
    changes = [_change(i, _at("od-a"), _at("od-b")) for i in range(GROUP_FROM)]
    text = "\n".join(diagram({"names": {}, "changes": changes}))
    assert f'n1["{GROUP_FROM} people: @p0, @p1, @p2 #8230;"]' in text


def test_beyond_max_people_the_rest_are_counted_not_drawn():
    changes = [_change(i, _at(f"od-{i}"), _at(f"od-x{i}")) for i in range(MAX_PEOPLE + 7)]
    text = "\n".join(diagram({"names": {}, "changes": changes}))
    assert "#8230; and 7 more people not drawn (see the changes below)" in text
    assert "(@p29)" in text and "(@p30)" not in text


def test_department_rows_count_joiners_leavers_and_moves_per_department():
    changes = [
        _change(1, None, _at("od-a"), "create"),
        _change(2, _at("od-a"), None, "offboard"),
        _change(3, _at("od-b"), _at("od-a")),
        _change(4, _at("od-b"), _at("od-b")),
    ]
    rows = department_rows({"names": {"od-a": "Sales"}, "changes": changes})
    assert rows == [("Sales", 1, 1, 1, 0, 0), ("od-b", 0, 0, 0, 1, 1)]


def test_department_rows_beyond_the_limit_are_summed():
    changes = [_change(i, _at(f"od-{i}"), _at(f"od-{i}")) for i in range(5)]
    rows = department_rows({"names": {}, "changes": changes}, limit=3)
    assert rows[-1] == ("2 more departments", 0, 0, 0, 0, 2)


def test_a_secondary_department_joined_or_left_is_written_beside_the_person():
    before = {"leader": None, "departments": ["od-a", "od-b"]}
    after = {"leader": None, "departments": ["od-a", "od-c"]}
    names = {"od-a": "Product (@product)", "od-b": "Sales (@sales)", "od-c": "Legal (@legal)"}
    text = "\n".join(diagram({"names": names, "changes": [_change(1, before, after)]}))
    assert 'n1["P1 (@p1) #183; #43;Legal (@legal) #8722;Sales (@sales)"]' in text
    assert "was:" not in text  # the primary department stays: not a move
