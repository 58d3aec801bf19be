"""Building a Plan: validated desired users × live users. `build_plan` is pure; `plan_directory`
adds the one read it needs (batch GET of the declared users)."""

from __future__ import annotations

from typing import Any

from .client import DirectoryClient
from .desired import DesiredState
from .diff import diff_user, fingerprint, live_value, patch_body
from .fields import BY_NAME, lane_of
from .plan import Plan, PlanError, UserChange
from .validate import ValidationResult


def build_plan(
    state: DesiredState,
    result: ValidationResult,
    live: dict[str, dict[str, Any]],
    *,
    base_url: str,
    sync_write_only: bool = False,
) -> Plan:
    settings = state.settings
    plan = Plan(
        base_url=base_url,
        user_id_type=settings.user_id_type,
        department_id_type=settings.department_id_type,
        desired_digest=state.digest,
    )
    plan.names.update(state.department_names())
    plan.names.update({u.user_id: "@" + u.handle for u in result.users})
    plan.warnings = [str(i) for i in result.warnings]
    for user in result.users:
        current = live.get(user.user_id)
        if current is None:
            plan.errors.append(
                PlanError(
                    user.handle,
                    user.path,
                    f"user_id {user.user_id} was not returned by the API: no such user, or outside the app's "
                    "contact scope; check the id and the app's data scope (developer console > permissions)",
                    41050,
                )
            )
            continue
        fields = user.fields
        if "orders" in fields and "department_ids" not in fields:
            live_depts = set(live_value(current, "department_ids") or [])
            stray = [o.get("department_id") for o in fields["orders"] if o.get("department_id") not in live_depts]
            if stray:
                plan.errors.append(
                    PlanError(
                        user.handle,
                        user.path,
                        f"orders name {', '.join(map(str, stray))}, which is not one of the user's live departments; "
                        "declare department_ids too (Feishu rejects this with 41025)",
                        41025,
                    )
                )
                continue
        changes = diff_user(fields, current)
        write_only = [n for n in fields if not BY_NAME[n].readable]
        body = patch_body(fields, changes, current)
        if sync_write_only:
            body.update({n: fields[n] for n in write_only})
        if not body:
            plan.unchanged.append(user.handle)
            continue
        compared = [n for n in fields if BY_NAME[n].readable]
        plan.changes.append(
            UserChange(
                handle=user.handle,
                user_id=user.user_id,
                name=str(current.get("name") or fields.get("name") or ""),
                path=user.path,
                changes=changes,
                body=body,
                lane=lane_of(body).value,
                fingerprint=fingerprint(current, compared),
                compared=compared,
                write_only=write_only,
            )
        )
    for user in result.users:
        skipped = [n for n in user.fields if not BY_NAME[n].readable]
        if skipped and not sync_write_only:
            plan.write_only_notes.append(
                f"@{user.handle}: {', '.join(skipped)} cannot be compared with live state (the API does not return "
                "it); not sent. Use --sync-write-only to send it."
            )
    return plan


def plan_directory(
    state: DesiredState, result: ValidationResult, client: DirectoryClient, *, sync_write_only: bool = False
) -> Plan:
    live = client.fetch_users(u.user_id for u in result.users)
    return build_plan(state, result, live, base_url=client.base_url, sync_write_only=sync_write_only)
