"""A leaver through the pull request: a user file removed since --since REF is offboarded (frozen by
default, or deleted with the declared acceptors), behind guards the plan already shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Cli, Live

DAVID = "ou_172522ec1028ab781d9dfd17eaca4427"  # nobody names David as leader


def _git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args], cwd=directory, check=True, capture_output=True
    )


@pytest.fixture
def repo(run: Cli) -> Path:
    """The example directory committed as the base of a change, with its drift already applied."""
    assert run("apply", "--auto-approve", "--dir", str(run.directory)).exit_code == 0
    _git(run.directory, "init", "-q")
    _git(run.directory, "add", "-A")
    _git(run.directory, "commit", "-qm", "base")
    run.live.clear()
    return run.directory


def _commit_settings(repo: Path, extra: str) -> None:
    """Add settings to reconciler.yaml, committed: part of the base the leavers are planned against."""
    path = repo / "reconciler.yaml"
    path.write_text(path.read_text("utf-8") + extra, "utf-8")
    _git(repo, "commit", "-qam", "settings")


def _plan_since_head(run: Cli, repo: Path) -> Result:
    return run("plan", "--dir", str(repo), "--since", "HEAD")


def _apply_one_write(run: Cli, live: Live, repo: Path) -> dict:
    """Apply the leavers since HEAD: it succeeds and makes exactly one write, returned."""
    applied = run("apply", "--auto-approve", "--dir", str(repo), "--since", "HEAD")
    assert applied.exit_code == 0, applied.output
    (write,) = live.writes()
    return write


def _converged(run: Cli, repo: Path) -> None:
    again = run("plan", "--detailed-exitcode", "--dir", str(repo), "--since", "HEAD")
    assert again.exit_code == 0, again.output


def test_a_removed_file_is_planned_as_an_offboarding(run: Cli, repo: Path):
    (repo / "users" / "david.yaml").unlink()
    plain = run("plan", "--dir", str(repo))
    assert "Plan: 0 to create, 0 to change, 0 to offboard." in plain.output  # without --since: no base
    result = _plan_since_head(run, repo)
    assert result.exit_code == 0, result.output
    assert "- @david  David Müller" in result.output
    assert "the person is frozen (reversible" in result.output
    assert "Plan: 0 to create, 0 to change, 1 to offboard." in result.output


def test_apply_freezes_the_leaver_and_the_next_plan_converges(run: Cli, live: Live, repo: Path):
    (repo / "users" / "david.yaml").unlink()
    write = _apply_one_write(run, live, repo)
    assert write["method"] == "PATCH" and write["body"] == {"is_frozen": True} and write["path"].endswith(DAVID)
    assert live.user(DAVID)["status"]["is_frozen"] is True
    _converged(run, repo)


def test_delete_sends_the_declared_acceptors(run: Cli, live: Live, repo: Path):
    _commit_settings(repo, "offboarding: delete\noffboarding_acceptors: {docs: leader, calendar: '@lisi'}\n")
    (repo / "users" / "david.yaml").unlink()
    planned = _plan_since_head(run, repo)
    assert "the person is deleted (删除用户" in planned.output
    assert "calendar_acceptor_user_id: 李四 (@lisi)" in planned.output
    write = _apply_one_write(run, live, repo)
    assert write["method"] == "DELETE" and write["path"].endswith(DAVID)
    leader = live.user(DAVID)["leader_user_id"] if "leader_user_id" in live.user(DAVID) else None
    assert write["body"]["calendar_acceptor_user_id"] == "ou_dc3a8f1670d65bea69b7b65048a0ac40"  # @lisi
    assert "docs_acceptor_user_id" in write["body"] or leader is None
    assert live.user(DAVID)["status"]["is_resigned"] is True
    _converged(run, repo)


def test_more_leavers_than_max_offboards_are_refused_naming_the_flag(run: Cli, live: Live, repo: Path):
    _commit_settings(repo, "max_offboards: 1\n")
    for handle in ("david", "emma"):
        (repo / "users" / f"{handle}.yaml").unlink()
    refused = run("apply", "--auto-approve", "--dir", str(repo), "--since", "HEAD")
    assert refused.exit_code == 1
    assert "max_offboards is 1" in refused.output and "--allow-offboard" in refused.output
    assert live.writes() == []
    allowed = run("apply", "--auto-approve", "--allow-offboard", "--dir", str(repo), "--since", "HEAD")
    assert allowed.exit_code == 0, allowed.output
    assert len(live.writes()) == 2


def test_a_protected_leaver_is_refused_in_the_plan(run: Cli, live: Live, repo: Path):
    path = repo / "reconciler.yaml"
    path.write_text(path.read_text("utf-8").replace('["@zhaolei"]', '["@zhaolei", "@emma"]'), "utf-8")
    _git(repo, "commit", "-qam", "protect emma")
    (repo / "users" / "emma.yaml").unlink()
    planned = _plan_since_head(run, repo)
    assert planned.exit_code == 1
    assert "'emma' matches no user file" in planned.output
    assert "they are protected, so they are never offboarded" in planned.output
    applied = run("apply", "--auto-approve", "--dir", str(repo), "--since", "HEAD")
    assert applied.exit_code == 1
    assert live.writes() == []


def test_a_renamed_file_is_not_a_leaver(run: Cli, live: Live, repo: Path):
    (repo / "users" / "david.yaml").rename(repo / "users" / "dmuller.yaml")  # same user_id, new handle
    planned = _plan_since_head(run, repo)
    assert planned.exit_code == 0, planned.output
    assert "Plan: 0 to create, 0 to change, 0 to offboard." in planned.output


def test_a_tenant_manager_leaver_is_refused_in_the_plan(run: Cli, live: Live, repo: Path):
    (repo / "users" / "chenjing.yaml").unlink()  # a tenant manager in the demo org
    for path in (repo / "users").glob("*.yaml"):
        path.write_text(path.read_text("utf-8").replace('"@chenjing"', '"@zhaolei"'), "utf-8")
    planned = _plan_since_head(run, repo)
    assert "is a tenant manager: offboard them in the admin console" in planned.output
    assert live.writes() == []


def test_a_leaver_whose_file_came_back_is_not_offboarded_by_the_saved_plan(run: Cli, live: Live, repo: Path):
    david = (repo / "users" / "david.yaml").read_text("utf-8")
    (repo / "users" / "david.yaml").unlink()
    out = repo.parent / "plan.json"
    assert run("plan", "--dir", str(repo), "--since", "HEAD", "--out", str(out)).exit_code == 0
    (repo / "users" / "david.yaml").write_text(david, "utf-8")
    result = run("apply", str(out), "--dir", str(repo), "--auto-approve")
    assert result.exit_code == 1
    assert "no longer changed" in result.output
    assert live.writes() == []


def test_the_founder_named_in_reconciler_yaml_is_never_offboarded(run: Cli, live: Live, repo: Path):
    _commit_settings(repo, "founder: '@david'\n")
    (repo / "users" / "david.yaml").unlink()
    planned = _plan_since_head(run, repo)
    assert "is the tenant's founder (reconciler.yaml founder): never offboarded" in planned.output
    applied = run("apply", "--auto-approve", "--dir", str(repo), "--since", "HEAD")
    assert applied.exit_code == 1
    assert live.writes() == []
