"""Hostile or odd content in a directory ends in a clear error naming the file: no traceback, no request,
and nothing outside the directory is ever read."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.conftest import Cli, Live, write_user

OUTSIDE_VALUE = "value-from-outside-the-directory"


@pytest.mark.parametrize(
    "line, message",
    [
        ("join_time: 2021-01-31", "users/ghost.yaml:3:12: join_time: '2021-01-31' is read by YAML as a date"),
        ("join_time: 2021-01-31 09:30:00", "users/ghost.yaml:3:12: join_time:"),
        ("en_name: !!binary aGVsbG8=", "users/ghost.yaml:3:10: en_name: !!binary is not allowed"),
        ("department_ids: !!set {a, b}", "users/ghost.yaml:3:17: department_ids: !!set is not allowed"),
        ("custom_attrs: !!omap [{a: 1}]", "users/ghost.yaml:3:15: custom_attrs: !!omap is not allowed"),
        ("employee_type: .nan", "users/ghost.yaml:3:16: employee_type: '.nan' is not a finite number"),
        ("employee_type: !!float .inf", "users/ghost.yaml:3:16: employee_type: '.inf' is not a finite number"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_value_yaml_cannot_give_as_json_is_an_error_naming_file_line_and_field(
    run: Cli, live: Live, line: str, message: str, command: str
):
    write_user(run.directory, "ghost", f"user_id: ou_ghost\nname: Ghost\n{line}\n")
    result = run(command, "--dir", str(run.directory))
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert live.requests() == []


@pytest.mark.parametrize(
    "text", ["quotas: {per_second: .inf}\n", "quotas: {per_minute: 1.0e-9}\n", "max_changes: 2024-01-01\n"]
)
def test_a_setting_yaml_cannot_give_or_out_of_range_is_an_error_naming_its_line(run: Cli, live: Live, text: str):
    (run.directory / "reconciler.yaml").write_text(text, "utf-8")
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "reconciler.yaml:1:" in result.output and "Traceback" not in result.output
    assert live.requests() == []


def test_departments_yaml_linked_outside_the_directory_is_refused_unread(run: Cli, live: Live, tmp_path: Path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"engineering: {{id: {OUTSIDE_VALUE}, name: {OUTSIDE_VALUE}}}\n", "utf-8")
    (run.directory / "departments.yaml").unlink()
    (run.directory / "departments.yaml").symlink_to(outside)
    result = run("plan", "--dir", str(run.directory), "--format", "markdown")
    assert result.exit_code == 1
    assert "departments.yaml: refused: a link that resolves outside the directory" in result.output
    assert OUTSIDE_VALUE not in result.output
    assert live.requests() == []


def test_a_user_file_linked_outside_the_directory_is_refused_unread(run: Cli, live: Live, tmp_path: Path):
    outside = tmp_path / "secret.yaml"
    outside.write_text(f"user_id: ou_x\nname: {OUTSIDE_VALUE}\n", "utf-8")
    (run.directory / "users" / "evil.yaml").symlink_to(outside)
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert "users/evil.yaml: refused: a link that resolves outside the directory" in result.output
    assert OUTSIDE_VALUE not in result.output


@pytest.mark.parametrize("name", ["reconciler.yaml", "users"])
def test_settings_or_users_folder_linked_outside_the_directory_is_refused(
    run: Cli, live: Live, tmp_path: Path, name: str
):
    target = run.directory / name
    moved = tmp_path / f"moved-{name}"
    os.replace(target, moved)
    target.symlink_to(moved)
    result = run("plan", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert f"{name}: refused: it is a link that resolves outside" in result.output
    assert live.requests() == []


def test_a_link_inside_the_directory_is_read(run: Cli, live: Live):
    users = run.directory / "users"
    os.replace(users / "bob.yaml", run.directory / "bob-source.yaml.txt")
    (users / "bob.yaml").symlink_to(Path("..") / "bob-source.yaml.txt")
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1  # inside the root but outside users/: still refused, users/ is the only source
    assert "users/bob.yaml: refused" in result.output


@pytest.mark.parametrize("other", ["bob.yml", "Bob.yaml", "BOB.yml"])
def test_two_files_for_one_handle_are_an_error(run: Cli, live: Live, other: str):
    users = run.directory / "users"
    (users / other).write_text((users / "bob.yaml").read_text("utf-8"), "utf-8")
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 1
    assert f"users/bob.yaml: the handle is also given by {other}" in result.output


def test_files_the_loader_skips_are_reported(run: Cli):
    users = run.directory / "users"
    (users / "notes.txt").write_text("todo", "utf-8")
    (users / "archive").mkdir()
    (users / "zed.json").write_text("{}", "utf-8")
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 0
    for name, why in [("archive", "a folder"), ("notes.txt", "not a .yaml or .yml file"), ("zed.json", "not a .yaml")]:
        assert f"users/{name}: warning: ignored: {why}" in result.output


def test_plan_out_into_a_missing_folder_fails_before_any_read(run: Cli, live: Live, tmp_path: Path):
    result = run("plan", "--dir", str(run.directory), "--out", str(tmp_path / "nope" / "plan.json"))
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
    assert live.requests() == []


def test_emulator_on_a_taken_port_is_a_clear_error(run: Cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("emulator", "--port", str(port))
    assert result.exit_code == 1
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in result.output


def test_hidden_and_text_direction_characters_are_warned_about_with_their_field(run: Cli):
    # a YAML escape in double quotes, then the character itself in the file's bytes
    write_user(run.directory, "ghost", 'user_id: ou_ghost\nname: "evil\\u202etxt"\njob_title: a\u200bb\n')
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 0
    assert "users/ghost.yaml:2:1: warning: name: holds invisible or text-direction characters (U+202E)" in result.output
    assert (
        "users/ghost.yaml:3:1: warning: job_title: holds invisible or text-direction characters (U+200B)"
        in result.output
    )
    assert "\u202e" not in result.output.replace("U+202E", "")  # the warning names it, never prints it


def test_invisible_tag_characters_and_soft_hyphens_are_warned_about_too(run: Cli):
    # Unicode tag characters carry text no reader sees ("ASCII smuggling"); a soft hyphen hides in a word
    write_user(
        run.directory, "ghost", "user_id: ou_ghost\nname: Ada\U000e0041\U000e0042\njob_title: Lead\u00adEngineer\n"
    )
    result = run("validate", "--dir", str(run.directory))
    assert result.exit_code == 0
    assert "users/ghost.yaml:2:1: warning: name: holds invisible or text-direction characters (U+E0041, U+E0042)" in (
        result.output
    )
    assert "users/ghost.yaml:3:1: warning: job_title: holds invisible or text-direction characters (U+00AD)" in (
        result.output
    )
