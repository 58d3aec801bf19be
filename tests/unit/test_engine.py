"""build_plan and the live checks, as pure functions over plain data."""

from __future__ import annotations

from pathlib import Path

from reconciler import desired
from reconciler.desired import load_directory
from reconciler.engine import build_plan, check_unique_against_live
from reconciler.validate import validate


def _dir(tmp_path: Path, users: dict[str, str], settings: str = "") -> Path:
    (tmp_path / "users").mkdir()
    (tmp_path / "reconciler.yaml").write_text(settings, "utf-8")
    (tmp_path / "departments.yaml").write_text("eng: od-eng\nsales: od-sales\n", "utf-8")
    for handle, text in users.items():
        (tmp_path / "users" / f"{handle}.yaml").write_text(text, "utf-8")
    return tmp_path


def _plan(directory: Path, live: dict):
    state = load_directory(directory)
    result = validate(state)
    return result, build_plan(state, result, live, base_url="http://127.0.0.1:1")


def test_require_complete_demands_the_put_pages_required_fields(tmp_path: Path):
    state = load_directory(_dir(tmp_path, {"a": "user_id: ou_a\nname: A\n"}, "require_complete: true\n"))
    messages = [i.message for i in validate(state).errors]
    assert messages == [
        f"{f} is missing: require_complete is on in reconciler.yaml"
        for f in ("mobile", "department_ids", "employee_type")
    ]


def test_orders_without_declared_departments_are_checked_against_live_departments(tmp_path: Path):
    directory = _dir(tmp_path, {"a": 'user_id: ou_a\norders: [{department_id: "@sales", user_order: 1}]\n'})
    _, plan = _plan(directory, {"ou_a": {"open_id": "ou_a", "department_ids": ["od-eng"]}})
    assert [e.code for e in plan.errors] == [41025]
    assert plan.changes == []


def test_orders_change_sends_the_live_departments_along(tmp_path: Path):
    directory = _dir(tmp_path, {"a": 'user_id: ou_a\norders: [{department_id: "@eng", user_order: 5}]\n'})
    live = {
        "ou_a": {
            "open_id": "ou_a",
            "department_ids": ["od-eng"],
            "orders": [{"department_id": "od-eng", "user_order": 1, "department_order": 3, "is_primary_dept": True}],
        }
    }
    _, plan = _plan(directory, live)
    assert plan.changes[0].body == {
        "department_ids": ["od-eng"],
        "orders": [{"department_id": "od-eng", "user_order": 5, "department_order": 3, "is_primary_dept": True}],
    }


def test_employee_no_held_by_another_live_user_is_an_error(tmp_path: Path):
    directory = _dir(tmp_path, {"a": "user_id: ou_a\nemployee_no: E7\n", "b": "user_id: ou_b\n"})
    live = {"ou_a": {"open_id": "ou_a", "employee_no": "E1"}, "ou_b": {"open_id": "ou_b", "employee_no": "E7"}}
    result, plan = _plan(directory, live)
    check_unique_against_live(plan, result, live, {})
    assert [(e.handle, e.code) for e in plan.errors] == [("a", 44051)]
    assert plan.changes == []


def test_write_only_fields_are_not_sent_unless_asked(tmp_path: Path):
    directory = _dir(tmp_path, {"a": "user_id: ou_a\navatar_key: k1\nname: A\n"})
    _, plan = _plan(directory, {"ou_a": {"open_id": "ou_a", "name": "A"}})
    assert plan.changes == [] and plan.unchanged == ["a"]
    assert "avatar_key cannot be compared" in plan.write_only_notes[0]


class Chunks:
    """A chunk sink that records what the loader hands it."""

    def __init__(self) -> None:
        self.seen: list[tuple[list[str], bool, bool]] = []

    def __call__(self, users: list, clean: bool, last: bool) -> None:
        self.seen.append(([u.handle for u in users], clean, last))


def _chunks(directory: Path, monkeypatch, chunk: int) -> list[tuple[list[str], bool, bool]]:
    monkeypatch.setattr(desired, "PARALLEL_FROM", 1)  # parse in worker processes, in chunks
    monkeypatch.setattr(desired, "CHUNK", chunk)
    sink = Chunks()
    load_directory(directory, on_chunk=sink)
    return sink.seen


def test_the_loader_hands_over_each_chunk_in_name_order_as_it_is_parsed(tmp_path: Path, monkeypatch):
    users = {h: f"user_id: ou_{h}\n" for h in "abcde"}
    assert _chunks(_dir(tmp_path, users), monkeypatch, 2) == [
        ([], True, False),  # the parsing workers exist
        (["a", "b"], True, False),
        (["c", "d"], True, False),
        (["e"], True, True),
    ]


def test_a_chunk_is_unclean_from_the_first_file_that_fails_the_schema_on(tmp_path: Path, monkeypatch):
    users = {"a": "user_id: ou_a\n", "b": "user_id: ou_b\n", "c": "user_id: ou_c\ngender: 7\n", "d": "user_id: ou_d\n"}
    seen = _chunks(_dir(tmp_path, users), monkeypatch, 2)
    assert seen == [([], True, False), (["a", "b"], True, False), (["c", "d"], False, True)]


def test_a_file_that_does_not_parse_makes_its_chunk_and_every_later_one_unclean(tmp_path: Path, monkeypatch):
    users = {"a": "user_id: [unclosed\n", "b": "user_id: ou_b\n", "c": "user_id: ou_c\n"}
    assert [clean for _, clean, _ in _chunks(_dir(tmp_path, users), monkeypatch, 1)] == [True, False, False, False]


def test_a_small_directory_is_one_chunk(tmp_path: Path):
    sink = Chunks()
    load_directory(_dir(tmp_path, {h: f"user_id: ou_{h}\n" for h in "abc"}), on_chunk=sink)
    assert sink.seen == [(["a", "b", "c"], True, True)]


def test_an_integral_float_passes_the_schema_as_jsonschema_says(tmp_path: Path, monkeypatch):
    # 1.0 is an integer to JSON Schema: the parsing worker's check agrees with jsonschema
    assert _chunks(_dir(tmp_path, {"a": "user_id: ou_a\nemployee_type: 1.0\n"}), monkeypatch, 1) == [
        ([], True, False),
        (["a"], True, True),
    ]


def test_an_open_id_of_another_app_is_an_error_that_says_open_ids_are_per_app(tmp_path: Path):
    from reconciler.engine import PlanBuilder

    state = load_directory(_dir(tmp_path, {"a": "user_id: ou_a\nname: A\n"}))
    result = validate(state)
    builder = PlanBuilder(state, result, base_url="http://127.0.0.1:1")
    builder.add(result.users[0], None, 99992361)
    (error,) = builder.finish().errors
    assert error.code == 99992361 and "issued per app" in error.message
