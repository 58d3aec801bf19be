"""Reading user files as they were at a git ref: git is the state of write-only fields."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from .errors import ReconcilerError
from .yamlio import load_yaml_text


def _git(args: list[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise ReconcilerError("--since needs git, which is not installed") from None
    if done.returncode != 0:
        raise ReconcilerError(f"git {' '.join(args[:2])}: {done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def user_files_at(ref: str, directory: Path, handles: list[str]) -> dict[str, dict[str, Any]]:
    """{handle: parsed users/<handle>.yaml at `ref`} for the handles whose file existed there."""
    if not handles:
        return {}
    top, prefix = _users_at(ref, directory)
    return _read_files(ref, top, prefix, handles)


def _users_at(ref: str, directory: Path) -> tuple[Path, str]:
    """(the repository's top, the users/ folder's path in it), once `ref` is known to be a commit."""
    directory = directory.resolve()
    top = Path(_git(["rev-parse", "--show-toplevel"], directory).decode().strip())
    _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    rel = directory.relative_to(top).as_posix()
    return top, f"{rel}/users" if rel != "." else "users"


def _read_files(ref: str, top: Path, prefix: str, handles: list[str]) -> dict[str, dict[str, Any]]:
    specs = [f"{ref}:{prefix}/{h}.yaml" for h in handles]
    out = _git(["cat-file", "--batch"], top, stdin=("\n".join(specs) + "\n").encode())
    found: dict[str, dict[str, Any]] = {}
    pos = 0
    for handle in handles:
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if header[-1] == b"missing":
            continue
        size = int(header[2])
        data, issue = load_yaml_text(out[pos : pos + size], f"{ref}:{prefix}/{handle}.yaml")
        pos += size + 1
        if issue is None and isinstance(data, dict):
            found[handle] = data
    return found


def removed_user_files(ref: str, directory: Path, current: set[str]) -> dict[str, dict[str, Any]]:
    """{handle: parsed file at `ref`} of the user files that existed at `ref` and exist no more."""
    top, prefix = _users_at(ref, directory)
    names = _git(["ls-tree", "--name-only", ref, prefix + "/"], top).decode("utf-8", "replace").splitlines()
    handles = [n.rsplit("/", 1)[-1].removesuffix(".yaml") for n in names if n.endswith(".yaml")]
    gone = [h for h in handles if h not in current]
    return _read_files(ref, top, prefix, gone) if gone else {}
