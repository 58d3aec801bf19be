"""The GitHub workflows: linted, and their `run:` steps executed here with the emulator standing in
for Feishu and a fake `gh` standing in for GitHub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from reconciler import bundled
from tests.conftest import APP, Live

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent

# `gh` as the workflows call it; answers come from files, calls are logged. It returns what the
# workflow's --jq expression would select, so each call here must match one in the workflows.
FAKE_GH = r"""#!/usr/bin/env python3
import json, os, shutil, sys
args = sys.argv[1:]
state = os.environ["FAKE_GH_STATE"]
with open(os.path.join(state, "calls.log"), "a") as log:
    log.write(json.dumps(args) + "\n")
def read(name):
    path = os.path.join(state, name)
    return open(path).read() if os.path.exists(path) else ""
if args[:1] == ["api"] and args[1].endswith("/pulls"):
    print(read("pr_number").strip())
elif args[:2] == ["api", "--paginate"] and args[2].endswith("/comments"):
    sys.stdout.write(read("comment.md"))
elif args[:2] == ["issue", "list"]:
    print(read("open_issue").strip())
elif args[:2] in (["issue", "create"], ["issue", "edit"]):
    shutil.copy(args[args.index("--body-file") + 1], os.path.join(state, args[1] + ".md"))
elif args[:2] == ["issue", "close"]:
    open(os.path.join(state, "closed"), "w").write(args[2])
else:
    sys.exit("fake gh: unexpected call " + " ".join(args))
"""


def test_workflows_pass_the_github_workflow_schema():
    checker = shutil.which("check-jsonschema", path=str(BIN)) or "check-jsonschema"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_have_no_zizmor_findings():
    zizmor = shutil.which("zizmor", path=str(BIN)) or "zizmor"
    result = subprocess.run(
        [zizmor, "--offline", "--persona", "pedantic", str(WORKFLOWS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_third_party_actions_are_pinned_by_commit_sha():
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    ref = step["uses"].split("@", 1)[1]
                    assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), (path.name, step["uses"])


def test_ci_runs_the_readme_test_command():
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    runs = [s["run"] for s in ci["jobs"]["test"]["steps"] if "run" in s]
    command = "python -m pip install '.[test]' && python -m pytest"
    assert command in runs
    assert (
        command in (ROOT / "README.md").read_text()
        or "python -m pip install '.[test]' && python -m pytest" in (ROOT / "README.md").read_text()
    )
    assert command in (ROOT / ".ci" / "run").read_text()


@dataclass
class Run:
    steps: list[tuple[str, int]]
    output: str
    workdir: Path
    state: Path

    @property
    def ok(self) -> bool:
        return all(code == 0 for _, code in self.steps)

    def read(self, name: str) -> str:
        return (self.workdir / name).read_text("utf-8")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout of a directory repo: the example directory/ at its root."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copytree(bundled("example"), work / "directory")
    return work


def run_workflow(name: str, live: Live, workdir: Path, state: Path | None = None) -> Run:
    """Execute the `run:` steps of a workflow's job as GitHub would (bash -eo pipefail), stopping at
    the first failure; `uses:` steps are GitHub's own, and the install step is this test's venv."""
    state = state or workdir.parent / "gh-state"
    state.mkdir(exist_ok=True)
    fake_bin = workdir.parent / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "gh").write_text(FAKE_GH)
    (fake_bin / "gh").chmod(0o755)
    summary = workdir.parent / "step-summary.md"
    summary.touch()
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    (job,) = workflow["jobs"].values()
    base_env = {
        "PATH": f"{fake_bin}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(workdir.parent),
        "FEISHU_BASE_URL": live.url,
        "FAKE_GH_STATE": str(state),
        "GITHUB_REPOSITORY": "acme/directory",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(workdir.parent / "output"),
    }
    secrets = {
        "secrets.FEISHU_APP_ID": APP["FEISHU_APP_ID"],
        "secrets.FEISHU_APP_SECRET": APP["FEISHU_APP_SECRET"],
        "github.token": "fake-token",
    }
    steps: list[tuple[str, int]] = []
    output = ""
    for step in job["steps"]:
        if "run" not in step:
            continue
        if step["run"].startswith("python -m pip install"):
            assert step["run"] in ("python -m pip install .", "python -m pip install '.[test]' && python -m pytest")
            continue
        env = dict(base_env)
        for key, value in (step.get("env") or {}).items():
            expr = value.removeprefix("${{").removesuffix("}}").strip()
            env[key] = secrets[expr]
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", step["run"]], cwd=workdir, env=env, capture_output=True, text=True
        )
        steps.append((step.get("name", step["run"][:30]), done.returncode))
        output += done.stdout + done.stderr
        if done.returncode != 0:
            break
    assert APP["FEISHU_APP_SECRET"] not in output + summary.read_text()
    return Run(steps, output + summary.read_text(), workdir, state)


def test_plan_workflow_writes_the_comment_body_and_the_saved_plan(live: Live, workspace: Path):
    run = run_workflow("plan.yml", live, workspace)
    assert run.ok, run.output
    comment = run.read("plan.md")
    assert comment.startswith("### Feishu directory plan")
    assert "**Plan: 5 users to change (7 fields), 7 unchanged.**" in comment
    assert json.loads(run.read("plan.json"))["plan_hash"] in comment
    assert live.writes() == []


def test_plan_workflow_fails_the_check_on_an_invalid_file_and_says_why(live: Live, workspace: Path):
    (workspace / "directory" / "users" / "ghost.yaml").write_text("user_id: ou_x\nnmae: Ghost\n")
    run = run_workflow("plan.yml", live, workspace)
    assert run.steps[-1] == ("Validate", 1)
    assert "unknown key 'nmae'; did you mean 'name'?" in run.read("plan.md")
    assert live.requests() == []


def _reviewed(live: Live, workspace: Path) -> Path:
    """Run plan.yml as on the pull request and hand its comment to the fake GitHub."""
    run = run_workflow("plan.yml", live, workspace)
    assert run.ok, run.output
    (run.state / "pr_number").write_text("7\n")
    (run.state / "comment.md").write_text(run.read("plan.md"))
    return run.state


def test_apply_workflow_applies_the_reviewed_plan_and_publishes_the_report(live: Live, workspace: Path):
    state = _reviewed(live, workspace)
    run = run_workflow("apply.yml", live, workspace, state)
    assert run.ok, run.output
    assert "The plan matches the reviewed plan" in run.output
    assert "**Apply: 5 applied, 0 failed, 0 stale, 0 skipped.**" in (workspace.parent / "step-summary.md").read_text()
    assert sum(r["method"] == "PATCH" for r in live.requests()) == 5


def test_apply_workflow_refuses_a_desired_state_other_than_the_reviewed_one(live: Live, workspace: Path):
    state = _reviewed(live, workspace)
    bob = workspace / "directory" / "users" / "bob.yaml"
    bob.write_text(bob.read_text().replace("Product Manager", "Chief Product Officer"))
    run = run_workflow("apply.yml", live, workspace, state)
    assert run.steps[-1] == ("Check it is the reviewed plan", 1)
    assert "the desired state differs from the one reviewed" in run.output
    assert live.writes() == []


def test_apply_workflow_reports_live_drift_since_review_and_applies(
    live: Live, workspace: Path, seed_user_ids: dict[str, str]
):
    state = _reviewed(live, workspace)
    live.patch(seed_user_ids["sunli"], {"job_title": "Changed in the console"})
    run = run_workflow("apply.yml", live, workspace, state)
    assert run.ok, run.output
    assert "live changed since the review, so the plan differs" in run.output
    assert "Apply: 6 applied" in run.output
    assert live.user(seed_user_ids["sunli"])["job_title"] == "Sales Representative"


def test_apply_workflow_refuses_a_push_without_a_reviewed_plan(live: Live, workspace: Path):
    run = run_workflow("apply.yml", live, workspace)
    assert run.steps[-1] == ("Check it is the reviewed plan", 1)
    assert "no reviewed plan found" in run.output
    assert live.writes() == []


def test_drift_workflow_opens_one_issue_with_both_remedies_then_closes_it(live: Live, workspace: Path):
    run = run_workflow("drift.yml", live, workspace)
    assert run.ok, run.output
    issue = (run.state / "create.md").read_text()
    assert "Adopt the live value into git" in issue and "Revert live to git" in issue
    assert "**Plan: 5 users to change (7 fields), 7 unchanged.**" in issue
    (run.state / "open_issue").write_text("12\n")
    again = run_workflow("drift.yml", live, workspace, run.state)
    assert again.ok and (run.state / "edit.md").exists()  # updated, not a second issue
    run_workflow("apply.yml", live, workspace, _reviewed(live, workspace))
    settled = run_workflow("drift.yml", live, workspace, run.state)
    assert settled.ok and (run.state / "closed").read_text() == "12"
