"""What PATCH is sent where the docs are specific or silent: complete custom_attrs lists, GENERIC_USER
ids, and clearing only in the documented ways. The emulator replaces custom_attrs lists (the reading
under which a partial list loses data) and models job_title/join_time clearing as the PATCH page says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import demo_seed
from tests.conftest import Cli, Live, start

ZHANGSAN = "ou_01d7f40760960e7bd9443513f22ab9af"
LISI_OPEN_ID = "ou_dc3a8f1670d65bea69b7b65048a0ac40"


@pytest.fixture
def live() -> Iterator[Live]:
    """The demo org; 张三 also has a second custom attribute the example file does not declare."""
    seed = demo_seed()
    seed["custom_attr_ids"] = ["C-skills", "C-site", "C-mentor"]
    user = next(u for u in seed["users"] if u["open_id"] == ZHANGSAN)
    user["custom_attrs"].append({"type": "TEXT", "id": "C-site", "value": {"text": "Hangzhou HQ"}})
    yield from start(seed)


def _edit(directory: Path, handle: str, old: str, new: str) -> None:
    path = directory / "users" / f"{handle}.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def _patches_of(live: Live, open_id: str) -> list[dict]:
    return [w["body"] for w in live.writes() if w["path"].endswith(open_id)]


def test_a_custom_attribute_change_keeps_the_attributes_the_file_does_not_declare(run: Cli):
    applied = run("apply", "--auto-approve", "--dir", str(run.directory))
    assert applied.exit_code == 0, applied.output
    (body,) = _patches_of(run.live, ZHANGSAN)
    assert [a["id"] for a in body["custom_attrs"]] == ["C-site", "C-skills"]
    stored = {a["id"]: a["value"] for a in run.live.user(ZHANGSAN)["custom_attrs"]}
    assert stored == {"C-site": {"text": "Hangzhou HQ"}, "C-skills": {"text": "Go, Python, Kubernetes"}}


def test_a_generic_user_attribute_is_sent_as_a_user_id_and_converges(run: Cli):
    _edit(
        run.directory,
        "zhangsan",
        "custom_attrs:\n",
        'custom_attrs:\n  - type: GENERIC_USER\n    id: C-mentor\n    value: {generic_user: {id: "@lisi", type: 1}}\n',
    )
    applied = run("apply", "--auto-approve", "--dir", str(run.directory))
    assert applied.exit_code == 0, applied.output
    (body,) = _patches_of(run.live, ZHANGSAN)
    mentor = next(a for a in body["custom_attrs"] if a["id"] == "C-mentor")
    lisi_user_id = next(u["user_id"] for u in run.live.state()["users"] if u["open_id"] == LISI_OPEN_ID)
    assert mentor["value"]["generic_user"] == {"id": lisi_user_id, "type": 1}  # not "@lisi", not an open_id
    again = run("plan", "--detailed-exitcode", "--dir", str(run.directory))
    assert again.exit_code == 0, again.output


def test_an_empty_job_title_is_cleared_with_the_documented_string_of_spaces(run: Cli):
    _edit(run.directory, "zhangsan", "job_title: Senior Engineer", 'job_title: ""')
    applied = run("apply", "--auto-approve", "--dir", str(run.directory))
    assert applied.exit_code == 0, applied.output
    (body,) = _patches_of(run.live, ZHANGSAN)
    assert body["job_title"] == " "
    assert "job_title" not in run.live.user(ZHANGSAN)
    again = run("plan", "--detailed-exitcode", "--dir", str(run.directory))
    assert again.exit_code == 0, again.output


def test_clearing_a_field_the_docs_give_no_way_to_clear_is_refused_before_any_write(run: Cli):
    _edit(run.directory, "zhangsan", "city: 杭州", 'city: ""')
    planned = run("plan", "--dir", str(run.directory))
    assert "city: declared empty" in planned.output
    assert "documents no way to do that" in planned.output
    applied = run("apply", "--auto-approve", "--dir", str(run.directory))
    assert applied.exit_code == 1
    assert not _patches_of(run.live, ZHANGSAN)
    assert run.live.user(ZHANGSAN)["city"] == "杭州"


def test_an_empty_leader_is_a_validation_error_that_says_there_is_no_documented_way(run: Cli):
    _edit(run.directory, "zhangsan", 'leader_user_id: "@lisi"', 'leader_user_id: ""')
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "zhangsan.yaml:8:1: leader_user_id" in result.output
    assert "documents no way to remove a leader" in result.output
