"""`reconciler doctor`: can this app, with these credentials, plan and apply this directory?

Checks the credentials (a token), the permissions the declared fields and the planned operations
need (查询租户授权状态 lists what the tenant granted), and the contact range against the departments
and users the directory manages. Every call it makes is a read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import permissions
from .errors import ApiError, ReconcilerError
from .fields import BY_NAME

if TYPE_CHECKING:
    from .client import DirectoryClient
    from .desired import DesiredState
    from .validate import ValidationResult


@dataclass(frozen=True)
class Need:
    """A permission the run needs: any one of `options`, for `purpose`."""

    options: tuple[str, ...]
    purpose: str
    required: bool = True  # False: only an optional feature (import, --show-unmanaged) needs it


@dataclass(frozen=True)
class Check:
    ok: bool
    topic: str
    detail: str
    required: bool = True


def needs(state: DesiredState, result: ValidationResult) -> list[Need]:
    """The permissions this directory's plan and apply need, and those of the optional features."""
    settings = state.settings
    out = [Need(permissions.ENDPOINT["users.batch"], "plan and apply read the declared users (batch GET)")]
    if settings.user_id_type == "user_id":
        out.append(
            Need((permissions.USER_ID_TYPE_USER_ID,), "user_id_type: user_id (reads return user_id only with it)")
        )
    declared = Counter(name for u in result.users for name in u.fields if BY_NAME[name].readable)
    by_options: dict[tuple[str, ...], list[str]] = {}
    for name in sorted(declared, key=list(BY_NAME).index):
        options = permissions.FIELD_READ.get(name, ())
        if options:
            by_options.setdefault(options, []).append(name)
    for options, names in by_options.items():
        counts = ", ".join(f"{n} ({declared[n]} user{'s' if declared[n] != 1 else ''})" for n in names)
        out.append(Need(options, f"plan compares {counts}; without it they are never compared nor sent"))
    if declared["email"] or declared["mobile"]:
        out.append(
            Need(permissions.ENDPOINT["users.batch_get_id"], "plan checks a new e-mail or mobile is nobody else's")
        )
    generic = any(
        a.get("type") == "GENERIC_USER"
        for u in result.users
        for a in u.fields.get("custom_attrs") or []
        if isinstance(a, dict)
    )
    if generic and settings.user_id_type != "user_id":
        out.append(Need((permissions.USER_ID_TYPE_USER_ID,), "GENERIC_USER custom attributes are sent by user_id"))
    out.append(Need(permissions.ENDPOINT["users.patch"], "apply updates users (PATCH)"))
    if any(not u.user_id for u in result.users):
        out.append(Need(permissions.ENDPOINT["users.create"], "apply creates the new hires (创建用户)"))
    if settings.offboarding == "delete":
        out.append(Need(permissions.ENDPOINT["users.delete"], "apply deletes leavers (删除用户, offboarding: delete)"))
    out.append(
        Need(permissions.ENDPOINT["users.find_by_department"], "import and plan --show-unmanaged list members", False)
    )
    out.append(Need(permissions.ENDPOINT["departments.children"], "import lists departments", False))
    out.append(Need(permissions.ENDPOINT["scopes"], "import with a departments range reads the range", False))
    return out


def _describe(need: Need) -> str:
    first, *others = need.options
    alternatives = f" (or any of {', '.join(others)})" if others else ""
    return f"{permissions.titled(first)}{alternatives}: {need.purpose}"


def diagnose(state: DesiredState, result: ValidationResult, client: DirectoryClient) -> list[Check]:
    """Every check, in order; stops early only when the credentials fail (nothing else can be asked)."""
    checks: list[Check] = []
    try:
        client.authenticate()
    except ReconcilerError as exc:
        return [Check(False, "credentials", str(exc))]
    checks.append(Check(True, "credentials", f"app {client.app_id} got a tenant token from {client.base_url}"))
    try:
        granted = client.granted_permissions()
    except ApiError as exc:
        checks.append(Check(False, "permissions", f"the app's permissions could not be read: {exc}"))
    else:
        for need in needs(state, result):
            held = any(permissions.same_scope(o, g) for o in need.options for g in granted)
            checks.append(Check(held, "permission", _describe(need), need.required))
    checks.extend(_range_checks(state, result, client))
    return checks


def _range_checks(state: DesiredState, result: ValidationResult, client: DirectoryClient) -> list[Check]:
    """The managed departments and the declared users, against the app's contact range."""
    checks: list[Check] = []
    names = state.department_names()
    managed = sorted(
        {d.id for d in state.departments.values()}
        | {d for u in result.users for d in u.fields.get("department_ids") or [] if isinstance(d, str)}
    )
    outside: list[str] = []
    for dept in managed:
        try:
            client.get_department(dept)
        except ApiError as exc:
            if exc.code not in (40004, 40014, 40015, 41050):
                raise
            outside.append(f"{names.get(dept, dept)} ({exc.code})")
    if outside:
        checks.append(
            Check(
                False,
                "contact range",
                f"{len(outside)} of the {len(managed)} managed departments are outside the app's contact range or "
                f"do not exist: {', '.join(outside[:10])}; add them to the app's range (developer console > 权限管理 "
                "> 数据权限)",
            )
        )
    else:
        checks.append(Check(True, "contact range", f"all {len(managed)} managed departments are in the app's range"))
    try:
        found = client.fetch_users(u.user_id for u in result.users)
    except ReconcilerError as exc:
        return [*checks, Check(False, "contact range", f"the declared users could not be read: {exc}")]
    missing = [u for u in result.users if u.user_id not in found]
    if missing:
        shown = ", ".join("@" + u.handle for u in missing[:10]) + (" …" if len(missing) > 10 else "")
        checks.append(
            Check(
                False,
                "contact range",
                f"{len(missing)} declared users are not returned (outside the app's contact range, or no such "
                f"user): {shown}",
            )
        )
    else:
        checks.append(Check(True, "contact range", f"all {len(result.users)} declared users are readable"))
    return checks
