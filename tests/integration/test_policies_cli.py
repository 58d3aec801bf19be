"""A policy violation stops validate and plan like any invalid file: before any read, and it says
file, line and rule in the PR comment too."""

from __future__ import annotations

from tests.conftest import Cli, Live


def test_a_policy_violation_exits_1_names_file_line_and_rule_and_sends_nothing(run: Cli, live: Live):
    with (run.directory / "reconciler.yaml").open("a", encoding="utf-8") as f:
        f.write("policies:\n  leader_shares_a_department: true\n")
    for command in ("validate", "plan"):
        result = run(command, "--dir", str(run.directory))
        assert result.exit_code == 1
        assert "users/lisi.yaml:8:1: leader_user_id: policy leader_shares_a_department: the leader @zhaolei" in (
            result.output
        )
        assert "Traceback" not in result.output
    comment = run("plan", "--dir", str(run.directory), "--format", "markdown")
    assert comment.exit_code == 1
    assert "policy leader_shares_a_department" in comment.output
    assert live.requests() == []
