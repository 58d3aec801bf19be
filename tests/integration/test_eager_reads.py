"""`plan --eager-reads`: live reads overlap the parsing of the directory.

The default stays validate-first (an invalid directory sends nothing); eager mode must give the
same plan with the same calls, stop reading at the first invalid file, and never write."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from reconciler.emulator import generate_directory, generate_org
from tests.conftest import Cli, Live, invoke, start

BATCH = "/open-apis/contact/v3/users/batch"
TOKEN = "/open-apis/auth/v3/tenant_access_token/internal"
LARGE = 1200  # above the loader's parallel threshold: reads really overlap the worker processes


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_directory(LARGE, tmp_path_factory.mktemp("eager"), drift=0.02, moves=3)


@pytest.fixture
def live_large() -> Live:
    yield from start(generate_org(LARGE))


def _plan_json(live: Live, directory: Path, *flags: str) -> tuple[int, dict, list[dict]]:
    live.clear()
    result = invoke(live, "plan", "--dir", str(directory), "--format", "json", *flags)
    return result.exit_code, json.loads(result.stdout), live.requests()


def test_eager_plan_of_a_large_directory_is_the_same_plan_with_the_same_calls(live_large: Live, large: Path):
    code, eager, eager_log = _plan_json(live_large, large, "--eager-reads")
    default_code, default, default_log = _plan_json(live_large, large)
    assert code == default_code == 0
    assert eager == default
    assert eager["summary"]["to_change"] > 0
    for log in (eager_log, default_log):
        assert sum(r["path"] == TOKEN for r in log) == 1
        assert sum(r["path"] == BATCH for r in log) == math.ceil(LARGE / 50)
        assert all(r["method"] != "PATCH" for r in log)


def test_eager_plan_of_a_small_directory_is_the_same_plan(run: Cli, live: Live):
    default = run("plan", "--dir", str(run.directory), "--format", "json")
    live.clear()
    eager = run("plan", "--dir", str(run.directory), "--format", "json", "--eager-reads")
    assert eager.exit_code == default.exit_code == 0
    assert json.loads(eager.stdout) == json.loads(default.stdout)
    assert [r["path"] for r in live.requests()] == [TOKEN, BATCH]


def _broken_copy(large: Path, tmp_path: Path, settings: str) -> Path:
    """The large directory with its last file invalid (gender 7 is not an allowed value)."""
    broken = Path(shutil.copytree(large, tmp_path / "broken"))
    (broken / "reconciler.yaml").write_text(settings, "utf-8")
    last = sorted((broken / "users").glob("*.yaml"))[-1]
    last.write_text(last.read_text("utf-8") + "gender: 7\n", "utf-8")
    return broken


def test_default_plan_of_a_large_invalid_directory_sends_no_request(live_large: Live, large: Path, tmp_path: Path):
    broken = _broken_copy(large, tmp_path, "")
    live_large.clear()
    result = invoke(live_large, "plan", "--dir", str(broken))
    assert result.exit_code == 1
    assert "gender" in result.output
    assert live_large.requests() == []


# 5 calls a minute: the line scan queues one window (5 batches); a 6th could not go for a minute
FIVE_A_MINUTE = "quotas: {per_second: 5, per_minute: 5}\n"


def test_eager_apply_of_an_invalid_directory_reads_at_most_one_window_and_never_writes(
    live_large: Live, large: Path, tmp_path: Path
):
    broken = _broken_copy(large, tmp_path, FIVE_A_MINUTE)
    live_large.clear()
    result = invoke(live_large, "apply", "--dir", str(broken), "--eager-reads", "--auto-approve")
    assert result.exit_code == 1
    assert "gender" in result.output and "Traceback" not in result.output
    log = live_large.requests()
    assert 1 <= sum(r["path"] == BATCH for r in log) <= 5
    assert {(r["method"], r["path"]) for r in log} <= {("GET", BATCH), ("POST", TOKEN)}


def test_reconciler_yaml_eager_reads_turns_it_on_and_the_flag_off(live_large: Live, large: Path, tmp_path: Path):
    broken = _broken_copy(large, tmp_path, FIVE_A_MINUTE + "eager_reads: true\n")
    live_large.clear()
    assert invoke(live_large, "plan", "--dir", str(broken)).exit_code == 1
    assert any(r["path"] == BATCH for r in live_large.requests())  # reads went out before the error
    live_large.clear()
    assert invoke(live_large, "plan", "--dir", str(broken), "--no-eager-reads").exit_code == 1
    assert live_large.requests() == []


def test_eager_reads_setting_must_be_true_or_false(run: Cli):
    settings = run.directory / "reconciler.yaml"
    settings.write_text(settings.read_text("utf-8") + "eager_reads: sometimes\n", "utf-8")
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "eager_reads: expected true or false" in result.output


def test_eager_plan_with_a_wrong_app_secret_is_a_clear_error_before_any_read(live_large: Live, large: Path):
    live_large.clear()
    result = invoke(live_large, "plan", "--dir", str(large), "--eager-reads", env={"FEISHU_APP_SECRET": "wrong"})
    assert result.exit_code == 1
    assert "tenant access token" in result.output and "Traceback" not in result.output
    assert [r["path"] for r in live_large.requests()] == [TOKEN]


def test_eager_plan_under_quota_windows_is_the_same_plan_without_a_rejection(
    live_large: Live, large: Path, tmp_path: Path
):
    # 24 batches at 5 a (time-scaled, 50 ms) window: reads wait for windows while the files are
    # parsed, validated and diffed between the bursts
    tight = Path(shutil.copytree(large, tmp_path / "tight"))
    (tight / "reconciler.yaml").write_text("quotas: {per_second: 5, per_minute: 1000, time_scale: 20}\n", "utf-8")
    _, default, _ = _plan_json(live_large, large)
    live_large.quotas(enabled=True, per_second=5, per_minute=1000, time_scale=20)
    code, eager, log = _plan_json(live_large, tight, "--eager-reads")
    assert code == 0
    assert eager["summary"] == default["summary"]
    assert [{**c, "path": None} for c in eager["changes"]] == [{**c, "path": None} for c in default["changes"]]
    assert sum(r["path"] == BATCH for r in log) == math.ceil(LARGE / 50)
    assert live_large.quotas()["rejections"] == 0
