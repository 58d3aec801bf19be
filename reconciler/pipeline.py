"""Making a plan from a directory and a tenant: load, validate, read and diff as one stream.

Files are parsed in chunks (on all cores for large directories); the users of each chunk are read
as soon as it is parsed, if they and every file before them passed the schema. The client builds
its connection pool before the parsing workers fork (so the token's request does not wait for the
CPU they take) and fetches the token while they parse. The first invalid file stops further reads;
every error is still reported and nothing is ever written. The last chunk is read once the whole
directory is valid, so a directory below PARALLEL_FROM files (one chunk) is validated whole before
the first request. When every file is loaded the whole directory is validated (cross-file rules),
then each batch is diffed as it arrives.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import BATCH_SIZE, DirectoryClient
from .config import Credentials, Settings, base_url_from, credentials_from_env, load_settings
from .desired import ChunkSink, DesiredState, DesiredUser, load_directory
from .engine import LiveBatch, plan_directory
from .errors import TargetUnknown, ValidationFailed
from .fields import IDENTITY_KEY, WRITE_ONLY
from .plan import Plan
from .planfile import check_reviewed, check_same_target, load_plan, verify
from .validate import ValidationResult, validate


@dataclass(frozen=True)
class PlanRequest:
    """Everything a plan depends on besides the files and the API: one value built from the flags."""

    directory: Path
    targets: tuple[str, ...] = ()
    sync_write_only: bool = False
    since: str | None = None
    scan_unmanaged: bool = False

    def options(self) -> dict[str, Any]:
        """What besides the files and live state shaped the writes: part of the plan's identity."""
        return {
            "targets": sorted({t.lstrip("@") for t in self.targets}),
            "since": self.since,
            "sync_write_only": self.sync_write_only,
        }


def open_client(
    settings: Settings, base_url: str | None = None, credentials: Credentials | None = None
) -> DirectoryClient:
    """The client for the tenant the settings (or the caller) name."""
    return DirectoryClient(
        base_url or base_url_from(settings),
        credentials or credentials_from_env(),
        user_id_type=settings.user_id_type,
        department_id_type=settings.department_id_type,
        quotas=settings.quotas,
    )


def load_valid(
    directory: Path, settings: Settings | None = None, on_chunk: ChunkSink | None = None
) -> tuple[DesiredState, ValidationResult]:
    """Load and validate; any error raises ValidationFailed (with every issue)."""
    state = load_directory(directory, settings, on_chunk)
    result = validate(state)
    if result.errors:
        raise ValidationFailed(result.issues)
    return state, result


class StreamedReads:
    """Batch reads of clean chunks' users, sent while later chunks are parsed (a chunk sink).

    Answers go to a queue as they come, so each batch is freed once diffed."""

    def __init__(self, client: DirectoryClient):
        self.client = client
        self.asked: set[str] = set()
        self.futures: list[Future[None]] = []
        self.answers: queue.SimpleQueue[LiveBatch | BaseException] = queue.SimpleQueue()
        self.cancel = threading.Event()
        self.pool: ThreadPoolExecutor | None = None

    def __call__(self, users: list[DesiredUser], clean: bool, last: bool) -> None:
        # the last chunk (in a small directory the only one) is read by the planner, once the whole
        # directory is valid
        if not clean:
            self.stop()
        if self.cancel.is_set() or last:
            return
        if self.pool is None:  # the parsing processes have forked: they inherit no threads
            self.pool = ThreadPoolExecutor(max_workers=self.client.concurrency)
            self.futures.append(self.pool.submit(self._warm))  # HTTP stack and token while files parse
        ids = [i for u in users if isinstance(i := u.data.get(IDENTITY_KEY), str) and i not in self.asked]
        self.asked.update(ids)
        for start in range(0, len(ids), BATCH_SIZE):
            self.futures.append(self.pool.submit(self._read, ids[start : start + BATCH_SIZE]))

    def _warm(self) -> None:
        try:
            self.client.authenticate()
            self.answers.put({})
        except BaseException as exc:  # handed to the planning thread, which raises it
            self.answers.put(exc)

    def _read(self, ids: list[str]) -> None:
        try:
            self.answers.put(self.client.read_batch(ids, self.cancel))
        except BaseException as exc:  # handed to the planning thread, which raises it
            self.answers.put(exc)

    def stop(self) -> None:
        """Send no further reads: queued ones are dropped, those waiting for quota give up."""
        self.cancel.set()
        for future in self.futures:
            future.cancel()
        self.client.scheduler.wake()

    def results(self) -> Iterator[LiveBatch]:
        """Each batch as it completes; a failed read raises its error. Only before any stop."""
        for _ in self.futures:
            answer = self.answers.get()
            if isinstance(answer, BaseException):
                raise answer
            yield answer

    def close(self) -> None:
        self.stop()
        if self.pool is not None:
            self.pool.shutdown(wait=True)  # reads in flight finish; nothing waits for them any more


def _targets(state: DesiredState, targets: tuple[str, ...]) -> set[str]:
    handles = {u.handle for u in state.users}
    wanted = {t.lstrip("@") for t in targets}
    unknown = sorted(wanted - handles)
    if unknown:
        raise TargetUnknown(f"--target {', '.join('@' + u for u in unknown)}: no such user file in {state.root}/users")
    return wanted


def _commit_of(directory: Path) -> str:
    """The commit the directory is checked out at (else GITHUB_SHA), or "" outside git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        done = None
    if done is not None and done.returncode == 0:
        return done.stdout.strip()
    return os.environ.get("GITHUB_SHA", "").lower()


def make_plan(
    req: PlanRequest, client: DirectoryClient, settings: Settings | None = None
) -> tuple[DesiredState, ValidationResult, Plan]:
    """Load, validate and plan `req` against the tenant `client` speaks to (see the module docstring).

    A --target plan reads only its few users: it validates everything first and streams nothing."""
    settings = settings or load_settings(req.directory)
    reads = None if req.targets else StreamedReads(client)
    if reads is not None:
        client.prepare()
    try:
        state, result = load_valid(req.directory, settings, reads)
        if req.targets:
            wanted = _targets(state, req.targets)
            result.users = [u for u in result.users if u.handle in wanted]
        since = None
        leavers: dict[str, dict[str, Any]] = {}
        if req.since:
            handles = [u.handle for u in result.users if WRITE_ONLY.intersection(u.fields)]
            from .gitref import removed_user_files, user_files_at  # git runs only when asked

            since = (req.since, user_files_at(req.since, req.directory, handles))
            if not req.targets:  # a file removed since the ref is a leaver
                leavers = removed_user_files(req.since, req.directory, {u.handle for u in state.users})
        plan = plan_directory(
            state,
            result,
            client,
            sync_write_only=req.sync_write_only,
            since=since,
            scan_unmanaged=req.scan_unmanaged,
            under_way=(reads.results(), reads.asked) if reads is not None else None,
            leavers=leavers,
        )
    finally:
        if reads is not None:
            reads.close()
    plan.options = req.options()
    plan.planned_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    plan.commit = _commit_of(req.directory)
    from .apply import foreseen_refusals  # the guards are apply's: one source for both

    plan.warnings[:0] = foreseen_refusals(plan, settings)
    return state, result, plan


def plan_for_apply(
    directory: Path,
    client: DirectoryClient,
    settings: Settings,
    *,
    saved: Path | None = None,
    targets: tuple[str, ...] = (),
    since: str | None = None,
    reviewed: Path | None = None,
) -> tuple[ValidationResult, Plan]:
    """The plan an apply sends: made now from the files and a fresh read, and refused (PlanMismatch)
    unless it is exactly the saved plan file `saved` (same tenant, app, id types and requests) or,
    with `reviewed`, the plan that reviewed PR comment identifies on its first line."""
    if saved is not None:
        then = load_plan(saved)
        check_same_target(
            then,
            base_url=client.base_url,
            user_id_type=settings.user_id_type,
            department_id_type=settings.department_id_type,
            app_id=client.app_id,
        )
        options = then.options
        req = PlanRequest(
            directory, tuple(options.get("targets") or ()), bool(options.get("sync_write_only")), options.get("since")
        )
        _, result, plan = make_plan(req, client, settings)
        verify(then, plan, f"the saved plan {saved}")
        return result, plan
    comment = reviewed.read_text("utf-8", errors="replace") if reviewed is not None else None
    _, result, plan = make_plan(PlanRequest(directory, targets, since=since), client, settings)
    if comment is not None and plan.has_changes:
        check_reviewed(plan, comment, str(reviewed))
    return result, plan
