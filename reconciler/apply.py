"""Executing a Plan: guards, stale detection, one minimal PATCH per user, read-back, per-user report.

One user's failure never stops the others; a re-run converges.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .client import DirectoryClient
from .codes import explain
from .config import Settings, protects
from .diff import answered, diff_field, fingerprint
from .engine import mobile_holders
from .errors import ApiError, ReconcilerError
from .fields import Lane
from .plan import APPLIED, FAILED, SKIPPED, STALE, UNVERIFIED, Action, ApplyReport, Plan, UserChange, UserResult


class GuardRefused(ReconcilerError):
    pass


def _result(change: UserChange, status: str, message: str = "") -> UserResult:
    return UserResult(change.handle, change.user_id, status, list(change.body), message)


def check_guards(
    plan: Plan,
    settings: Settings,
    *,
    allow_large: bool = False,
    allow_freeze: bool = False,
    allow_offboard: bool = False,
) -> None:
    """Refuse change classes that can hurt people unless explicitly allowed; the message names the flag."""
    n = len(plan.changes)
    if n > settings.max_changes and not allow_large:
        raise GuardRefused(
            f"the plan changes {n} users; max_changes is {settings.max_changes} "
            "(reconciler.yaml). Review it and pass --allow-large to apply anyway"
        )
    freezes = [c for c in plan.changes if c.body.get("is_frozen") is True]
    if len(freezes) > settings.max_freezes and not allow_freeze:
        raise GuardRefused(
            f"the plan freezes {len(freezes)} users; max_freezes is {settings.max_freezes}. "
            "Pass --allow-freeze to apply anyway"
        )
    leavers = [c for c in plan.changes if c.action == Action.OFFBOARD.value]
    if len(leavers) > settings.max_offboards and not allow_offboard:
        raise GuardRefused(
            f"the plan offboards {len(leavers)} people; max_offboards is {settings.max_offboards} "
            "(reconciler.yaml). Review who leaves and pass --allow-offboard to apply anyway"
        )
    moves = [c for c in plan.changes if "department_ids" in c.body]
    if len(moves) > settings.max_department_moves and not allow_large:
        raise GuardRefused(
            f"the plan moves {len(moves)} users between departments; max_department_moves is "
            f"{settings.max_department_moves}. Pass --allow-large to apply anyway"
        )


def foreseen_refusals(plan: Plan, settings: Settings) -> list[str]:
    """What apply will refuse or skip in this plan, said in the plan a reviewer reads before merge."""
    out = []
    try:
        check_guards(plan, settings)
    except GuardRefused as exc:
        out.append(f"apply will refuse this plan as it stands: {exc}")
    for change in plan.changes:
        if protects(settings.protected, change.handle, change.user_id):
            out.append(f"apply will skip @{change.handle}: protected in reconciler.yaml (never touched)")
    return out


def _apply_one(
    change: UserChange, live: dict[str, Any] | None, client: DirectoryClient, protected: frozenset[str]
) -> UserResult:
    result = _result(change, APPLIED)
    if protects(protected, change.handle, change.user_id):
        result.status, result.message = SKIPPED, "protected in reconciler.yaml"
        return result
    if live is None:
        result.status, result.message, result.code = FAILED, "the API no longer returns this user", 41050
        return result
    if live.get("is_tenant_manager") and change.body.get("is_frozen") is True:
        result.status = FAILED  # refused by us, not skipped: the desired state is not reached
        result.message = "refused: freezing a tenant manager is never applied; unfreeze in git or demote them first"
        return result
    if fingerprint(live, change.compared) != change.fingerprint:
        result.status = STALE
        moved = [f.field for f in change.changes if diff_field(f.field, f.before, live) is not None]
        what = ", ".join(moved) if moved else "a declared field it does not change"
        result.message = f"live values changed since the plan was made ({what} moved); plan again"
        return result
    if change.action == Action.OFFBOARD.value and "is_frozen" not in change.body:
        if _sent(result, lambda: client.delete_user(change.user_id, change.body)):  # delete, with the acceptors
            result.message = "deleted (删除用户)"
    else:
        _sent(result, lambda: client.patch_user(change.user_id, change.body, lane=Lane(change.lane)))
    return result


def _sent(result: UserResult, request: Callable[[], Any]) -> Any:
    """The answer of one write, or None with `result` marked failed and why."""
    try:
        return request()
    except ApiError as exc:
        result.status, result.code, result.log_id = FAILED, exc.code, exc.log_id
        result.message = f"{exc.code} {exc.msg}: {explain(exc.code)}"
    except ReconcilerError as exc:
        result.status, result.message = FAILED, str(exc)
    return None


def _create_one(change: UserChange, holder: str | None, client: DirectoryClient) -> UserResult:
    """创建用户 with the plan's client_token: a re-sent request returns the person it created."""
    result = _result(change, APPLIED)
    if holder:
        result.status = STALE
        result.message = f"someone created this person since the plan was made (as {holder}); plan again"
        return result
    created = _sent(result, lambda: client.create_user(change.body, change.client_token))
    if created is not None:
        result.user_id = str(created.get(client.user_id_type) or "")
        result.message = f"created as {result.user_id}; add `user_id: {result.user_id}` to {change.path}"
    return result


def _holders(client: DirectoryClient, creates: list[UserChange]) -> dict[str, str]:
    """Handles of planned hires whose mobile someone holds now (created since the plan, by anyone)."""
    if not creates:
        return {}
    held = mobile_holders(client, {c.handle: c.body["mobile"] for c in creates})
    return {handle: entry["user_id"] for handle, entry in held.items()}


def apply_plan(
    plan: Plan,
    client: DirectoryClient,
    *,
    protected: tuple[str, ...] = (),
    concurrency: int | None = None,
    on_result: Callable[[UserResult], None] | None = None,
    stop: threading.Event | None = None,
) -> ApplyReport:
    """Apply every change and report each user, whatever happens: a failed read before or after the
    writes, or `stop` (Ctrl-C: requests in flight finish, the rest are skipped), still yields a full
    report."""
    report = ApplyReport(plan.hash)
    if not plan.changes:
        return report
    stop = stop or threading.Event()
    creates = [c for c in plan.changes if c.action == Action.CREATE.value]
    try:
        live = client.fetch_users(c.user_id for c in plan.changes if c.user_id)
        holders = _holders(client, creates)
    except ReconcilerError as exc:
        reason = f"not sent: live state could not be read before applying ({exc})"
        report.results = [_result(c, FAILED, reason) for c in plan.changes]
        return report
    guard = frozenset(protected)

    def run(change: UserChange) -> UserResult:
        if stop.is_set():
            result = _result(change, SKIPPED, "not sent: interrupted")
        else:
            try:
                if change.action == Action.CREATE.value:
                    result = _create_one(change, holders.get(change.handle), client)
                else:
                    result = _apply_one(change, live.get(change.user_id), client, guard)
            except Exception as exc:  # a bug of ours: this user is reported failed, the others still run
                result = _result(
                    change, FAILED, f"internal error (a bug, please report it): {type(exc).__name__}: {exc}"
                )
        if on_result is not None:
            on_result(result)
        return result

    # the 1-QPS lane gets its own worker: moves waiting for their slot must not stall the rest
    slow = [c for c in plan.changes if c.lane == Lane.SLOW.value]
    normal = [c for c in plan.changes if c.lane != Lane.SLOW.value]
    with (
        ThreadPoolExecutor(max_workers=1) as slow_pool,
        ThreadPoolExecutor(max_workers=max(1, concurrency or client.concurrency)) as pool,
    ):
        slow_results = slow_pool.map(run, slow)
        normal_results = pool.map(run, normal)
        results = {r.handle: r for r in [*slow_results, *normal_results]}
    report.results = [results[c.handle] for c in plan.changes]
    report.interrupted = stop.is_set()
    _read_back(report, plan, client)
    return report


def _read_back(report: ApplyReport, plan: Plan, client: DirectoryClient) -> None:
    """Confirm each applied user by reading it back; a failed read leaves them applied-unverified."""
    applied = [r for r in report.results if r.status == APPLIED]
    if not applied:
        return
    try:
        readback = client.fetch_users(r.user_id for r in applied)
    except ReconcilerError as exc:
        for result in applied:
            result.status = UNVERIFIED
            result.message = f"sent and accepted, but reading it back failed ({exc}); run plan to confirm"
        return
    changes = {c.handle: c for c in plan.changes}
    for result in applied:
        now = readback.get(result.user_id)
        change = changes[result.handle]
        unreadable = [] if now is None else [f.field for f in change.changes if not answered(now, f.field)]
        differs = [
            f.field
            for f in change.changes
            if now is None or (f.field not in unreadable and diff_field(f.field, f.after, now) is not None)
        ]
        if unreadable and not differs:
            result.status = UNVERIFIED
            result.message = (
                f"sent and accepted, but the read-back leaves out {', '.join(unreadable)} (the app may no longer "
                "read it); run plan to confirm"
            )
        elif differs:
            result.status = FAILED
            result.message = f"the API accepted the update but reads back different {', '.join(differs)}"
