"""The plan pipeline: live reads overlap the parsing of a large directory, chunk by chunk.

Reads of a chunk go out once it and every file before it passed the schema; the first invalid
file stops further reads, every error is still reported, and nothing is written. A small
directory (one chunk) is validated whole before the first request."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from reconciler.desired import CHUNK, PARALLEL_FROM
from reconciler.emulator import generate_directory, generate_org
from tests.conftest import Cli, Live, invoke, start

BATCH = "/open-apis/contact/v3/users/batch"
TOKEN = "/open-apis/auth/v3/tenant_access_token/internal"
LARGE = PARALLEL_FROM + 200  # parsed in chunks by worker processes: reads really overlap them


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_directory(LARGE, tmp_path_factory.mktemp("stream"), drift=0.02, moves=3)


@pytest.fixture
def live_large() -> Live:
    yield from start(generate_org(LARGE))


def _plan_json(live: Live, directory: Path, *flags: str) -> tuple[int, dict, list[dict]]:
    live.clear()
    result = invoke(live, "plan", "--dir", str(directory), "--format", "json", *flags)
    return result.exit_code, json.loads(result.stdout), live.requests()


def test_a_large_plan_reads_each_user_once_in_full_batches_and_finds_the_drift(live_large: Live, large: Path):
    code, plan, log = _plan_json(live_large, large)
    assert code == 0
    assert plan["summary"]["to_change"] > 0
    assert sum(r["path"] == TOKEN for r in log) == 1
    assert sum(r["path"] == BATCH for r in log) == math.ceil(LARGE / 50)
    assert all(r["method"] != "PATCH" for r in log)


def test_a_streamed_plan_equals_the_plan_of_the_same_users_validated_first(live_large: Live, large: Path):
    _, streamed, _ = _plan_json(live_large, large)
    handles = [c["handle"] for c in streamed["changes"]]
    _, targeted, _ = _plan_json(live_large, large, *[f"--target=@{h}" for h in handles])  # validate first
    assert targeted["changes"] == streamed["changes"]


def _broken_copy(large: Path, tmp_path: Path, which: int, settings: str = "") -> Path:
    """The large directory with one file invalid (gender 7 is not an allowed value)."""
    broken = Path(shutil.copytree(large, tmp_path / "broken"))
    (broken / "reconciler.yaml").write_text(settings, "utf-8")
    target = sorted((broken / "users").glob("*.yaml"))[which]
    target.write_text(target.read_text("utf-8") + "gender: 7\n", "utf-8")
    return broken


def test_an_invalid_first_file_sends_no_read_at_all(live_large: Live, large: Path, tmp_path: Path):
    broken = _broken_copy(large, tmp_path, 0)
    live_large.clear()
    result = invoke(live_large, "plan", "--dir", str(broken))
    assert result.exit_code == 1
    assert "gender" in result.output and "Traceback" not in result.output
    assert {r["path"] for r in live_large.requests()} <= {TOKEN}  # fetched while the first files parsed


def test_an_invalid_file_stops_reads_of_every_later_chunk_and_nothing_is_written(
    live_large: Live, large: Path, tmp_path: Path
):
    broken = _broken_copy(large, tmp_path, CHUNK + 10)  # in the second chunk
    live_large.clear()
    result = invoke(live_large, "apply", "--dir", str(broken), "--auto-approve")
    assert result.exit_code == 1
    assert "gender" in result.output and "nothing was written" in result.output
    log = live_large.requests()
    assert sum(r["path"] == BATCH for r in log) <= math.ceil(CHUNK / 50)  # at most the first chunk's
    assert {(r["method"], r["path"]) for r in log} <= {("GET", BATCH), ("POST", TOKEN)}


def test_every_error_is_reported_even_after_reads_stopped(live_large: Live, large: Path, tmp_path: Path):
    broken = _broken_copy(large, tmp_path, 3)
    last = sorted((broken / "users").glob("*.yaml"))[-1]
    last.write_text(last.read_text("utf-8") + "unknown_key: 1\n", "utf-8")
    result = invoke(live_large, "plan", "--dir", str(broken))
    assert result.exit_code == 1
    assert "gender" in result.output and "unknown_key" in result.output
    assert "2 error(s)" in result.output


def test_a_small_invalid_directory_sends_no_request(run: Cli, live: Live):
    user = sorted((run.directory / "users").glob("*.yaml"))[-1]
    user.write_text(user.read_text("utf-8") + "gender: 7\n", "utf-8")
    live.clear()
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert live.requests() == []


def test_a_wrong_app_secret_is_a_clear_error_and_nothing_but_the_token_is_asked(live_large: Live, large: Path):
    live_large.clear()
    result = invoke(live_large, "plan", "--dir", str(large), env={"FEISHU_APP_SECRET": "wrong"})
    assert result.exit_code == 1
    assert "tenant access token" in result.output and "Traceback" not in result.output
    assert {r["path"] for r in live_large.requests()} == {TOKEN}


def test_a_plan_under_tight_quota_windows_is_the_same_plan_without_a_rejection(
    live_large: Live, large: Path, tmp_path: Path
):
    tight = Path(shutil.copytree(large, tmp_path / "tight"))
    (tight / "reconciler.yaml").write_text("quotas: {per_second: 5, per_minute: 1000, time_scale: 20}\n", "utf-8")
    _, default, _ = _plan_json(live_large, large)
    live_large.quotas(enabled=True, per_second=5, per_minute=1000, time_scale=20)
    code, planned, log = _plan_json(live_large, tight)
    assert code == 0
    assert planned["summary"] == default["summary"]
    assert sum(r["path"] == BATCH for r in log) == math.ceil(LARGE / 50)
    assert live_large.quotas()["rejections"] == 0


def test_the_retired_eager_reads_setting_and_flag_are_still_accepted(run: Cli):
    settings = run.directory / "reconciler.yaml"
    original = settings.read_text("utf-8")
    settings.write_text(original + "eager_reads: true\n", "utf-8")
    assert run("plan", "--dir", str(run.directory), "--eager-reads").exit_code == 0
    settings.write_text(original + "eager_reads: sometimes\n", "utf-8")
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1 and "eager_reads: expected true or false" in result.output
