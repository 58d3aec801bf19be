"""One apply at a time per tenant and app on this machine: an OS file lock, released by the kernel
when the process ends however it ends (kill -9 included), so it never needs manual cleanup."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ReconcilerError


class ApplyLocked(ReconcilerError):
    pass


def lock_path(base_url: str, app_id: str) -> Path:
    key = hashlib.sha256(f"{base_url}\0{app_id}".encode()).hexdigest()[:16]
    folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    return folder / f"reconciler-apply-{key}.lock"


@contextmanager
def apply_lock(base_url: str, app_id: str) -> Iterator[None]:
    """Hold the tenant's apply lock, or refuse at once naming who holds it."""
    path = lock_path(base_url, app_id)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise ApplyLocked(
                f"another apply against {base_url} is running ({holder}); wait for it to finish, then plan again. "
                f"The lock is {path}: it is released when that process ends, however it ends"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
