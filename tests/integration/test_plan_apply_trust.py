"""What makes plan and apply trustworthy for a PR reviewer and a merge job (issue: plan/apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cli, Live, invoke, start

BATCH = "/open-apis/contact/v3/users/batch"


def _edit(directory: Path, handle: str, old: str, new: str) -> None:
    path = directory / "users" / f"{handle}.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def _settings(directory: Path, extra: str) -> None:
    path = directory / "reconciler.yaml"
    data = {**(yaml.safe_load(path.read_text("utf-8")) or {}), **yaml.safe_load(extra)}
    path.write_text(yaml.safe_dump(data), "utf-8")


def test_saved_plan_whose_writes_changed_with_live_is_refused_whole_and_nothing_is_sent(
    run: Cli, live: Live, tmp_path: Path, seed_user_ids: dict[str, str]
):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    live.patch(seed_user_ids["zhangsan"], {"job_title": "Senior Engineer"})  # already what git wants
    live.clear()
    result = run("apply", str(out), "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1
    assert (
        "is not what would be sent now (live changed since it was made: @zhangsan: job_title would be sent differently)"
        in result.output
    )
    assert live.writes() == []


def test_saved_plan_applies_when_live_moved_but_the_writes_are_the_same(
    run: Cli, live: Live, tmp_path: Path, seed_user_ids: dict[str, str]
):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    live.patch(seed_user_ids["zhangsan"], {"job_title": "Architect"})  # the write still sets git's value
    live.patch(seed_user_ids["zhangsan"], {"nickname": "Zhang"})  # zhangsan.yaml does not declare nickname
    result = run("apply", str(out), "--dir", str(run.directory), "--auto-approve")
    assert "Apply: 5 applied, 0 failed, 0 stale, 0 skipped." in result.output
    assert live.user(seed_user_ids["zhangsan"])["job_title"] == "Senior Engineer"


def test_saved_plan_from_another_desired_state_is_refused(run: Cli, live: Live, tmp_path: Path):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    _edit(run.directory, "bob", "Product Manager", "Senior Product Manager")
    live.clear()
    result = run("apply", str(out), "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1
    assert "the directory files changed since it was made: @bob: job_title would be sent differently" in result.output
    assert live.writes() == []


def _tamper(path: Path, change) -> None:
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.chmod(0o600)
    path.write_text(json.dumps(data), "utf-8")


def _rehash(data: dict) -> None:
    from reconciler.plan import Plan

    data["plan_hash"] = Plan.from_dict(data).hash


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["changes"][0]["body"].update(is_frozen=True), "its plan_hash does not match"),
        (lambda d: d.pop("plan_hash"), "plan_hash is missing or malformed"),
        (lambda d: d.update(plan_hash="sha256:x"), "plan_hash is missing or malformed"),
        (lambda d: (d["changes"][0]["body"].update(is_frozen=True), _rehash(d)), "would be sent differently"),
        (lambda d: (d["changes"].pop(), _rehash(d)), "now changed"),
        (lambda d: (d.update(base_url="https://open.larksuite.com"), _rehash(d)), "made with base_url"),
        (lambda d: (d.update(user_id_type="union_id"), _rehash(d)), "made with user_id_type"),
        (lambda d: (d.update(department_id_type="department_id"), _rehash(d)), "made with department_id_type"),
        (lambda d: (d.update(app_id="cli_other"), _rehash(d)), "made with app (FEISHU_APP_ID) 'cli_other'"),
        (lambda d: (d.update(options={**d["options"], "targets": ["bob"]}), _rehash(d)), "no longer changed"),
        (lambda d: d.update(format_version="0"), "format_version"),
        (lambda d: d["changes"][0].pop("body"), "damaged"),
    ],
)
def test_a_tampered_or_foreign_saved_plan_is_refused_and_nothing_is_sent(
    run: Cli, live: Live, tmp_path: Path, change, message: str
):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    _tamper(out, change)
    live.clear()
    result = run("apply", str(out), "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert live.writes() == []


def test_saved_plan_is_owner_read_only(run: Cli, tmp_path: Path):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    assert out.stat().st_mode & 0o777 == 0o400
    run("plan", "--dir", str(run.directory), "--out", str(out))  # saving again replaces it
    assert out.stat().st_mode & 0o777 == 0o400


def test_apply_of_a_saved_plan_shows_it_before_asking(run: Cli, live: Live, tmp_path: Path):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    result = run("apply", str(out), "--dir", str(run.directory))
    assert "~ @bob" in result.output and "Plan: 0 to create, 5 to change" in result.output
    assert "there is no terminal: pass --auto-approve" in result.output
    assert live.writes() == []


def test_show_renders_a_saved_plan_without_any_request(run: Cli, live: Live, tmp_path: Path):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--out", str(out))
    live.clear()
    for fmt, expected in (("text", "Plan: 0 to create, 5 to change"), ("markdown", "<!-- reconciler-plan sha256:")):
        result = run("show", str(out), "--format", fmt)
        assert result.exit_code == 0 and expected in result.output
    assert live.requests() == []


def test_targeted_saved_plan_applies_its_targets_only(run: Cli, live: Live, tmp_path: Path, seed_user_ids):
    out = tmp_path / "plan.json"
    run("plan", "--dir", str(run.directory), "--target", "@bob", "--out", str(out))
    result = run("apply", str(out), "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 0, result.output
    patched = [r["path"].rsplit("/", 1)[1] for r in live.requests() if r["method"] == "PATCH"]
    assert patched == [seed_user_ids["bob"]]


def test_protected_matches_a_user_id_as_well_as_a_handle(run: Cli, live: Live, seed_user_ids: dict[str, str]):
    _settings(run.directory, f'protected: ["{seed_user_ids["bob"]}", "@zhaolei"]\n')
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert "- @bob skipped: protected in reconciler.yaml" in result.output
    assert not any(r["path"].endswith(seed_user_ids["bob"]) for r in live.writes())


def test_a_protected_entry_that_matches_no_user_is_an_error(run: Cli, live: Live):
    _settings(run.directory, 'protected: ["@zhaolie"]\n')
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "protected: 'zhaolie' matches no user file (handle) and no declared user_id" in result.output
    assert live.requests() == []


def test_targeted_plan_reads_and_shows_only_its_targets(run: Cli, live: Live, seed_user_ids: dict[str, str]):
    result = run("plan", "--dir", str(run.directory), "--target", "@bob", "--target", "emma")
    batch = [r for r in live.requests() if r["path"] == BATCH]
    assert [sorted(r["query"]["user_ids"]) for r in batch] == [sorted([seed_user_ids["bob"], seed_user_ids["emma"]])]
    assert "~ @bob " in result.output and "~ @emma " in result.output and "@zhangsan" not in result.output
    assert "Plan: 0 to create, 2 to change, 0 to offboard. 0 unchanged." in result.output


def test_targeted_apply_patches_only_its_target(run: Cli, live: Live, seed_user_ids: dict[str, str]):
    run("apply", "--dir", str(run.directory), "--target", "@bob", "--auto-approve")
    patched = [r["path"].rsplit("/", 1)[1] for r in live.requests() if r["method"] == "PATCH"]
    assert patched == [seed_user_ids["bob"]]


def test_unknown_target_is_a_usage_error(run: Cli, live: Live):
    result = run("plan", "--dir", str(run.directory), "--target", "@nobody")
    assert result.exit_code == 1
    assert "--target @nobody: no such user file" in result.output
    assert live.requests() == []


def test_max_changes_guard_refuses_and_names_its_override(run: Cli, live: Live):
    _settings(run.directory, "max_changes: 2\n")
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1
    assert "max_changes is 2" in result.output and "--allow-large" in result.output
    assert live.writes() == []
    result = run("apply", "--dir", str(run.directory), "--auto-approve", "--allow-large")
    assert result.exit_code == 0 and "Apply: 5 applied" in result.output


def test_freeze_guard_refuses_and_allow_freeze_overrides(run: Cli, live: Live):
    _settings(run.directory, "max_freezes: 1\n")
    for handle in ("sunli", "david"):
        _append(run.directory / "users" / f"{handle}.yaml", "is_frozen: true\n")
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1 and "freezes 2 users" in result.output and "--allow-freeze" in result.output
    assert live.writes() == []
    result = run("apply", "--dir", str(run.directory), "--auto-approve", "--allow-freeze")
    assert result.exit_code == 0, result.output


def test_department_move_guard_counts_moves(run: Cli, live: Live):
    _settings(run.directory, "max_department_moves: 0\n")
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1 and "moves 1 users between departments" in result.output
    assert live.writes() == []


def test_protected_user_is_never_touched(run: Cli, live: Live, seed_user_ids: dict[str, str]):
    _settings(run.directory, 'protected: ["@bob"]\n')
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert "- @bob skipped: protected in reconciler.yaml" in result.output
    assert not any(r["path"].endswith(seed_user_ids["bob"]) for r in live.writes())


def test_freezing_the_founder_fails_with_the_docs_explanation_and_others_apply(run: Cli, live: Live):
    _settings(run.directory, "protected: []\n")
    _append(run.directory / "users" / "zhaolei.yaml", "is_frozen: true\n")
    result = run("apply", "--dir", str(run.directory), "--auto-approve", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    founder = next(r for r in report["results"] if r["handle"] == "zhaolei")
    assert founder["status"] == "failed" and founder["code"] == 44036
    assert "cannot freeze the tenant founder" in founder["message"] and founder["log_id"]
    assert report["summary"] == {"applied": 5, "applied-unverified": 0, "failed": 1, "stale": 0, "skipped": 0}


def test_personal_data_is_masked_in_markdown_and_json_unless_asked(run: Cli):
    _edit(run.directory, "zhangsan", "zhangsan@example.com", "san.zhang@example.com")
    _edit(run.directory, "zhangsan", '"+8613011111111"', '"+8613099998888"')
    for fmt in ("markdown", "json", "text"):
        out = run("plan", "--dir", str(run.directory), "--format", fmt).output
        for secret in ("san.zhang@example.com", "13099998888", "zhangsan@example.com", "13011111111"):
            assert secret not in out, (fmt, secret)
        # reviewable, not readable: country code and last 4 digits, first letter and domain
        assert "+86 •••••••8888" in out and "s•••@example.com" in out, (fmt, out)
    shown = run("plan", "--dir", str(run.directory), "--format", "json", "--show-sensitive").output
    assert "san.zhang@example.com" in shown and "+8613099998888" in shown


def test_show_unmanaged_lists_live_users_without_a_file(run: Cli):
    result = run("plan", "--dir", str(run.directory), "--show-unmanaged")
    assert "1 live users in the managed departments have no file (never touched)." in result.output
    assert "访客 Guest" in result.output


def test_apply_rerun_converges_and_sends_nothing(run: Cli, live: Live):
    run("apply", "--dir", str(run.directory), "--auto-approve")
    live.clear()
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 0 and "Nothing to apply." in result.output
    assert live.writes() == []


def test_write_only_field_is_sent_only_when_changed_since_the_git_ref(run: Cli, live: Live, tmp_path: Path):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=run.directory, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "base", "--allow-empty")
    _append(run.directory / "users" / "bob.yaml", "avatar_key: k-bob\n")
    _append(run.directory / "users" / "emma.yaml", "avatar_key: k-emma\n")
    git("add", "-A")
    git("-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "avatars")
    _edit(run.directory, "emma", "avatar_key: k-emma", "avatar_key: k-emma-2")
    plain = run("plan", "--dir", str(run.directory), "--format", "json")
    assert all("avatar_key" not in c["body"] for c in json.loads(plain.stdout)["changes"])
    since = json.loads(run("plan", "--dir", str(run.directory), "--format", "json", "--since", "HEAD").stdout)
    bodies = {c["handle"]: c["body"] for c in since["changes"]}
    assert bodies["emma"]["avatar_key"] == "k-emma-2" and "avatar_key" not in bodies["bob"]


def test_freezing_a_tenant_manager_is_refused_before_any_request(run: Cli, live: Live, seed_user_ids: dict[str, str]):
    _append(run.directory / "users" / "chenjing.yaml", "is_frozen: true\n")
    result = run("apply", "--dir", str(run.directory), "--auto-approve")
    assert result.exit_code == 1
    assert "✗ @chenjing failed: refused: freezing a tenant manager is never applied" in result.output
    assert "Apply: 5 applied, 1 failed" in result.output
    assert not any(r["path"].endswith(seed_user_ids["chenjing"]) for r in live.writes())


@pytest.mark.parametrize(("state", "code"), [("is_resigned", 42006), ("is_unjoin", 44010), ("is_exited", 44011)])
def test_a_change_to_a_user_feishu_refuses_to_update_is_a_plan_error_not_an_apply_failure(
    org: Path, state: str, code: int
):
    from reconciler.emulator import demo_seed

    seed = demo_seed()
    for live in start(seed):
        changed = json.loads(invoke(live, "plan", "--dir", str(org), "--format", "json").stdout)["changes"][0]
        for user in seed["users"]:
            if user["open_id"] == changed["user_id"]:
                user["status"] = {**(user.get("status") or {}), state: True}
    for live in start(seed):
        result = invoke(live, "plan", "--dir", str(org), "--format", "json")
        assert result.exit_code == 1
        plan = json.loads(result.stdout)
        assert changed["handle"] not in [c["handle"] for c in plan["changes"]]
        assert [(e["handle"], e["code"]) for e in plan["errors"]] == [(changed["handle"], code)]
        live.clear()
        assert invoke(live, "apply", "--dir", str(org), "--auto-approve").exit_code == 1
        assert live.writes() == []  # the plan has errors: nothing is applied


def test_the_plan_says_which_guard_apply_will_trip_and_its_flag(run: Cli):
    path = run.directory / "reconciler.yaml"
    path.write_text(path.read_text("utf-8").replace("max_changes: 50", "max_changes: 1"), "utf-8")
    result = run("plan", "--dir", str(run.directory), "--format", "markdown")
    assert "apply will refuse this plan as it stands: the plan changes 5 users; max_changes is 1" in result.output
    assert "--allow-large" in result.output


def test_the_plan_says_apply_will_skip_a_protected_user(run: Cli):
    _append(run.directory / "users" / "zhaolei.yaml", "city: Beijing\n")
    result = run("plan", "--dir", str(run.directory))
    assert "apply will skip @zhaolei: protected in reconciler.yaml" in result.output
