"""Rendered plans are pinned by golden files: tests/golden/<case>/plan.txt|plan.md|plan.json.

Rewrite them after a deliberate change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reconciler import bundled
from reconciler.desired import load_directory
from reconciler.emulator import Store, demo_seed
from reconciler.engine import build_plan
from reconciler.plan import Plan
from reconciler.render import MARKDOWN_LIMIT, render_json, render_markdown, render_text
from reconciler.validate import validate

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
BASE_URL = "https://open.feishu.cn"


def _example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(bundled("example"), tmp_path / "directory")
    monkeypatch.chdir(tmp_path)  # paths in messages are shown relative to the working directory
    return Path("directory")


def _plan_against_demo_seed(directory: Path) -> Plan:
    state = load_directory(directory)
    result = validate(state)
    store = Store(demo_seed())
    live = {k: store.render_user(k, "open_id", "open_department_id", endpoint="batch") for k in store.users}
    return build_plan(state, result, live, base_url=BASE_URL)


def _no_changes(directory: Path) -> Plan:
    state = load_directory(directory)
    result = validate(state)
    live = {u.user_id: {**u.fields, "open_id": u.user_id} for u in result.users}
    return build_plan(state, result, live, base_url=BASE_URL)


def _large(directory: Path) -> Plan:
    users = directory / "users"
    shutil.rmtree(users)
    users.mkdir()
    for i in range(1500):
        (users / f"user{i:04d}.yaml").write_text(f"user_id: ou_{i:08d}\njob_title: Staff Engineer {i}\n", "utf-8")
    state = load_directory(directory)
    result = validate(state)
    live = {
        f"ou_{i:08d}": {"open_id": f"ou_{i:08d}", "name": f"User {i}", "job_title": "Engineer"} for i in range(1500)
    }
    return build_plan(state, result, live, base_url=BASE_URL)


CASES = {"no_changes": _no_changes, "small": _plan_against_demo_seed, "large": _large}
RENDERED = {"plan.txt": render_text, "plan.md": render_markdown, "plan.json": render_json}


@pytest.mark.parametrize(
    "case, name",
    [(c, n) for c in ("no_changes", "small") for n in sorted(RENDERED)] + [("large", "plan.md")],
)
def test_rendered_plan_matches_golden_file(case: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plan = CASES[case](_example(tmp_path, monkeypatch))
    text = RENDERED[name](plan)
    golden = GOLDEN / case / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, "utf-8")
    assert text == golden.read_text("utf-8")


def test_large_markdown_is_cut_in_the_details_never_in_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plan = _large(_example(tmp_path, monkeypatch))
    assert len(render_text(plan)) > MARKDOWN_LIMIT
    md = render_markdown(plan)
    assert len(md) <= MARKDOWN_LIMIT
    assert "**Plan: 0 to create, 1500 to change, 0 to offboard. 0 unchanged.**" in md
    assert "| 0 | 1500 | 0 | 1500 | 0 | 0 | 0 | 0 |" in md
    assert "more users not shown: the comment is limited to 65,000 characters" in md
    assert md.rstrip().endswith("</details>")


def test_every_renderer_prints_the_plan_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plan = _plan_against_demo_seed(_example(tmp_path, monkeypatch))
    for render in RENDERED.values():
        assert plan.hash in render(plan)
