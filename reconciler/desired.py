"""Load directory/ into DesiredUser records that remember their file, so messages can cite lines."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config import Settings, load_settings, outside, refuse_outside
from .errors import Issue
from .yamlio import HIDDEN_UTF8, decode, load_yaml_text, locate

HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REFUSED_LINK = "refused: a link that resolves outside the directory; make it a plain file (it was not read)"
USER_SUFFIXES = (".yaml", ".yml")


@dataclass
class DesiredUser:
    handle: str
    path: str  # as shown in messages
    data: dict[str, Any]
    file: Path | None = None  # read again only when a message needs a line number
    schema_ok: bool | None = None  # the fast schema check's verdict, when the loader ran it
    hidden: bool | None = None  # whether the file holds yamlio.HIDDEN characters (None: not checked)

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

    def department_names(self) -> dict[str, str]:
        return {d.id: d.name for d in self.departments.values()}


class LoadWatcher(Protocol):
    """Sees the user files load: `started()` once the parsing processes exist (threads are safe to
    start from then on), `scanned()` (in parts) with the user_ids a line scan finds in the first
    `scan_ahead` files (a parsing process lists and scans them while `started()` runs), then
    `loaded()` for each file as soon as it is parsed, in name order: the user, or None for a file
    that could not be loaded, and `finished()` after the last one (validation comes next).
    `background`: parsing is not the critical path, so its processes run at low priority."""

    background: bool
    scan_ahead: int

    def started(self) -> None: ...

    def scanned(self, user_ids: list[str]) -> None: ...

    def loaded(self, user: DesiredUser | None) -> None: ...

    def finished(self) -> None: ...


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


PARALLEL_FROM = 1000  # files; below this a process pool costs more than it saves
CHUNK = 250

Loaded = tuple[str, bytes, "dict[str, Any] | None", "bool | None", "bool | None", "Issue | None"]


def _load_user(folder: str, name: str, shown_dir: str) -> Loaded:
    """Read, parse and fast-check one user file: (file name, content hash, data, schema ok, holds
    hidden characters, issue).

    Plain tuples and strings only: results cross a process boundary, and pickling records and
    paths cost the parent as much as the parsing saved."""
    from .validate import schema_accepts  # validate imports this module

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
    # a YAML escape (\u202e in double quotes) can produce one too: any backslash means "check the values"
    hidden = b"\\" in raw or HIDDEN_UTF8.search(raw) is not None
    return name, digest, data, schema_accepts()(data), hidden, None


def _load_chunk(job: tuple[str, list[str], str, bool]) -> list[Loaded]:
    folder, names, shown_dir, background = job
    if background and os.getpriority(os.PRIO_PROCESS, 0) < 19:
        os.setpriority(os.PRIO_PROCESS, 0, 19)  # a scan ahead ran first, at full priority
    return [_load_user(folder, n, shown_dir) for n in names]


def _list_and_scan(folder: str, count: int) -> tuple[list[str], list[str]]:
    """The user files, and the user_ids a line scan finds in the first `count` of them."""
    names = user_file_names(folder)
    return names, _scan(folder, names[:count])


def _scan(folder: str, names: list[str]) -> list[str]:
    return list(scan_user_ids(folder, names))


SCAN_LEAD = 1000  # files scanned before the first reads (~6 ms); the rest of the window is scanned as they go


def _load_users(folder: Path, shown_dir: str, watcher: LoadWatcher | None) -> Iterator[Loaded]:
    """Every user file of `folder` in name order, as each chunk is parsed; on all cores for large
    directories (parsing dominates a plan's CPU)."""
    cores = os.cpu_count() or 1
    forks = cores >= 2 and "fork" in mp.get_all_start_methods()
    scan = watcher.scan_ahead if watcher is not None else 0
    names: list[str] | None = None
    if not (forks and scan):
        names = user_file_names(folder)
        if not forks or len(names) < PARALLEL_FROM:
            if watcher is not None:
                watcher.started()
                if scan:
                    watcher.scanned(_scan(str(folder), names[:scan]))
            yield from _load_chunk((str(folder), names, shown_dir, False))
            return
    background = watcher is not None and watcher.background
    with mp.get_context("fork").Pool(cores) as pool:
        if watcher is not None:
            # a process lists the files and scans the first ones while this one runs started()
            lead = min(scan, SCAN_LEAD)
            ahead = pool.apply_async(_list_and_scan, (str(folder), lead)) if names is None else None
            watcher.started()  # after the fork: the watcher may start threads now
            if ahead is not None:
                names, ids = ahead.get()
                rest = pool.apply_async(_scan, (str(folder), names[lead:scan])) if scan > lead else None
                watcher.scanned(ids)
                if rest is not None:
                    watcher.scanned(rest.get())
        assert names is not None
        jobs = [(str(folder), names[i : i + CHUNK], shown_dir, background) for i in range(0, len(names), CHUNK)]
        for chunk in pool.imap(_load_chunk, jobs):
            yield from chunk


USER_ID_LINE = re.compile(rb"^user_id:[ \t]*(['\"]?)([A-Za-z0-9_.\-]+)\1[ \t]*(?:#.*)?\r?$", re.M)


def user_file_names(folder: str | Path) -> list[str]:
    """The user files of users/, in name order (the order of every listing and message); links that
    resolve outside the folder are not user files (survey_users reports them)."""
    return sorted(
        e.name
        for e in os.scandir(folder)
        if e.name.endswith(USER_SUFFIXES)
        and e.is_file()
        and not (e.is_symlink() and outside(Path(folder), Path(e.path)))
    )


def survey_users(folder: Path, shown_dir: str) -> list[Issue]:
    """What the loader does not read as a user file, reported: links outside the directory (errors),
    handles given by two files (errors: bob.yaml and bob.yml, or Bob.yaml and bob.yaml) and every
    other entry it skips (warnings), so nothing is silently ignored."""
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
            by_handle.setdefault(entry.name.rsplit(".", 1)[0].lower(), []).append(entry.name)
    for names in by_handle.values():
        if len(names) > 1:
            for name in names:
                others = ", ".join(n for n in names if n != name)
                message = f"the handle is also given by {others}; a person has one file: merge them and delete the rest"
                issues.append(Issue(f"{shown_dir}/{name}", None, None, "", message))
    return issues


def scan_user_ids(folder: str | Path, names: list[str]) -> Iterator[str]:
    """Each named file's `user_id:` line, in order, by a line scan about 10× cheaper than parsing.

    A guess to start reads early (`plan --eager-reads`), never a substitute for the parsed and
    validated value: files it cannot read this way are simply skipped. Bare os calls: the scan
    sits on the path to the first request, and they are 2× faster than open() and Path."""
    base = os.fspath(folder) + os.sep
    search = USER_ID_LINE.search
    for name in names:
        try:
            fd = os.open(base + name, os.O_RDONLY)
            try:
                match = search(os.read(fd, 1 << 16))
            finally:
                os.close(fd)
        except OSError:
            continue
        if match:
            yield match.group(2).decode()


def load_directory(root: Path, watcher: LoadWatcher | None = None, settings: Settings | None = None) -> DesiredState:
    """Read reconciler.yaml, departments.yaml and users/*.yaml; problems become issues, not exceptions.

    A `watcher` can start work before the whole directory is read (see LoadWatcher); `settings`,
    when the caller has already read reconciler.yaml.
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
    issues.extend(survey_users(folder, shown_dir))
    users: list[DesiredUser] = []
    for name, digest, data, ok, hidden, issue in _load_users(folder, shown_dir, watcher):
        hasher.update(name.encode() + b"\0" + digest + b"\0")
        if issue is not None:
            issues.append(issue)
            if watcher is not None:
                watcher.loaded(None)
        elif data is not None:
            handle = name.rsplit(".", 1)[0]
            users.append(DesiredUser(handle, f"{shown_dir}/{name}", data, folder / name, ok, hidden))
            if watcher is not None:
                watcher.loaded(users[-1])
    if watcher is not None:
        watcher.finished()
    return DesiredState(root, settings, departments, users, issues, hasher.hexdigest())
