"""Checking the directory against reconciler.yaml's `policies:` (policies.py): pure, run by validate.

Only what the files declare is checked; a leader or department no file declares is not looked up
in the tenant.
"""

from __future__ import annotations

from typing import Any, Protocol

from .config import protects
from .desired import DesiredState, DesiredUser
from .errors import Issue
from .fields import IDENTITY_KEY
from .policies import EMPLOYEE_TYPES, EVERYONE


class ResolvedUser(Protocol):
    """A validated user as validate.ResolvedUser holds it (references resolved to ids)."""

    handle: str
    path: str
    user_id: str
    fields: dict[str, Any]
    source: DesiredUser


def check_policies(state: DesiredState, users: list[ResolvedUser]) -> list[Issue]:
    """Every violation of the directory's policies, as errors naming the file, the line and the rule."""
    policies = state.settings.policies
    if not policies.any:
        return []
    issues: list[Issue] = []
    names = state.department_names()
    by_id = {u.user_id: u for u in users if u.user_id}
    if policies.every_person_has_a_leader:
        issues.extend(_unknown_exceptions(state))
        excepted = {*policies.leader_exceptions, state.settings.founder} - {""}
        for user in users:
            if protects(excepted, user.handle, user.user_id):
                continue
            if not user.fields.get("leader_user_id"):
                keys = ["leader_user_id"] if "leader_user_id" in user.source.data else []
                issues.append(
                    _violation(
                        user,
                        keys,
                        "every_person_has_a_leader",
                        "the person has no leader; declare leader_user_id, or add them to "
                        "policies.every_person_has_a_leader.except in reconciler.yaml",
                    )
                )
    if policies.leader_shares_a_department:
        for user in users:
            leader = by_id.get(user.fields.get("leader_user_id") or "")
            mine, theirs = user.fields.get("department_ids"), leader.fields.get("department_ids") if leader else None
            if leader is None or not mine or not theirs or set(mine) & set(theirs):
                continue
            issues.append(
                _violation(
                    user,
                    ["leader_user_id"],
                    "leader_shares_a_department",
                    f"the leader @{leader.handle} is in {_departments(theirs, names)}, none of this person's "
                    f"departments ({_departments(mine, names)}); choose a leader in one of them, or add the department",
                )
            )
    if policies.max_direct_members is not None:
        issues.extend(_crowded_departments(state, users, policies.max_direct_members, names))
    for user in users:
        kind = user.fields.get("employee_type")
        for key in (EVERYONE, kind):
            for name in policies.required_fields.get(key, ()) if key is not None else ():
                value = user.source.data.get(name) if name == IDENTITY_KEY else user.fields.get(name)
                if value in (None, "", []):
                    who = (
                        "everyone" if key == EVERYONE else f"employee_type {key} ({EMPLOYEE_TYPES.get(key, 'custom')})"
                    )
                    issues.append(
                        _violation(
                            user,
                            [name] if name in user.source.data else [],
                            "required_fields",
                            f"{name} is required for {who}; declare it",
                        )
                    )
    return issues


def _violation(user: ResolvedUser, keys: list[str | int], rule: str, message: str) -> Issue:
    line, col = user.source.locate(keys)
    return Issue(user.path, line, col, keys[0] if keys else "", f"policy {rule}: {message}")


def _departments(ids: list[str], names: dict[str, str]) -> str:
    return ", ".join(names.get(d, d) for d in ids)


def _unknown_exceptions(state: DesiredState) -> list[Issue]:
    """An exception that names nobody excepts nobody: an error, as for `protected`."""
    unknown = state.unknown_people(state.settings.policies.leader_exceptions)
    if not unknown:
        return []
    path, line, col = state.locate_in("reconciler.yaml", ["policies", "every_person_has_a_leader"])
    return [
        Issue(
            path,
            line,
            col,
            "policies",
            f"policy every_person_has_a_leader: except {p!r} matches no user file (handle) and no declared user_id; "
            "fix or remove the entry",
        )
        for p in unknown
    ]


def _crowded_departments(
    state: DesiredState, users: list[ResolvedUser], limit: int, names: dict[str, str]
) -> list[Issue]:
    members: dict[str, list[ResolvedUser]] = {}
    for user in users:
        for dept in user.fields.get("department_ids") or []:
            members.setdefault(dept, []).append(user)
    aliases = {d.id: d.alias for d in state.departments.values()}
    out = []
    for dept, people in members.items():
        if len(people) <= limit:
            continue
        name = names.get(dept, dept)
        alias = aliases.get(dept)
        if alias is not None:
            where, line, col = state.locate_in("departments.yaml", [alias])
        else:
            where, line, col = state.locate_in("reconciler.yaml", ["policies", "max_direct_members"])
        field_name = alias if alias is not None else "policies"
        beyond = ", ".join("@" + u.handle for u in people[limit:][:5]) + (" …" if len(people) - limit > 5 else "")
        out.append(
            Issue(
                where,
                line,
                col,
                field_name,
                f"policy max_direct_members: {name} has {len(people)} direct members (people who list it in "
                f"department_ids); at most {limit} are allowed. Beyond the limit, in file order: {beyond}. Split the "
                "department or raise max_direct_members",
            )
        )
    return out
