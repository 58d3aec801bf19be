"""Rendered plans are pinned by golden files: tests/golden/<case>/plan.txt|plan.md|plan.json.

Rewrite them after a deliberate change with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler import bundled
from reconciler.apply import foreseen_refusals
from reconciler.config import Credentials
from reconciler.desired import load_directory
from reconciler.emulator import Store, demo_seed, serve
from reconciler.engine import build_plan, plan_directory
from reconciler.pipeline import open_client
from reconciler.plan import Plan
from reconciler.render import MARKDOWN_LIMIT, render_json, render_markdown, render_text
from reconciler.validate import validate

CLI_APP = {"app_id": "cli_demo", "app_secret": "demo-secret"}
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
    """1,500 people in 30 departments: each changes a job title; every 15th moves to the next
    department, every 20th gets a new leader."""
    users = directory / "users"
    shutil.rmtree(users)
    users.mkdir()
    live = {}
    for i in range(1500):
        dept, leader = f"od-{i % 30:02d}", f"ou_9{i % 30:07d}"  # leaders no file declares
        moved = f"od-{(i + 1) % 30:02d}" if i % 15 == 14 else dept
        led = f"ou_9{(i + 1) % 30:07d}" if i % 20 == 19 else leader
        (users / f"user{i:04d}.yaml").write_text(
            f"user_id: ou_{i:08d}\njob_title: Staff Engineer {i}\ndepartment_ids: [{moved}]\nleader_user_id: {led}\n",
            "utf-8",
        )
        live[f"ou_{i:08d}"] = {
            "open_id": f"ou_{i:08d}",
            "name": f"User {i}",
            "job_title": "Engineer",
            "department_ids": [dept],
            "leader_user_id": leader,
        }
    state = load_directory(directory)
    result = validate(state)
    return build_plan(state, result, live, base_url=BASE_URL)


def _against_emulator(directory: Path, leavers: dict[str, dict[str, Any]] | None = None) -> Plan:
    """The plan the CLI makes, read over real HTTP from the demo org on a fresh emulator; shown as
    planned against BASE_URL (the emulator's port changes from run to run)."""
    state = load_directory(directory)
    result = validate(state)
    assert not result.errors, result.issues
    server = serve(demo_seed()).start()
    try:
        client = open_client(state.settings, server.url, Credentials(**CLI_APP))
        with client:
            plan = plan_directory(state, result, client, leavers=leavers)
    finally:
        server.stop()
    plan.base_url = BASE_URL
    plan.warnings[:0] = foreseen_refusals(plan, state.settings)
    return plan


def _replace(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")


def _hire(directory: Path) -> Plan:
    (directory / "users" / "liming.yaml").write_text(
        "name: 李明\nmobile: '+8613900001234'\nemail: li.ming@example.com\ndepartment_ids: ['@engineering']\n"
        "leader_user_id: '@lisi'\nemployee_type: 1\njob_title: Engineer\n",
        "utf-8",
    )
    return _against_emulator(directory)


def _leaver(directory: Path) -> Plan:
    gone = directory / "users" / "zhouxin.yaml"
    leavers = {"zhouxin": yaml.safe_load(gone.read_text("utf-8"))}
    gone.unlink()
    _replace(directory / "users" / "emma.yaml", "@zhouxin", "@zhaolei")  # her report gets a new leader
    return _against_emulator(directory, leavers)


def _masking(directory: Path) -> Plan:
    bob = directory / "users" / "bob.yaml"
    text = bob.read_text("utf-8").replace('"+14155550123"', '"+14155550999"')
    bob.write_text(text.replace("bob.smith@example.com", "robert.smith@example.com"), "utf-8")
    return _against_emulator(directory)


def _refusals(directory: Path) -> Plan:
    """A change to a protected person, a leaver who is the founder, and more changes than max_changes."""
    settings = directory / "reconciler.yaml"
    text = settings.read_text("utf-8").replace("max_changes: 50", "max_changes: 2")
    settings.write_text(text + 'founder: "@chenjing"\n', "utf-8")
    zhaolei = directory / "users" / "zhaolei.yaml"
    zhaolei.write_text(zhaolei.read_text("utf-8").replace("job_title: ", "job_title: Chief "), "utf-8")
    gone = directory / "users" / "chenjing.yaml"
    leavers = {"chenjing": yaml.safe_load(gone.read_text("utf-8"))}
    gone.unlink()
    for report in ("david", "sunli"):
        _replace(directory / "users" / f"{report}.yaml", "@chenjing", "@zhaolei")
    return _against_emulator(directory, leavers)


CASES = {
    "no_changes": _no_changes,
    "small": _plan_against_demo_seed,
    "large": _large,
    "hire": _hire,
    "leaver": _leaver,
    "masking": _masking,
    "refusals": _refusals,
}
RENDERED = {"plan.txt": render_text, "plan.md": render_markdown, "plan.json": render_json}


@pytest.mark.parametrize(
    "case, name",
    [(c, n) for c in ("no_changes", "small") for n in sorted(RENDERED)]
    + [(c, "plan.md") for c in ("large", "hire", "leaver", "masking", "refusals")],
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
    assert "| 0 | 1500 | 0 | 1675 | 0 | 100 | 0 | 0 |" in md
    assert "more users not shown: the comment is limited to 65,000 characters" in md
    assert md.rstrip().endswith("</details>")


def test_every_renderer_prints_the_plan_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plan = _plan_against_demo_seed(_example(tmp_path, monkeypatch))
    for render in RENDERED.values():
        assert plan.hash in render(plan)
