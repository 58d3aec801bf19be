"""A new hire through the pull request: a file without user_id is planned as a creation (+), created
once with a client_token, and found again by their mobile afterwards, so every re-run converges."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli, Live, write_user

HIRE = """\
name: 新同学
en_name: New Colleague
mobile: "+8613700000009"
email: new.colleague@example.com
department_ids: ["@engineering"]
leader_user_id: "@lisi"
employee_type: 1
job_title: Engineer
"""


def _creates(live: Live) -> list[dict]:
    return [w for w in live.writes() if w["method"] == "POST" and w["path"] == "/open-apis/contact/v3/users"]


def _holders(live: Live, mobile: str) -> list[dict]:
    return [u for u in live.state()["users"] if u.get("mobile") == mobile]


def test_a_file_without_user_id_is_planned_as_a_creation_with_its_whole_body(run: Cli):
    write_user(run.directory, "newbie", HIRE)
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 0, result.output
    assert "+ @newbie  新同学  (new)" in result.output
    assert '+ job_title: "Engineer"' in result.output
    assert "Plan: 1 to create, 5 to change, 0 to offboard." in result.output


def test_apply_creates_the_hire_once_and_the_next_plan_converges(run: Cli, live: Live):
    write_user(run.directory, "newbie", HIRE)
    applied = run("apply", "--auto-approve", "--dir", str(run.directory))
    assert applied.exit_code == 0, applied.output
    (post,) = _creates(live)
    assert post["query"]["client_token"][0]
    assert post["body"] == {
        "name": "新同学",
        "en_name": "New Colleague",
        "email": "new.colleague@example.com",
        "mobile": "+8613700000009",
        "department_ids": ["od-4e6ac4d14bcd5071a37a39de902c7141"],
        "leader_user_id": "ou_dc3a8f1670d65bea69b7b65048a0ac40",
        "employee_type": 1,
        "job_title": "Engineer",
    }
    (person,) = _holders(live, "+8613700000009")
    assert person["status"]["is_unjoin"] is True  # invited
    again = run("plan", "--detailed-exitcode", "--dir", str(run.directory))
    assert again.exit_code == 0, again.output
    assert f"add `user_id: {person['open_id']}`" in again.output


def test_a_lost_answer_to_the_create_is_retried_and_creates_nobody_twice(run: Cli, live: Live):
    write_user(run.directory, "newbie", HIRE)
    live.faults(rate=1.0, kinds=["lost"], endpoints=["users.create"], seed=3)
    applied = run("apply", "--auto-approve", "--dir", str(run.directory))
    live.faults()
    assert len(_creates(live)) >= 2, "the client should have re-sent the create whose answer was lost"
    assert len({tuple(c["query"]["client_token"]) for c in _creates(live)}) == 1
    assert len(_holders(live, "+8613700000009")) == 1
    rerun = run("apply", "--auto-approve", "--dir", str(run.directory))
    assert rerun.exit_code == 0, rerun.output
    assert len(_holders(live, "+8613700000009")) == 1
    assert "Traceback" not in applied.output + rerun.output


def test_a_hire_whose_mobile_someone_holds_is_that_person_not_a_new_one(run: Cli, live: Live):
    (run.directory / "users" / "zhangsan.yaml").unlink()  # 张三 is live, but no file names them by id
    write_user(run.directory, "zhang", HIRE.replace("+8613700000009", "+8613011111111"))  # 张三's mobile
    result = run("plan", "--dir", str(run.directory))
    assert "+ @zhang" not in result.output
    assert "already exists as ou_01d7f40760960e7bd9443513f22ab9af" in result.output


def test_a_hire_without_the_fields_create_requires_is_invalid(run: Cli):
    write_user(run.directory, "newbie", "name: Half\n")
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1
    for code in ("41010", "41041", "41059"):
        assert code in result.output


def test_naming_a_hire_as_leader_before_they_exist_is_explained(run: Cli, org: Path):
    write_user(run.directory, "newbie", HIRE)
    path = run.directory / "users" / "zhangsan.yaml"
    path.write_text(path.read_text("utf-8").replace('"@lisi"', '"@newbie"'), "utf-8")
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "@newbie is a new hire with no id until they are created" in result.output


def test_a_hire_with_a_foreign_mobile_needs_an_email(run: Cli):
    write_user(
        run.directory,
        "newbie",
        HIRE.replace('"+8613700000009"', '"+41446681899"').replace("email: new.colleague@example.com\n", ""),
    )
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "newbie.yaml:3:1: mobile: a new hire with a non-+86 mobile needs an e-mail too" in result.output
