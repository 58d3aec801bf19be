"""`reconciler import` writes a directory that plans to no changes."""

from __future__ import annotations

from pathlib import Path

from reconciler.desired import load_directory
from reconciler.emulator import demo_seed, generate_org
from reconciler.validate import validate
from tests.conftest import invoke, start


def _run(live, *args):
    return invoke(live, *args)


def test_import_then_plan_shows_no_changes_on_a_500_user_org(tmp_path: Path):
    for live in start(generate_org(500)):
        target = tmp_path / "org"
        result = _run(live, "import", "--dir", str(target))
        assert result.exit_code == 0, result.output
        assert len(list((target / "users").glob("*.yaml"))) == 500
        result = _run(live, "plan", "--dir", str(target), "--detailed-exitcode")
        assert result.exit_code == 0, result.output
        assert "Plan: 0 to create, 0 to change, 0 to offboard. 500 unchanged." in result.output


def test_imported_files_are_schema_valid_with_modeline_aliases_and_handles(tmp_path: Path):
    for live in start(demo_seed()):
        target = tmp_path / "org"
        assert _run(live, "import", "--dir", str(target)).exit_code == 0
        result = validate(load_directory(target))
        assert result.errors == []
        alice = (target / "users" / "alice.chen.yaml").read_text("utf-8")
        assert alice.startswith("# yaml-language-server: $schema=../../schemas/user.schema.json\n")
        assert "leader_user_id: '@lisi'" in alice
        assert "department_ids: ['@eng', '@product']" in alice
        assert "dotted_line_leader_user_ids: ['@bob.smith']" in alice
        assert _run(live, "plan", "--dir", str(target), "--detailed-exitcode").exit_code == 0


def test_import_refuses_to_overwrite_user_files_without_force(tmp_path: Path, org: Path):
    for live in start(demo_seed()):
        result = _run(live, "import", "--dir", str(org))
        assert result.exit_code == 1
        assert "--force" in result.output


def test_import_counts_yml_user_files_as_files_it_would_overwrite(tmp_path: Path):
    users = tmp_path / "directory" / "users"
    users.mkdir(parents=True)
    (users / "zhangsan.yml").write_text("user_id: ou_x\n", "utf-8")
    for live in start(demo_seed()):
        result = _run(live, "import", "--dir", str(tmp_path / "directory"))
        assert result.exit_code == 1
        assert "already holds 1 user files" in result.output
