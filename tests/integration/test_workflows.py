"""The GitHub workflows: linted, and their `run:` steps executed here with the emulator standing in
for Feishu and a fake `gh` standing in for GitHub."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from reconciler import bundled
from tests.conftest import APP, READ_APP, Live, leaked

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent

# `gh` as the workflows call it: a small GitHub holding one pull request's comments. `--jq` is run by a
# real jq (the `jq` package), so the workflows' filters are tested, not imitated. Calls are logged.
FAKE_GH = r"""#!/usr/bin/env python3
import json, os, sys
import jq
args = sys.argv[1:]
state = os.environ["FAKE_GH_STATE"]
with open(os.path.join(state, "calls.log"), "a") as log:
    log.write(json.dumps(args) + "\n")
def read(name, default=""):
    path = os.path.join(state, name)
    return open(path).read() if os.path.exists(path) else default
def comments():
    return json.loads(read("comments.json", "[]"))
def save(items):
    open(os.path.join(state, "comments.json"), "w").write(json.dumps(items))
def option(name):
    return args[args.index(name) + 1] if name in args else None
def out(value):
    expr = option("--jq")
    for item in jq.compile(expr).input_value(value).all() if expr else [value]:
        print(item if isinstance(item, str) else json.dumps(item))
if args[0] == "api":
    method = option("--method") or "GET"
    path = next(a for a in args[1:] if a.startswith("repos/"))
    field = option("-F")
    body = open(field.split("=@", 1)[1]).read() if field else None
    parts = path.split("/")
    if path.endswith("/pulls"):
        number = read("pr_number").strip()
        out([{"number": int(number)}] if number else [])
    elif parts[3] == "issues" and parts[-1] == "comments" and method == "GET":
        out(comments())
    elif parts[3] == "issues" and parts[-1] == "comments" and method == "POST":
        items = comments()
        login = os.environ.get("FAKE_GH_LOGIN", "github-actions[bot]")
        items.append({"id": 1000 + len(items), "user": {"login": login}, "body": body, "issue": parts[4]})
        save(items)
    elif parts[4] == "comments" and method == "PATCH":
        items = comments()
        for c in items:
            if c["id"] == int(parts[5]):
                c["body"] = body
        save(items)
    elif parts[4] == "comments" and method == "GET":
        out(next(c for c in comments() if c["id"] == int(parts[5])))
    else:
        sys.exit("fake gh: unexpected call " + " ".join(args))
elif args[:2] == ["issue", "list"]:
    print(read("open_issue").strip())
elif args[:2] in (["issue", "create"], ["issue", "edit"]):
    open(os.path.join(state, args[1] + ".md"), "w").write(open(option("--body-file")).read())
elif args[:2] == ["issue", "close"]:
    open(os.path.join(state, "closed"), "w").write(args[2])
else:
    sys.exit("fake gh: unexpected call " + " ".join(args))
"""
BOT = "github-actions[bot]"


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
    summary: str

    @property
    def ok(self) -> bool:
        return all(code == 0 for _, code in self.steps)

    def read(self, name: str) -> str:
        return (self.workdir / name).read_text("utf-8")

    def comments(self) -> list[dict]:
        path = self.state / "comments.json"
        return json.loads(path.read_text()) if path.exists() else []


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A checkout of a directory repo: the example directory/ at its root."""
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copytree(bundled("example"), work / "directory")
    return work


INSTALLS = (
    "python -m pip install .",
    "python -m pip install ./base",
    "python -m pip install '.[test]' && python -m pytest",
)


def _condition(expr: str, workdir: Path) -> bool:
    """The `if:` forms the workflows use; any other is a test failure, not a guess."""
    expr = expr.strip().removeprefix("${{").removesuffix("}}").strip()
    if expr.startswith("always() && hashFiles('") and expr.endswith("') != ''"):
        return (workdir / expr.split("'")[1]).exists()
    raise AssertionError(f"the workflow harness does not know the condition {expr!r}")


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _commit_pull_request(workdir: Path) -> tuple[str, str]:
    """The repository as a pull request: what was there first is the base commit, the working tree now
    (the test's edits) the head commit on top of it. (base sha, head sha)."""
    if not (workdir / ".git").exists():
        _git(workdir, "init", "-q")
        _git(workdir, "add", "-A")
        _git(workdir, "commit", "-qm", "base", "--allow-empty")
    _git(workdir, "add", "-A", "--", ".", ":!pr", ":!base", ":!*.md", ":!*.txt", ":!*.json")
    _git(workdir, "commit", "-qm", "pull request", "--allow-empty")
    base = _git(workdir, "rev-parse", "HEAD^")
    (workdir.parent / "pr-base").write_text(base)
    return base, _git(workdir, "rev-parse", "HEAD")


def _squash_merge(workdir: Path) -> None:
    """The push to main a merged pull request makes: the head's tree as one commit on the PR's base."""
    base = workdir.parent / "pr-base"
    if not base.exists():
        _commit_pull_request(workdir)
        return
    _git(workdir, "add", "-A", "--", ".", ":!pr", ":!base", ":!*.md", ":!*.txt", ":!*.json")
    tree = _git(workdir, "write-tree")
    merged = _git(workdir, "commit-tree", tree, "-p", base.read_text().strip(), "-m", "merge")
    _git(workdir, "reset", "-q", merged)


def _sparse_clone(workdir: Path, target: Path) -> None:
    """actions/checkout with sparse-checkout: directory and fetch-depth: 0."""
    _git(workdir.parent, "clone", "-q", "--no-checkout", str(workdir), str(target))
    _git(target, "sparse-checkout", "set", "directory")
    _git(target, "checkout", "-q", "HEAD")


def run_workflow(
    name: str, live: Live, workdir: Path, state: Path | None = None, *, fork: bool = False, secrets: bool = True
) -> Run:
    """Execute a workflow's job as GitHub would: each `run:` step written to a file and run by GitHub's
    default shell, `bash -e {0}` (no pipefail: a pipe's status is its last command's), in its
    working-directory; a step without `if:` is skipped after a failure. actions/checkout is emulated
    (`path: pr` gets the PR's directory/ only), setup-python and the install step are this test's venv."""
    state = state or workdir.parent / "gh-state"
    state.mkdir(exist_ok=True)
    fake_bin = workdir.parent / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "gh").write_text(FAKE_GH)
    (fake_bin / "gh").chmod(0o755)
    summary = workdir.parent / f"step-summary-{name}.md"
    summary.write_text("")
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    (job,) = workflow["jobs"].values()
    assert "defaults" not in workflow and "defaults" not in job, "the harness runs GitHub's default shell only"
    assert not any("shell" in step for step in job["steps"]), "the harness runs GitHub's default shell only"
    base_env = {
        "PATH": f"{fake_bin}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(workdir.parent),
        "FEISHU_BASE_URL": live.url,
        "FAKE_GH_STATE": str(state),
        "GITHUB_REPOSITORY": "acme/directory",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(workdir.parent / "output"),
    }
    context = {
        "secrets.FEISHU_APP_ID": APP["FEISHU_APP_ID"],
        "secrets.FEISHU_APP_SECRET": APP["FEISHU_APP_SECRET"],
        "secrets.FEISHU_READ_APP_ID": READ_APP["FEISHU_APP_ID"],  # README's plan app: it cannot write
        "secrets.FEISHU_READ_APP_SECRET": READ_APP["FEISHU_APP_SECRET"],
        "github.token": "fake-token",
        "github.event.pull_request.number": "7",
        "github.event.pull_request.head.repo.full_name": "someone/directory-fork" if fork else "acme/directory",
        "github.event.pull_request.base.sha": "b" * 40,
        "github.event.pull_request.head.sha": "c" * 40,
    }
    if fork or not secrets:  # GitHub gives fork pull requests empty secrets
        context.update({k: "" for k in context if k.startswith("secrets.")})
    steps: list[tuple[str, int]] = []
    output = ""
    failed = False
    triggers = workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads the key `on` as true
    if "pull_request" in triggers:
        base_sha, head_sha = _commit_pull_request(workdir)
        context["github.event.pull_request.base.sha"] = base_sha
        context["github.event.pull_request.head.sha"] = head_sha
    else:
        _squash_merge(workdir)
    for number, step in enumerate(job["steps"]):
        if "if" in step:
            if not _condition(step["if"], workdir):
                continue
        elif failed:
            continue
        if "uses" in step:
            path = (step.get("with") or {}).get("path")
            if step["uses"].startswith("actions/checkout@") and path == "pr":
                _sparse_clone(workdir, workdir / "pr")  # sparse: directory/ (and root files), full history
            elif step["uses"].startswith("actions/checkout@") and path:
                (workdir / path).mkdir()
            continue
        if step["run"] in INSTALLS:
            continue
        env = dict(base_env)
        for key, value in (step.get("env") or {}).items():
            env[key] = context[value.removeprefix("${{").removesuffix("}}").strip()]
        script = workdir.parent / f"step-{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "-e", str(script)],  # exactly GitHub's default for a step without `shell:`: bash -e {0}
            cwd=workdir / step.get("working-directory", "."),
            env=env,
            capture_output=True,
            text=True,
        )
        steps.append((step.get("name", step["run"][:30]), done.returncode))
        output += done.stdout + done.stderr
        failed = failed or done.returncode != 0
    summary_text = summary.read_text()
    assert not leaked(output + summary_text + json.dumps(Run([], "", workdir, state, "").comments()))
    return Run(steps, output + summary_text, workdir, state, summary_text)


def test_the_harness_runs_steps_without_pipefail_as_github_does(tmp_path: Path):
    script = tmp_path / "step.sh"
    script.write_text("false | cat\necho reached\n")
    done = subprocess.run(["bash", "-e", str(script)], capture_output=True, text=True)
    assert done.returncode == 0 and "reached" in done.stdout  # so no step may rely on a pipe's status


def test_no_step_pipes_a_command_whose_failure_matters():
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                for line in step.get("run", "").splitlines():
                    code = re.sub(r"'[^']*'", "''", line.split(" #")[0])  # a jq filter's pipes are not the shell's
                    assert not re.search(r"(?<!\|)\|(?!\|)", code), (path.name, line)


def test_plan_runs_on_every_pull_request_and_readme_names_the_real_required_checks():
    plan = yaml.safe_load((WORKFLOWS / "plan.yml").read_text())
    assert plan[True]["pull_request"] is None  # no paths filter: a required check must run on every PR
    readme = (ROOT / "README.md").read_text()
    for workflow, job in (("ci.yml", "test"), ("plan.yml", "plan")):
        name = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["name"]
        assert f"`{name}`" in readme


def test_no_workflow_uploads_an_artifact():
    for path in WORKFLOWS.glob("*.yml"):
        assert "upload-artifact" not in path.read_text(), path.name


def test_only_the_apply_job_holds_the_write_secret_in_a_protected_environment():
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            text = json.dumps(job)
            if "secrets.FEISHU_APP_SECRET" in text:
                assert path.name == "apply.yml" and job["environment"] == "feishu-apply"


def _reviewed(live: Live, workspace: Path) -> Run:
    """Run plan.yml on pull request #7: the bot's comment is then the reviewed plan."""
    run = run_workflow("plan.yml", live, workspace)
    assert run.ok, run.output
    (run.state / "pr_number").write_text("7\n")
    shutil.rmtree(workspace / "pr")
    shutil.rmtree(workspace / "base")
    return run


def test_plan_workflow_comments_the_plan_with_its_identity_on_the_first_line(live: Live, workspace: Path):
    run = run_workflow("plan.yml", live, workspace)
    assert run.ok, run.output
    (comment,) = run.comments()
    assert comment["user"]["login"] == BOT
    first, _, rest = comment["body"].partition("\n")
    assert first.startswith("<!-- reconciler-plan sha256:") and rest.startswith("### Feishu directory plan")
    assert "**Plan: 0 to create, 5 to change, 0 to offboard. 7 unchanged.**" in comment["body"]
    assert live.writes() == []


def test_plan_workflow_updates_its_one_comment_on_the_next_push(live: Live, workspace: Path):
    run = run_workflow("plan.yml", live, workspace)
    shutil.rmtree(workspace / "pr")
    shutil.rmtree(workspace / "base")
    bob = workspace / "directory" / "users" / "bob.yaml"
    bob.write_text(bob.read_text().replace("Product Manager", "Chief Product Officer"))
    again = run_workflow("plan.yml", live, workspace, run.state)
    assert again.ok, again.output
    (comment,) = again.comments()
    assert "Chief Product Officer" in comment["body"]


def test_plan_workflow_fails_the_check_on_an_invalid_file_and_says_why(live: Live, workspace: Path):
    (workspace / "directory" / "users" / "ghost.yaml").write_text("user_id: ou_x\nnmae: Ghost\n")
    run = run_workflow("plan.yml", live, workspace)
    assert run.steps[-2:] == [("Validate", 1), ("Comment the plan on the pull request", 0)]
    (comment,) = run.comments()
    assert comment["body"].startswith("<!-- reconciler-plan invalid -->\n")
    assert "unknown key 'nmae'; did you mean 'name'?" in comment["body"]
    assert live.requests() == []


def test_plan_workflow_on_a_fork_validates_and_explains_why_there_is_no_live_plan(live: Live, workspace: Path):
    run = run_workflow("plan.yml", live, workspace, fork=True)
    assert run.ok, run.output
    assert "comes from a fork, and GitHub gives pull requests from forks no" in run.summary
    assert run.comments() == [] and live.requests() == []


def test_plan_workflow_without_its_secrets_fails_and_names_them(live: Live, workspace: Path):
    run = run_workflow("plan.yml", live, workspace, secrets=False)
    assert run.steps[-2] == ("Plan", 1)
    assert "FEISHU_READ_APP_ID and FEISHU_READ_APP_SECRET are not set" in run.output
    assert live.requests() == []


def test_apply_workflow_applies_the_reviewed_plan_and_posts_the_report(live: Live, workspace: Path):
    reviewed = _reviewed(live, workspace)
    run = run_workflow("apply.yml", live, workspace, reviewed.state)
    assert run.ok, run.output
    assert "**Apply: 5 applied, 0 failed, 0 stale, 0 skipped.**" in run.summary
    assert sum(r["method"] == "PATCH" for r in live.requests()) == 5
    report = run.comments()[-1]
    assert report["issue"] == "7" and "**Apply: 5 applied" in report["body"]


def test_apply_workflow_refuses_a_desired_state_other_than_the_reviewed_one(live: Live, workspace: Path):
    reviewed = _reviewed(live, workspace)
    bob = workspace / "directory" / "users" / "bob.yaml"
    bob.write_text(bob.read_text().replace("Product Manager", "Chief Product Officer"))
    run = run_workflow("apply.yml", live, workspace, reviewed.state)
    assert ("Apply", 1) in run.steps
    assert "the plan now is not the reviewed plan" in run.output
    assert live.writes() == []
    assert "Nothing was applied" in run.comments()[-1]["body"]


def test_apply_workflow_refuses_when_live_changed_the_writes_since_review(
    live: Live, workspace: Path, seed_user_ids: dict[str, str]
):
    reviewed = _reviewed(live, workspace)
    live.patch(seed_user_ids["sunli"], {"job_title": "Changed in the console"})
    run = run_workflow("apply.yml", live, workspace, reviewed.state)
    assert ("Apply", 1) in run.steps
    assert "the directory or live state changed since the review" in run.output
    assert sum(w["method"] == "PATCH" for w in live.writes()) == 1  # the console's own change only


def test_apply_workflow_refuses_a_push_without_a_reviewed_plan(live: Live, workspace: Path):
    run = run_workflow("apply.yml", live, workspace)
    assert ("Apply", 1) in run.steps
    assert "identifies no reviewed plan" in run.output
    assert live.writes() == []


@pytest.mark.parametrize("author", ["mallory", BOT])
def test_apply_workflow_ignores_an_identity_anyone_else_could_write(live: Live, workspace: Path, author: str):
    reviewed = _reviewed(live, workspace)
    bob = workspace / "directory" / "users" / "bob.yaml"
    bob.write_text(bob.read_text().replace("Product Manager", "Chief Product Officer"))
    shutil.rmtree(workspace / "pr", ignore_errors=True)
    forged = run_workflow("plan.yml", live, workspace, workspace.parent / "other-pr")  # the unreviewed plan
    forged_marker = forged.comments()[0]["body"].split("\n", 1)[0]
    comments = reviewed.comments()
    if author == BOT:  # the bot's comment holds the forged marker, but not on its first line
        comments[0]["body"] = comments[0]["body"].replace("### Feishu", f"{forged_marker}\n### Feishu", 1)
        comments[0]["body"] = "x" + comments[0]["body"]
    else:
        comments.append({"id": 5000, "user": {"login": author}, "body": forged_marker, "issue": "7"})
    (reviewed.state / "comments.json").write_text(json.dumps(comments))
    live.clear()
    run = run_workflow("apply.yml", live, workspace, reviewed.state)
    assert ("Apply", 1) in run.steps
    assert live.writes() == []


def test_drift_workflow_opens_one_issue_with_both_remedies_then_closes_it(live: Live, workspace: Path):
    run = run_workflow("drift.yml", live, workspace)
    assert run.ok, run.output
    issue = (run.state / "create.md").read_text()
    assert "Adopt the live value into git" in issue and "Revert live to git" in issue
    assert "**Plan: 0 to create, 5 to change, 0 to offboard. 7 unchanged.**" in issue
    (run.state / "open_issue").write_text("12\n")
    again = run_workflow("drift.yml", live, workspace, run.state)
    assert again.ok and (run.state / "edit.md").exists()  # updated, not a second issue
    reviewed = _reviewed(live, workspace)
    run_workflow("apply.yml", live, workspace, reviewed.state)
    settled = run_workflow("drift.yml", live, workspace, run.state)
    assert settled.ok and (run.state / "closed").read_text() == "12"


def test_a_pull_request_that_removes_a_file_plans_the_leaver_and_the_merge_offboards_them(live: Live, workspace: Path):
    _git(workspace, "init", "-q")
    _git(workspace, "add", "-A")
    _git(workspace, "commit", "-qm", "base")
    (workspace / "directory" / "users" / "david.yaml").unlink()
    planned = _reviewed(live, workspace)
    (comment,) = planned.comments()
    assert "1 to offboard" in comment["body"] and "@david" in comment["body"]
    run = run_workflow("apply.yml", live, workspace, planned.state)
    assert run.ok, run.output
    frozen = [w for w in live.writes() if w["body"] == {"is_frozen": True}]
    assert [w["path"].rsplit("/", 1)[-1] for w in frozen] == ["ou_172522ec1028ab781d9dfd17eaca4427"]


def test_the_plan_comment_names_the_commit_and_when_it_was_planned(live: Live, workspace: Path):
    run = run_workflow("plan.yml", live, workspace)
    assert run.ok, run.output
    (comment,) = run.comments()
    head = _git(workspace, "rev-parse", "HEAD")
    assert f"commit `{head[:12]}`" in comment["body"]
    assert re.search(r"planned \d{4}-\d\d-\d\d \d\d:\d\d UTC", comment["body"])
