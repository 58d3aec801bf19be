"""Load directory/ into DesiredUser records that remember their file, so messages can cite lines."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings, load_settings, outside, refuse_outside
from .errors import Issue
from .fields import IDENTITY_KEY
from .hidden import may_hide
from .schema import schema_accepts
from .yamlio import decode, load_yaml_text, locate

HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REFUSED_LINK = "refused: a link that resolves outside the directory; make it a plain file (it was not read)"
USER_SUFFIXES = (".yaml", ".yml")


@dataclass
class DesiredUser:
    handle: str
    path: str  # as shown in messages
    data: dict[str, Any]
    file: Path | None = None  # read again only when a message needs a line number
    schema_ok: bool | None = None  # the schema check's verdict, when the loader ran it
    hidden: bool | None = None  # whether the file may hold hidden characters (None: not checked)

    def locate(self, keys: Sequence[str | int]) -> tuple[int | None, int | None]:
        raw = self.file.read_bytes() if self.file else b""
        text, _ = decode(raw, self.path)
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

    def locate_in(self, name: str, keys: list[str]) -> tuple[str, int | None, int | None]:
        """(path, line, column) of `keys` in the directory's file `name` (reconciler.yaml,
        departments.yaml): the file is read again, only to name the line of a problem."""
        path = self.root / name
        text = path.read_text("utf-8", "replace") if path.exists() else ""
        line, col = locate(text, keys) if text else (None, None)
        return str(path), line, col

    def unknown_people(self, entries: Sequence[str]) -> list[str]:
        """The entries (handles or user_ids, '@' stripped) that name no user file and no user_id a file
        declares: a setting naming nobody (protected, a policy's exception) applies to nobody."""
        known = {u.handle for u in self.users}
        known.update(i for u in self.users if isinstance(i := u.data.get(IDENTITY_KEY), str))
        return [e for e in entries if e not in known]

    def department_names(self) -> dict[str, str]:
        """Department ids as people read them: "Engineering (@engineering)", the alias alone if unnamed."""
        return {
            d.id: f"{d.name} (@{d.alias})" if d.name != d.alias else f"@{d.alias}" for d in self.departments.values()
        }


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _load_departments(path: Path, shown: str, hasher: Any) -> tuple[dict[str, Department], list[Issue]]:
    if not path.exists():
        return {}, []
    if outside(path.parent, path):
        return {}, [Issue(shown, None, None, "", REFUSED_LINK)]
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
        problem = None
        if not isinstance(alias, str) or not HANDLE.match(alias):
            problem = "an alias is letters, digits, '.', '_' or '-'"
        elif isinstance(value, str):
            out[alias] = Department(alias, value, alias)
        elif isinstance(value, dict) and isinstance(value.get("id"), str) and set(value) <= {"id", "name"}:
            out[alias] = Department(alias, value["id"], str(value.get("name") or alias))
        else:
            problem = "expected a department id, or {id: <department id>, name: <display name>}"
        if problem:
            line, col = locate(text, [str(alias)])  # composes the file: only for problems
            issues.append(Issue(shown, line, col, str(alias), problem))
    return out, issues


PARALLEL_FROM = 1000  # files; below this a process pool costs more than it saves, and the
# directory is one chunk: validated whole before the first request
CHUNK = 250  # files a parsing worker takes at a time, and the unit of the streaming pipeline

Loaded = tuple[str, bytes, "dict[str, Any] | None", "bool | None", "bool | None", "Issue | None"]


def _load_user(folder: str, name: str, shown_dir: str) -> Loaded:
    """Read, parse and schema-check one user file: (file name, content hash, data, schema ok, holds
    hidden characters, issue).

    Plain tuples and strings only: results cross a process boundary, and pickling records and
    paths cost the parent as much as the parsing saved."""
    shown = f"{shown_dir}/{name}"
    with open(os.path.join(folder, name), "rb") as f:
        raw = f.read()
    digest = hashlib.sha256(raw).digest()
    if not HANDLE.match(name.rsplit(".", 1)[0]):
        message = "rename the file: a handle is letters, digits, '.', '_' or '-'"
        return name, digest, None, None, None, Issue(shown, None, None, "", message)
    data, issue = load_yaml_text(raw, shown)
    if issue is not None:
        return name, digest, None, None, None, issue
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        message = f"the file is {what}; a user file is a mapping of fields"
        return name, digest, None, None, None, Issue(shown, 1, 1, "", message)
    return name, digest, data, schema_accepts()(data), may_hide(raw), None


def _load_chunk(job: tuple[str, list[str], str]) -> list[Loaded]:
    folder, names, shown_dir = job
    return [_load_user(folder, n, shown_dir) for n in names]


def _load_chunks(folder: Path, names: list[str], shown_dir: str) -> Iterator[tuple[list[Loaded], bool]]:
    """The user files `names` of `folder`, chunk by chunk as each is parsed: on all cores for large
    directories (parsing dominates a plan's CPU), in one chunk in-process below PARALLEL_FROM files;
    each with whether it is the last. In the parallel case an empty chunk comes first, once the
    workers exist."""
    cores = os.cpu_count() or 1
    if cores < 2 or len(names) < PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
        yield _load_chunk((str(folder), names, shown_dir)), True
        return
    jobs = [(str(folder), names[i : i + CHUNK], shown_dir) for i in range(0, len(names), CHUNK)]
    schema_accepts()  # compiled once here, inherited by every worker
    with mp.get_context("fork").Pool(cores) as pool:  # workers only parse: no threads to inherit yet
        chunks = pool.imap(_load_chunk, jobs)
        yield [], False  # the workers are forked: the caller may start threads from here on
        for i, chunk in enumerate(chunks, 1):
            yield chunk, i == len(jobs)


def user_file_names(folder: str | Path) -> list[str]:
    """The user files of users/, in name order (the order of every listing and message)."""
    return survey_users(Path(folder), str(folder))[0]


def survey_users(folder: Path, shown_dir: str) -> tuple[list[str], list[Issue]]:
    """One listing of users/: the user files in name order, and what the loader does not read as a
    user file, reported: links that resolve outside the directory (errors, never read), handles
    given by two files (errors: bob.yaml and bob.yml, or Bob.yaml and bob.yaml) and every other
    entry it skips (warnings), so nothing is silently ignored."""
    names: list[str] = []
    issues: list[Issue] = []
    by_handle: dict[str, list[str]] = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        shown = f"{shown_dir}/{entry.name}"
        if entry.is_symlink() and outside(folder, Path(entry.path)):
            issues.append(Issue(shown, None, None, "", REFUSED_LINK))
        elif not entry.name.endswith(USER_SUFFIXES):
            kind = "a folder" if entry.is_dir() else "not a .yaml or .yml file"
            issues.append(
                Issue(shown, None, None, "", f"ignored: {kind}; user files are users/<handle>.yaml", "warning")
            )
        elif not entry.is_file():
            issues.append(Issue(shown, None, None, "", "ignored: not a regular file", "warning"))
        else:
            names.append(entry.name)
            by_handle.setdefault(entry.name.rsplit(".", 1)[0].lower(), []).append(entry.name)
    for same in by_handle.values():
        if len(same) > 1:
            for name in same:
                others = ", ".join(n for n in same if n != name)
                message = f"the handle is also given by {others}; a person has one file: merge them and delete the rest"
                issues.append(Issue(f"{shown_dir}/{name}", None, None, "", message))
    return names, issues


ChunkSink = Callable[[list[DesiredUser], bool, bool], None]


def load_directory(root: Path, settings: Settings | None = None, on_chunk: ChunkSink | None = None) -> DesiredState:
    """Read reconciler.yaml, departments.yaml and users/*.yaml; problems become issues, not exceptions.

    `on_chunk(users, clean, last)` sees each chunk of user files as soon as it is parsed, in name
    order: its users, whether every file so far (and departments.yaml) loaded and passed the
    schema, and whether it is the last chunk. When worker processes parse, an empty chunk comes
    first, as soon as they exist (threads may start from then on).
    `settings`, when the caller has already read reconciler.yaml.
    """
    root = Path(root)
    if not (root / "users").is_dir():
        from .errors import ConfigError

        raise ConfigError(
            f"{root}: not a directory repo (no users/ folder); pass --dir pointing at the folder that holds "
            "reconciler.yaml and users/"
        )
    refuse_outside(root, root / "users")
    settings = settings or load_settings(root)
    hasher = hashlib.sha256()
    settings_file = root / "reconciler.yaml"
    if settings_file.exists():
        hasher.update(b"settings\0" + settings_file.read_bytes() + b"\0")
    departments, issues = _load_departments(root / "departments.yaml", _display(root / "departments.yaml"), hasher)
    folder = root / "users"
    shown_dir = _display(folder)
    names, skipped = survey_users(folder, shown_dir)
    issues.extend(skipped)
    clean = not any(i.severity == "error" for i in issues)
    users: list[DesiredUser] = []
    for chunk, last in _load_chunks(folder, names, shown_dir):
        added: list[DesiredUser] = []
        for name, digest, data, ok, hidden, issue in chunk:
            hasher.update(name.encode() + b"\0" + digest + b"\0")
            if issue is not None:
                issues.append(issue)
                clean = False
            elif data is not None:
                handle = name.rsplit(".", 1)[0]
                added.append(DesiredUser(handle, f"{shown_dir}/{name}", data, folder / name, ok, hidden))
                clean = clean and ok is not False
        users.extend(added)
        if on_chunk is not None:
            on_chunk(added, clean, last)
    return DesiredState(root, settings, departments, users, issues, hasher.hexdigest())
