"""The apply report is never lost: every user is reported whatever fails or interrupts, and two
applies on one tenant never interleave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.lock import apply_lock
from tests.conftest import APP, Live, drifted_org, invoke

N = 200


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[Live, Path]]:
    yield from drifted_org(N, tmp_path)


def _patched(live: Live) -> set[str]:
    return {r["path"].rsplit("/", 1)[1] for r in live.requests() if r["method"] == "PATCH" and r["code"] == 0}


def test_a_failed_read_back_keeps_every_user_in_the_report_as_applied_unverified(org):
    live, directory = org
    live.faults(deny_reads_after_writes=1)
    result = invoke(live, "apply", "--dir", str(directory), "--auto-approve", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert len(report["results"]) == N
    assert report["summary"]["applied-unverified"] == len(_patched(live)) == N
    first = report["results"][0]
    assert first["status"] == "applied-unverified"
    assert "sent and accepted, but reading it back failed" in first["message"] and "99991672" in first["message"]


def test_a_failed_read_before_any_write_reports_every_user_as_not_sent(org):
    live, directory = org
    live.faults(deny_reads_after_writes=0)  # the plan's reads fail too: nothing can be planned
    result = invoke(live, "apply", "--dir", str(directory), "--auto-approve")
    assert result.exit_code == 1 and "99991672" in result.output
    assert _patched(live) == set()


def _start_apply(live: Live, directory: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, **APP, "FEISHU_BASE_URL": live.url}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--dir", str(directory), "--auto-approve", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_patches(live: Live, proc: subprocess.Popen, count: int) -> None:
    for _ in range(3000):  # bounded: at most 30 s of polling
        if sum(r["method"] == "PATCH" for r in live.requests()) >= count or proc.poll() is not None:
            return
        time.sleep(0.01)


def test_ctrl_c_finishes_requests_in_flight_reports_every_user_and_exits_130(org):
    live, directory = org
    live.faults(rate=1.0, kinds=["delay"], delay_ms=50)  # slow answers so the interrupt lands mid-run
    proc = _start_apply(live, directory, "--format", "json")
    try:
        _wait_for_patches(live, proc, 20)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "Interrupted: finishing the requests in flight" in err and "Traceback" not in err
    report = json.loads(out)
    statuses = {r["user_id"]: r["status"] for r in report["results"]}
    assert len(statuses) == N and report["interrupted"] is True
    applied = {uid for uid, status in statuses.items() if status == "applied"}
    assert applied == _patched(live), "every request sent is reported, and only those"
    assert 20 <= len(applied) < N
    assert {s for uid, s in statuses.items() if uid not in applied} == {"skipped"}


def test_without_a_terminal_progress_is_printed_as_plain_lines_at_a_steady_pace(org):
    live, directory = org
    live.faults(rate=1.0, kinds=["delay"], delay_ms=10)
    result = invoke(live, "apply", "--dir", str(directory), "--auto-approve", "--progress-every", "0.2")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith("apply: ")]
    assert lines and all(f"/{N} users done" in line for line in lines)
    done = [int(line.split()[1].split("/")[0]) for line in lines]
    assert done == sorted(done)


def test_a_second_apply_on_the_same_tenant_is_refused_while_one_runs(org):
    live, directory = org
    with apply_lock(live.url, APP["FEISHU_APP_ID"]):
        result = invoke(live, "apply", "--dir", str(directory), "--auto-approve")
    assert result.exit_code == 1
    assert f"another apply against {live.url} is running (pid {os.getpid()}" in result.output
    assert live.requests() == []


def test_the_lock_of_a_killed_apply_needs_no_cleanup(org):
    live, directory = org
    live.faults(rate=1.0, kinds=["delay"], delay_ms=50)
    proc = _start_apply(live, directory)
    _wait_for_patches(live, proc, 5)
    running = invoke(live, "apply", "--dir", str(directory), "--auto-approve")
    assert running.exit_code == 1 and "another apply against" in running.output
    proc.kill()
    proc.communicate(timeout=10)  # reaps it and closes its pipes
    live.faults()
    result = invoke(live, "apply", "--dir", str(directory), "--auto-approve")
    assert result.exit_code == 0, result.output[-500:]


def test_a_user_changed_live_between_plan_and_write_is_stale_naming_the_field_that_moved(
    live: Live, tmp_path: Path, seed_user_ids: dict[str, str]
):
    import shutil

    from reconciler import bundled

    org_dir = tmp_path / "directory"
    shutil.copytree(bundled("example"), org_dir)
    from reconciler.apply import apply_plan
    from reconciler.client import DirectoryClient
    from reconciler.config import Credentials
    from reconciler.desired import load_directory
    from reconciler.engine import plan_directory
    from reconciler.validate import validate

    state = load_directory(org_dir)
    with DirectoryClient(live.url, Credentials(APP["FEISHU_APP_ID"], APP["FEISHU_APP_SECRET"])) as client:
        plan = plan_directory(state, validate(state), client)
        live.patch(seed_user_ids["zhangsan"], {"job_title": "Architect"})  # in the console, meanwhile
        report = apply_plan(plan, client)
    stale = next(r for r in report.results if r.handle == "zhangsan")
    assert stale.status == "stale" and "(job_title moved)" in stale.message
    assert report.count("applied") == 4
