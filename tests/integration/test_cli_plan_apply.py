"""The real CLI against the emulator over HTTP: what plan and apply send, as the request log shows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from reconciler.emulator import generate_org
from tests.conftest import Cli, Live, invoke, start, write_user

TOKEN = "/open-apis/auth/v3/tenant_access_token/internal"
BATCH = "/open-apis/contact/v3/users/batch"

# What the demo seed differs in from directory/ (see reconciler/emulator/demo_seed.yaml).
EXPECTED_BODIES = {
    "bob": {"city": "San Francisco"},
    "emma": {"employee_type": 3},
    "liuyang": {"leader_user_id": "@bob"},
    "wangfang": {
        "department_ids": ["@engineering"],
        "orders": [
            {"department_id": "@engineering", "user_order": 97, "department_order": 100, "is_primary_dept": True}
        ],
    },
    "zhangsan": {
        "job_title": "Senior Engineer",
        "custom_attrs": [{"type": "TEXT", "id": "C-skills", "value": {"text": "Go, Python, Kubernetes"}}],
    },
}
DEPARTMENTS = {"@engineering": "od-4e6ac4d14bcd5071a37a39de902c7141"}


def resolve(value, ids: dict[str, str]):
    if isinstance(value, str) and value.startswith("@"):
        return DEPARTMENTS.get(value) or ids[value[1:]]
    if isinstance(value, list):
        return [resolve(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, ids) for k, v in value.items()}
    return value


def test_plan_sends_one_token_call_and_one_batch_read_for_twelve_users(run: Cli, live: Live):
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 0, result.output
    log = live.requests()
    assert [(r["method"], r["path"]) for r in log] == [("POST", TOKEN), ("GET", BATCH)]
    assert len(log[1]["query"]["user_ids"]) == 12


def test_plan_prints_every_changed_user_and_the_summary_line(run: Cli):
    result = run("plan", "--dir", str(run.directory))
    for handle in EXPECTED_BODIES:
        assert f"~ @{handle} " in result.output
    assert "Plan: 0 to create, 5 to change, 0 to offboard. 7 unchanged." in result.output


def test_plan_never_writes(run: Cli, live: Live):
    run("plan", "--dir", str(run.directory))
    assert live.writes() == []


def test_apply_sends_one_patch_per_changed_user_with_exactly_the_changed_fields(
    run: Cli, live: Live, seed_user_ids: dict[str, str]
):
    live.clear()
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 0, result.output
    patches = [r for r in live.requests() if r["method"] == "PATCH"]
    by_user = {r["path"].rsplit("/", 1)[1]: r["body"] for r in patches}
    expected = {seed_user_ids[h]: resolve(b, seed_user_ids) for h, b in EXPECTED_BODIES.items()}
    assert len(patches) == len(expected)
    assert by_user == expected


def test_second_plan_after_apply_shows_no_changes(run: Cli):
    run("apply", "--dir", str(run.directory), "--auto-approve")
    result = run("plan", "--dir", str(run.directory), "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "No changes." in result.output
    assert "Plan: 0 to create, 0 to change, 0 to offboard. 12 unchanged." in result.output


def test_field_absent_from_yaml_is_never_sent_even_when_live_differs(
    run: Cli, live: Live, seed_user_ids: dict[str, str]
):
    # the seed gives sunli a work_station her file does not declare
    assert live.user(seed_user_ids["sunli"])["work_station"] == "moved desk, not declared in git"
    run("apply", "--dir", str(run.directory), "--auto-approve")
    sent = [r["body"] for r in live.requests() if r["method"] == "PATCH"]
    assert all("work_station" not in body for body in sent)
    assert not any(r["path"].endswith(seed_user_ids["sunli"]) for r in live.writes())
    assert live.user(seed_user_ids["sunli"])["work_station"] == "moved desk, not declared in git"


def test_reconciler_never_sends_put(run: Cli, live: Live):
    run("plan", "--dir", str(run.directory))
    run("apply", "--dir", str(run.directory), "--auto-approve")
    run("apply", "--dir", str(run.directory), "--auto-approve")
    assert [r for r in live.requests() if r["method"] == "PUT"] == []


def test_detailed_exitcode_is_2_when_changes_are_present(run: Cli):
    assert run("plan", "--dir", str(run.directory), "--detailed-exitcode").exit_code == 2


def test_apply_state_matches_the_desired_values(run: Cli, live: Live, seed_user_ids: dict[str, str]):
    run("apply", "--dir", str(run.directory), "--auto-approve")
    wang = live.user(seed_user_ids["wangfang"])
    assert wang["department_ids"] == [DEPARTMENTS["@engineering"]]
    assert wang["orders"][0]["department_id"] == DEPARTMENTS["@engineering"]
    assert live.user(seed_user_ids["liuyang"])["leader_user_id"] == seed_user_ids["bob"]


def test_declared_user_missing_from_the_api_is_an_error_naming_its_file_and_others_are_planned(run: Cli, live: Live):
    write_user(run.directory, "ghost", "user_id: ou_doesnotexist\nname: Ghost\n")
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "users/ghost.yaml" in result.output
    assert "ou_doesnotexist was not returned by the API" in result.output
    assert "Plan: 0 to create, 5 to change, 0 to offboard. 7 unchanged." in result.output


@pytest.mark.parametrize(
    "text, where, reason",
    [
        ("user_id: ou_x\nname: [unclosed\n", "ghost.yaml:3:1", "YAML syntax error"),
        ("user_id: ou_x\nnmae: Ghost\n", "ghost.yaml:2:1: nmae:", "unknown key 'nmae'; did you mean 'name'?"),
        (
            "user_id: ou_x\nemployee_type: intern\n",
            "ghost.yaml:2:1: employee_type:",
            '"intern" is a string; expected a whole number',
        ),
    ],
)
def test_invalid_file_exits_1_with_path_line_field_and_reason_and_sends_nothing(
    run: Cli, live: Live, text: str, where: str, reason: str
):
    write_user(run.directory, "ghost", text)
    for command in ("validate", "plan"):
        result = run(command, "--dir", str(run.directory))
        assert result.exit_code == 1
        assert where in result.output
        assert reason in result.output
        assert "Traceback" not in result.output
    assert live.requests() == []


def test_saved_plan_applies_exactly_what_it_shows(run: Cli, live: Live, tmp_path: Path):
    out = tmp_path / "plan.json"
    assert run("plan", "--dir", str(run.directory), "--out", str(out)).exit_code == 0
    saved = json.loads(out.read_text("utf-8"))
    live.clear()
    result = run("apply", str(out), "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 0, result.output
    bodies = {r["path"].rsplit("/", 1)[1]: r["body"] for r in live.requests() if r["method"] == "PATCH"}
    assert bodies == {c["user_id"]: c["body"] for c in saved["changes"]}


def test_apply_without_a_terminal_or_auto_approve_refuses_and_writes_nothing(run: Cli, live: Live):
    result = run("apply", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "--auto-approve" in result.output
    assert live.writes() == []


def test_plan_of_120_users_reads_in_three_batches(tmp_path: Path):
    seed = generate_org(120)
    directory = tmp_path / "org"
    (directory / "users").mkdir(parents=True)
    for user in seed["users"]:
        (directory / "users" / f"{user['user_id']}.yaml").write_text(
            f"user_id: {user['open_id']}\njob_title: Engineer\n", "utf-8"
        )
    for live in start(seed):
        result = invoke(live, "plan", "--dir", str(directory))
        assert result.exit_code == 0, result.output
        log = live.requests()
        assert sum(r["path"] == TOKEN for r in log) == 1
        assert sum(r["path"] == BATCH for r in log) == math.ceil(120 / 50)
        assert len(log) == 1 + math.ceil(120 / 50)


def test_plan_reports_an_email_another_live_user_holds_and_sends_no_write(run: Cli, live: Live):
    path = run.directory / "users" / "bob.yaml"
    path.write_text(path.read_text("utf-8").replace("bob.smith@example.com", "guest@example.com"), "utf-8")
    live.clear()
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "users/bob.yaml:5:1: email: live user ou_" in result.output
    assert "already has this e-mail; Feishu rejects this with 41002" in result.output
    assert "guest@example.com" not in result.output  # personal data stays masked
    lookups = [r for r in live.requests() if r["path"].endswith("/batch_get_id")]
    assert [r["body"]["emails"] for r in lookups] == [["guest@example.com"]]  # only the changed value
    assert [r["body"]["mobiles"] for r in lookups] == [[]]
    assert "~ @bob " not in result.output


def test_swapping_emails_between_two_planned_users_is_not_a_conflict(run: Cli, live: Live):
    users = run.directory / "users"
    for handle, old, new in (
        ("bob", "bob.smith@example.com", "emma.wilson@example.com"),
        ("emma", "emma.wilson@example.com", "bob.smith@example.com"),
    ):
        path = users / f"{handle}.yaml"
        path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")
    result = run("plan", "--dir", str(run.directory))
    assert "41002" not in result.output
    assert "~ @bob " in result.output and "~ @emma " in result.output


def test_one_malformed_id_fails_only_its_own_user_and_the_others_are_still_planned(run: Cli, live: Live):
    from tests.conftest import write_user

    before = json.loads(run("plan", "--dir", str(run.directory), "--format", "json").stdout)
    write_user(run.directory, "stranger", "user_id: ou_copied.from-another.app\nname: Stranger\n")
    live.clear()
    result = run("plan", "--dir", str(run.directory), "--format", "json")
    assert result.exit_code == 1
    plan = json.loads(result.stdout)
    assert [(e["handle"], e["code"]) for e in plan["errors"]] == [("stranger", 40001)]
    assert plan["changes"] == before["changes"]  # everyone else read and planned as before
    batches = [r for r in live.requests() if r["path"].endswith("/users/batch")]
    refused = [r for r in batches if r["code"] == 40001]
    assert all("ou_copied.from-another.app" in r["query"]["user_ids"] for r in refused)  # halved down to it
    assert len(refused) <= 1 + math.ceil(math.log2(len(batches[0]["query"]["user_ids"])))
