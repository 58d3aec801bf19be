"""The console entry point ends the process without interpreter teardown: what it printed and
its exit code must survive that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import APP, Live


def _reconciler(live: Live, *args: str, pipe: str = "") -> subprocess.CompletedProcess[str]:
    command = f"{sys.executable} -m reconciler {' '.join(args)}" + (f" | {pipe}" if pipe else "")
    env = {**os.environ, **APP, "FEISHU_BASE_URL": live.url}
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, capture_output=True, text=True)


def test_a_plan_with_changes_prints_all_of_it_and_exits_2(live: Live, org: Path):
    done = _reconciler(live, "plan", "--dir", str(org), "--detailed-exitcode")
    assert done.returncode == 2, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("Plan hash: ")
    assert "Plan: 0 to create, 5 to change" in done.stdout


def test_a_plan_piped_into_cat_arrives_whole(live: Live, org: Path):
    direct = _reconciler(live, "plan", "--dir", str(org))
    piped = _reconciler(live, "plan", "--dir", str(org), pipe="cat")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == direct.stdout


def test_a_bad_flag_exits_1_with_the_usage_error(live: Live):
    done = _reconciler(live, "plan", "--no-such-flag")
    assert done.returncode == 1
    assert "No such option '--no-such-flag'" in done.stderr


def test_demo_apply_converges_on_a_copy_and_leaves_the_packaged_example_untouched(tmp_path):
    from reconciler import bundled

    before = {p.name: p.read_bytes() for p in (bundled("example") / "users").iterdir()}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", "--apply"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "(directory/users/bob.yaml)" in done.stdout
    assert done.stdout.rstrip().splitlines()[-2] == "Plan: 0 to create, 0 to change, 0 to offboard. 12 unchanged."
    assert {p.name: p.read_bytes() for p in (bundled("example") / "users").iterdir()} == before
    assert list(tmp_path.iterdir()) == []
