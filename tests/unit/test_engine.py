"""build_plan and the live checks, as pure functions over plain data."""

from __future__ import annotations

from pathlib import Path

from reconciler import desired
from reconciler.desired import load_directory, scan_user_ids, user_file_names
from reconciler.engine import VALIDATION_WORK, ReadAhead, build_plan, check_unique_against_live
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


class FakeReads:
    """What ReadAhead drives: the ids it queues, whether it connected first, whether it stopped."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.connected_before: list[str] | None = None
        self.stopped = False
        self.quiet_after: list[tuple[float, int]] = []  # (horizon, ids added by then) per quiet()

    def connect(self) -> None:
        self.connected_before = list(self.added)

    def quiet(self, horizon: float) -> None:
        self.quiet_after.append((horizon, len(self.added)))

    def add(self, user_id: str) -> None:
        self.added.append(user_id)

    def stop(self) -> None:
        self.stopped = True


def _watch(directory: Path, first_window: int = 2500) -> FakeReads:
    reads = FakeReads()
    load_directory(directory, ReadAhead(reads, first_window))  # type: ignore[arg-type]
    return reads


def test_read_ahead_queues_the_scanned_first_window_then_each_parsed_id(tmp_path: Path):
    users = {"a": "user_id: ou_a\n", "b": "user_id: 'ou_b'  # quoted\n", "c": "name: C\nuser_id: ou_c\n"}
    reads = _watch(_dir(tmp_path, users), first_window=2)
    assert reads.connected_before == []  # the token first, so the window goes out the moment it is full
    assert reads.added[:2] == ["ou_a", "ou_b"]  # the line scan, before any file is parsed
    assert reads.added[2:] == ["ou_a", "ou_b", "ou_c"]  # then every parsed user (the client dedupes)
    assert not reads.stopped


def test_read_ahead_gets_the_same_ids_when_parsing_processes_do_the_scan(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(desired, "PARALLEL_FROM", 1)
    monkeypatch.setattr(desired, "CHUNK", 2)
    users = {"a": "user_id: ou_a\n", "b": "user_id: 'ou_b'  # quoted\n", "c": "name: C\nuser_id: ou_c\n"}
    reads = _watch(_dir(tmp_path, users), first_window=2)
    assert reads.connected_before == []
    assert reads.added == ["ou_a", "ou_b", "ou_a", "ou_b", "ou_c"]


def test_read_ahead_waits_for_a_gap_between_bursts_once_every_file_is_loaded(tmp_path: Path):
    reads = _watch(_dir(tmp_path, {"a": "user_id: ou_a\n", "b": "user_id: ou_b\n"}), first_window=0)
    assert reads.quiet_after == [(VALIDATION_WORK, 2)]  # validation, which comes next, stalls no read


def test_read_ahead_stops_at_the_first_file_that_cannot_be_valid(tmp_path: Path):
    users = {"a": "user_id: ou_a\n", "b": "user_id: ou_b\ngender: 7\n", "c": "user_id: ou_c\n"}
    reads = _watch(_dir(tmp_path, users), first_window=0)
    assert reads.stopped
    assert reads.added == ["ou_a"]
    assert reads.quiet_after == []  # stopped reads: nothing to wait for


def test_read_ahead_stops_at_a_file_that_does_not_parse(tmp_path: Path):
    reads = _watch(_dir(tmp_path, {"a": "user_id: [unclosed\n", "b": "user_id: ou_b\n"}), first_window=0)
    assert reads.stopped and reads.added == []


def test_read_ahead_does_not_stop_for_a_file_only_the_fast_check_doubts(tmp_path: Path):
    # 1.0 is an integer to JSON Schema; the compiled fast path defers such values to jsonschema
    reads = _watch(_dir(tmp_path, {"a": "user_id: ou_a\nemployee_type: 1.0\n"}), first_window=0)
    assert not reads.stopped and reads.added == ["ou_a"]


def test_the_line_scan_skips_files_without_a_plain_user_id_line(tmp_path: Path):
    users = {"a": "user_id: ou_a\n", "b": "{user_id: ou_b}\n", "c": 'user_id: "ou_c"\n', "d": "name: D\n"}
    folder = _dir(tmp_path, users) / "users"
    assert list(scan_user_ids(folder, user_file_names(folder))) == ["ou_a", "ou_c"]
