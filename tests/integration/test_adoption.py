"""README's "Use it in your org", followed literally against an emulated tenant that is not the example
org: a fresh clone's directory/ is replaced by `import --force`, and the next plan shows exactly the
imported org with no changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from reconciler import bundled
from reconciler.emulator import generate_org
from tests.conftest import ROOT, invoke, start
from tests.integration.test_workflows import run_workflow


def _fresh_clone(tmp_path: Path) -> Path:
    """What a fresh clone of this repository holds in directory/: the example org (never read from
    the repository itself, which may already hold a real org)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(bundled("example"), repo / "directory")
    return repo


def test_import_force_replaces_the_example_org_and_plan_shows_exactly_the_import(tmp_path: Path, monkeypatch):
    repo = _fresh_clone(tmp_path)
    monkeypatch.chdir(repo)
    for live in start(generate_org(30)):
        result = invoke(live, "import", "--dir", "directory", "--force")
        assert result.exit_code == 0, result.output
        assert "Deleted 12 user files of people not in the import" in result.output
        assert "Removed from protected (no such imported user): @zhaolei" in result.output
        assert len(list((repo / "directory" / "users").iterdir())) == 30
        settings = yaml.safe_load((repo / "directory" / "reconciler.yaml").read_text("utf-8"))
        assert settings["base_url"] == live.url and settings["protected"] == []
        assert "max_changes" in settings  # the other settings are kept
        plan = invoke(live, "plan", "--dir", "directory", "--detailed-exitcode")
        assert plan.exit_code == 0, plan.output
        assert "Plan: 0 to create, 0 to change, 0 to offboard. 30 unchanged." in plan.output
        run = run_workflow("plan.yml", live, repo)
        assert run.ok, run.output
        assert "**Plan: 0 to create, 0 to change, 0 to offboard. 30 unchanged.**" in run.comments()[0]["body"]


def test_import_without_force_refuses_to_replace_user_files(tmp_path: Path):
    repo = _fresh_clone(tmp_path)
    for live in start(generate_org(3)):
        result = invoke(live, "import", "--dir", str(repo / "directory"))
        assert result.exit_code == 1 and "pass --force to replace them" in result.output
        assert len(list((repo / "directory" / "users").iterdir())) == 12


def test_import_refuses_to_write_through_a_link_that_leaves_the_directory(tmp_path: Path):
    repo = _fresh_clone(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text("untouched\n", "utf-8")
    (repo / "directory" / "departments.yaml").unlink()
    (repo / "directory" / "departments.yaml").symlink_to(outside)
    for live in start(generate_org(3)):
        result = invoke(live, "import", "--dir", str(repo / "directory"), "--force")
        assert result.exit_code == 1 and "refused: import writes only plain files" in result.output
    assert outside.read_text("utf-8") == "untouched\n"


def test_the_test_suite_reads_the_packaged_example_never_the_repository_directory():
    assert bundled("example").resolve() != (ROOT / "directory").resolve()
    assert bundled("example").is_relative_to(Path(__import__("reconciler").__file__).resolve().parent)
