"""Load directory/ into DesiredUser records that remember their file, so messages can cite lines."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings, load_settings
from .errors import Issue
from .yamlio import decode, load_yaml_text, locate

HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
USER_SUFFIXES = (".yaml", ".yml")


@dataclass
class DesiredUser:
    handle: str
    path: str  # as shown in messages
    data: dict[str, Any]
    raw: bytes = field(repr=False)

    def locate(self, keys: Sequence[str | int]) -> tuple[int | None, int | None]:
        text, _ = decode(self.raw, self.path)
        return locate(text or "", keys)


@dataclass(frozen=True)
class Department:
    alias: str
    id: str
    name: str


@dataclass
class DesiredState:
    root: Path
    settings: Settings
    departments: dict[str, Department]  # by alias
    users: list[DesiredUser]
    issues: list[Issue]
    digest: str  # sha256 of every file read: a plan is bound to exactly this desired state

    def department_names(self) -> dict[str, str]:
        return {d.id: d.name for d in self.departments.values()}


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load_departments(path: Path, shown: str, hasher: Any) -> tuple[dict[str, Department], list[Issue]]:
    if not path.exists():
        return {}, []
    raw = path.read_bytes()
    hasher.update(b"departments\0" + raw + b"\0")
    data, issue = load_yaml_text(raw, shown)
    if issue is not None:
        return {}, [issue]
    if data is None:
        return {}, []
    text = raw.decode("utf-8", "replace")
    if not isinstance(data, dict):
        return {}, [Issue(shown, 1, 1, "", "expected a mapping alias: {id: ..., name: ...}")]
    out: dict[str, Department] = {}
    issues: list[Issue] = []
    for alias, value in data.items():
        line, col = locate(text, [str(alias)])
        if not isinstance(alias, str) or not HANDLE.match(alias):
            issues.append(Issue(shown, line, col, str(alias), "an alias is letters, digits, '.', '_' or '-'"))
            continue
        if isinstance(value, str):
            out[alias] = Department(alias, value, alias)
        elif isinstance(value, dict) and isinstance(value.get("id"), str) and set(value) <= {"id", "name"}:
            out[alias] = Department(alias, value["id"], str(value.get("name") or alias))
        else:
            issues.append(
                Issue(
                    shown, line, col, alias, "expected a department id, or {id: <department id>, name: <display name>}"
                )
            )
    return out, issues


def load_directory(root: Path) -> DesiredState:
    """Read reconciler.yaml, departments.yaml and users/*.yaml; problems become issues, not exceptions."""
    root = Path(root)
    if not (root / "users").is_dir():
        from .errors import ConfigError

        raise ConfigError(
            f"{root}: not a directory repo (no users/ folder); pass --dir pointing at the folder that holds "
            "reconciler.yaml and users/"
        )
    settings = load_settings(root)
    hasher = hashlib.sha256()
    settings_file = root / "reconciler.yaml"
    if settings_file.exists():
        hasher.update(b"settings\0" + settings_file.read_bytes() + b"\0")
    departments, issues = _load_departments(
        root / "departments.yaml", _display(root / "departments.yaml", root), hasher
    )
    users: list[DesiredUser] = []
    files = sorted(p for p in (root / "users").iterdir() if p.suffix in USER_SUFFIXES and p.is_file())
    for path in files:
        shown = _display(path, root)
        raw = path.read_bytes()
        hasher.update(path.name.encode() + b"\0" + raw + b"\0")
        handle = path.stem
        if not HANDLE.match(handle):
            issues.append(Issue(shown, None, None, "", "rename the file: a handle is letters, digits, '.', '_' or '-'"))
            continue
        data, issue = load_yaml_text(raw, shown)
        if issue is not None:
            issues.append(issue)
            continue
        if not isinstance(data, dict):
            what = "empty" if data is None else f"a {type(data).__name__}"
            issues.append(Issue(shown, 1, 1, "", f"the file is {what}; a user file is a mapping of fields"))
            continue
        users.append(DesiredUser(handle, shown, data, raw))
    return DesiredState(root, settings, departments, users, issues, hasher.hexdigest())
