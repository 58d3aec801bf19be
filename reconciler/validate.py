"""Validation of the desired state: the generated JSON Schema, then the docs' cross-field and
cross-file rules, each message naming the Feishu error code it prevents. Also resolves
`@handle` and `@alias` references, so later stages only see concrete ids.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .desired import DesiredState, DesiredUser
from .errors import Issue
from .fields import BY_NAME, CREATE_REQUIRED, IDENTITY_KEY, PUT_REQUIRED, Ref, normalise_email, normalise_mobile
from .hidden import hidden_in
from .policy_check import check_policies
from .schema import schema_accepts, user_schema
from .yamlio import field_path

# Limits of the deprecated PUT page / error table that are stricter than the PATCH page.
STRICTER_LIMITS = {"name": (64, 41070), "en_name": (64, 41071), "nickname": (64, 41072), "job_title": (100, 41063)}
CODE_OF_CONSTRAINT = {
    ("department_ids", "maxItems"): 41033,
    ("mobile", "pattern"): 41004,
    ("email", "pattern"): 41005,
    ("enterprise_email", "pattern"): 41005,
    ("gender", "enum"): 41038,
    ("name", "minLength"): 41040,
    ("user_id", "maxLength"): 41043,
    ("employee_type", "minimum"): 41059,
    ("name", "maxLength"): 41070,
    ("en_name", "maxLength"): 41071,
    ("nickname", "maxLength"): 41072,
}


USER_REF_FIELDS = tuple(f.name for f in BY_NAME.values() if f.ref is Ref.USER)


@dataclass
class ResolvedUser:
    handle: str
    path: str
    user_id: str
    fields: dict[str, Any]  # declared PATCH fields, references resolved to ids
    source: DesiredUser


@dataclass
class ValidationResult:
    users: list[ResolvedUser]
    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # only files schema_accepts refuses need it: import lazily

    return Draft202012Validator(user_schema())


def _issue(user: DesiredUser, keys: Sequence[str | int], message: str, severity: str = "error") -> Issue:
    line, col = user.locate(keys)
    return Issue(user.path, line, col, field_path(keys), message, severity)


def _with_code(message: str, code: int | None) -> str:
    return f"{message} (Feishu rejects this with {code})" if code else message


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


JSON_TYPES = {
    "string": "a string",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "empty",
    "number": "a number",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", int: "a whole number", float: "a decimal number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def schema_issues(user: DesiredUser) -> list[Issue]:
    """Every schema violation of one user file, in file order, written for a person."""
    out: list[Issue] = []
    for err in sorted(_validator().iter_errors(user.data), key=lambda e: [str(p) for p in e.absolute_path]):
        keys = list(err.absolute_path)
        top = keys[0] if keys else None
        kind = err.validator
        code = CODE_OF_CONSTRAINT.get((str(top) if top is not None else "", str(kind)))
        if kind == "additionalProperties":
            allowed = list(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed), key=str):
                near = difflib.get_close_matches(str(extra), allowed, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(allowed)}"
                out.append(_issue(user, [*keys, extra], f"unknown key {extra!r}{hint}"))
            continue
        if kind == "required":
            missing = [r for r in err.validator_value if r not in err.instance]
            for name in missing:
                what = "the user's id in the configured user_id_type" if name == IDENTITY_KEY else "required"
                out.append(_issue(user, keys, f"{field_path([*keys, name])} is missing: {what}"))
            continue
        value = err.instance
        if kind == "type":
            expected = err.validator_value
            expected = " or ".join(
                JSON_TYPES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected)
            )
            if value is None:
                documented = top in BY_NAME and BY_NAME[top].clear is not None
                clear = '; write "" to clear it' if documented and expected == "a string" else ""
                msg = f"has no value; expected {expected}{clear or '; remove the key to leave the field unmanaged'}"
            else:
                hint = "; quote it" if expected == "a string" and not isinstance(value, (list, dict)) else ""
                msg = f"{_describe(value)} is {_type_name(value)}; expected {expected}{hint}"
        elif kind == "enum":
            msg = f"{_describe(value)} is not one of {', '.join(map(_describe, err.validator_value))}"
        elif kind == "maxLength":
            msg = f"is {len(value)} characters; at most {err.validator_value}"
        elif kind == "minLength":
            msg = "must not be empty" if err.validator_value == 1 else f"at least {err.validator_value} characters"
            if top == "leader_user_id":
                msg += (
                    ": the PATCH page documents no way to remove a leader; name another leader (@handle), "
                    "or remove the key to leave the leader unmanaged"
                )
        elif kind == "maxItems":
            msg = f"has {len(value)} items; at most {err.validator_value}"
        elif kind == "uniqueItems":
            dupes = sorted({_describe(v) for v in value if value.count(v) > 1})
            msg = f"lists {', '.join(dupes)} more than once"
        elif kind in ("minimum", "maximum"):
            word = "at least" if kind == "minimum" else "at most"
            msg = f"{_describe(value)} is out of range; {word} {err.validator_value}"
        elif kind == "pattern":
            if top == "mobile":
                msg = f"{_describe(value)} is not a mobile number; write 13011111111, +8613011111111 or +41446681800"
            elif top in ("email", "enterprise_email"):
                msg = f"{_describe(value)} is not an e-mail address"
            else:
                msg = f"{_describe(value)} does not match {err.validator_value}"
        else:
            msg = err.message
        out.append(_issue(user, keys, _with_code(msg, code)))
    return out


def _resolve_departments(
    user: DesiredUser, key: str, values: Iterable[Any], state: DesiredState, out: list[Issue], prefix: list[Any]
) -> list[Any]:
    resolved = []
    for i, value in enumerate(values):
        if isinstance(value, str) and value.startswith("@"):
            dept = state.departments.get(value[1:])
            if dept is None:
                near = difflib.get_close_matches(value[1:], list(state.departments), n=1)
                hint = f"; did you mean '@{near[0]}'?" if near else "; add it to departments.yaml"
                out.append(
                    _issue(
                        user,
                        prefix + ([i] if key == "department_ids" else []),
                        f"{value!r} is not a department alias of departments.yaml{hint}",
                    )
                )
                resolved.append(value)
            else:
                resolved.append(dept.id)
        else:
            resolved.append(value)
    return resolved


def _resolve_user_ref(user: DesiredUser, value: Any, keys: list[Any], ids: dict[str, str], out: list[Issue]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        target = ids.get(value[1:])
        if target is None:
            near = difflib.get_close_matches(value[1:], list(ids), n=1)
            hint = f"; did you mean '@{near[0]}'?" if near else "; add users/" + value[1:] + ".yaml"
            out.append(_issue(user, keys, f"{value!r} is not a user file's handle{hint}"))
            return value
        return target or value
    return value


def _resolve_generic_user(user: DesiredUser, i: int, attr: Any, ids: dict[str, str], out: list[Issue]) -> Any:
    """A GENERIC_USER attribute's '@handle' as that user's id (a copy: the file's data stays as written)."""
    person = attr.get("value", {}).get("generic_user") if isinstance(attr, dict) else None
    if not isinstance(person, dict) or not str(person.get("id", "")).startswith("@"):
        return attr
    keys = ["custom_attrs", i, "value", "generic_user", "id"]
    resolved = {**person, "id": _resolve_user_ref(user, person["id"], keys, ids, out)}
    return {**attr, "value": {**attr["value"], "generic_user": resolved}}


def _check_hire(user: DesiredUser, fields: dict[str, Any], out: list[Issue]) -> None:
    """A file without user_id is a person to create: it must hold what 创建用户 requires."""
    mobile = fields.get("mobile")
    if (
        isinstance(mobile, str)
        and mobile
        and not normalise_mobile(mobile).startswith("+86")
        and "email" not in fields  # declared empty: the rule every user has (in validate) reports it
    ):
        out.append(
            _issue(
                user,
                ["mobile"],
                _with_code("a new hire with a non-+86 mobile needs an e-mail too (创建用户); declare email", 44020),
            )
        )
    for name, code in CREATE_REQUIRED:
        if fields.get(name) in (None, "", []):
            out.append(
                _issue(
                    user,
                    [],
                    _with_code(
                        f"{name} is missing: a file without user_id is a new hire, and creating a person needs "
                        "name, mobile, department_ids and employee_type (or add the user_id of an existing person)",
                        code,
                    ),
                )
            )


def _no_references_to_hires(user: DesiredUser, fields: dict[str, Any], hires: set[str], out: list[Issue]) -> None:
    """A new hire has no id until created: nobody can name them as leader in the same change."""
    data = user.data
    refs = [("leader_user_id", data.get("leader_user_id"))]
    refs += [("dotted_line_leader_user_ids", v) for v in data.get("dotted_line_leader_user_ids") or []]
    for key, value in refs:
        if isinstance(value, str) and value.startswith("@") and value[1:] in hires:
            out.append(
                _issue(
                    user,
                    [key],
                    f"{value} is a new hire with no id until they are created: merge the hire first, add their "
                    "user_id to their file, then reference them",
                )
            )


def _check_orders(user: DesiredUser, fields: dict[str, Any], out: list[Issue]) -> None:
    orders = fields.get("orders")
    if not isinstance(orders, list):
        return
    depts = fields.get("department_ids")
    seen: set[Any] = set()
    for i, order in enumerate(orders):
        did = order.get("department_id")
        if did is None:
            out.append(_issue(user, ["orders", i], "department_id is missing: an order names its department"))
            continue
        if did in seen:
            out.append(_issue(user, ["orders", i, "department_id"], f"{_describe(did)} has two orders; keep one"))
        seen.add(did)
        if isinstance(depts, list) and did not in depts:
            shown = user.data["orders"][i].get("department_id")
            out.append(
                _issue(
                    user,
                    ["orders", i, "department_id"],
                    _with_code(f"{_describe(shown)} is not one of this user's department_ids", 41025),
                )
            )
    primaries = [i for i, o in enumerate(orders) if o.get("is_primary_dept") is True]
    if len(primaries) > 1:
        out.append(
            _issue(
                user,
                ["orders", primaries[1], "is_primary_dept"],
                _with_code("a user has one primary department; set is_primary_dept: true on one order only", 41410),
            )
        )
    elif primaries:
        p = primaries[0]
        top = max((o.get("department_order", 0) for o in orders), default=0)
        if orders[p].get("department_order", 0) < top:
            out.append(
                _issue(
                    user,
                    ["orders", p, "department_order"],
                    _with_code(
                        f"the primary department's department_order ({orders[p].get('department_order', 0)}) "
                        f"must be the largest of this user's orders ({top})",
                        41410,
                    ),
                )
            )


CUSTOM_ATTR_NEEDS = {
    "TEXT": ("text",),
    "HREF": ("text", "url"),
    "ENUMERATION": ("option_id",),
    "PICTURE_ENUM": ("option_id",),
    "GENERIC_USER": ("generic_user",),
}


def _check_custom_attrs(user: DesiredUser, attrs: Any, out: list[Issue]) -> None:
    if not isinstance(attrs, list):
        return
    seen: set[str] = set()
    for i, attr in enumerate(attrs):
        if not attr.get("id"):
            out.append(_issue(user, ["custom_attrs", i], _with_code("id is missing: name the custom attribute", 41044)))
        elif attr["id"] in seen:
            out.append(_issue(user, ["custom_attrs", i, "id"], f"{attr['id']!r} is set twice; keep one"))
        else:
            seen.add(attr["id"])
        value = attr.get("value")
        if not value:
            out.append(
                _issue(user, ["custom_attrs", i], _with_code("value is missing: give the attribute a value", 41046))
            )
            continue
        for need in CUSTOM_ATTR_NEEDS.get(attr.get("type", ""), ()):
            if not value.get(need):
                code = {("HREF", "text"): 41047, ("HREF", "url"): 41048}.get((attr["type"], need), 41046)
                out.append(
                    _issue(
                        user, ["custom_attrs", i, "value"], _with_code(f"type {attr['type']} needs value.{need}", code)
                    )
                )


def _leader_cycles(users: list[ResolvedUser]) -> list[tuple[ResolvedUser, list[str]]]:
    by_id = {u.user_id: u for u in users if u.user_id}  # new hires have no id, and lead nobody yet
    found: list[tuple[ResolvedUser, list[str]]] = []
    reported: set[str] = set()
    for user in users:
        path: list[str] = []
        current: ResolvedUser | None = user
        while current is not None and current.user_id not in path:
            path.append(current.user_id)
            current = by_id.get(current.fields.get("leader_user_id", ""))
        if current is not None and current.user_id == user.user_id and user.user_id not in reported:
            names = [by_id[uid].handle for uid in path]
            reported.update(path)
            found.append((user, names))
    return found


def validate(state: DesiredState) -> ValidationResult:
    """All issues of all files in one pass; users that have errors are left out of the result."""
    issues: list[Issue] = list(state.issues)
    checked: list[tuple[DesiredUser, list[Issue]]] = []
    ids: dict[str, str] = {}
    hires: set[str] = set()  # files without a user_id: people to create
    accepts = schema_accepts()
    for user in state.users:
        ok = user.schema_ok if user.schema_ok is not None else accepts(user.data)
        own = [] if ok else schema_issues(user)
        checked.append((user, own))
        if isinstance(user.data.get(IDENTITY_KEY), str):
            ids[user.handle] = user.data[IDENTITY_KEY]
        elif IDENTITY_KEY not in user.data:
            hires.add(user.handle)
            ids[user.handle] = ""  # a handle, but no id yet: _no_references_to_hires explains
    resolved: list[ResolvedUser] = []
    first_seen: dict[tuple[str, Any], DesiredUser] = {}
    for user, own in checked:
        if own:
            issues.extend(own)
            continue
        fields = {k: v for k, v in user.data.items() if k != IDENTITY_KEY}
        if "department_ids" in fields:
            fields["department_ids"] = _resolve_departments(
                user, "department_ids", fields["department_ids"], state, own, ["department_ids"]
            )
        if "orders" in fields:
            fields["orders"] = [dict(o) for o in fields["orders"]]
            for i, order in enumerate(fields["orders"]):
                if "department_id" in order:
                    order["department_id"] = _resolve_departments(
                        user, "orders", [order["department_id"]], state, own, ["orders", i, "department_id"]
                    )[0]
        for name in USER_REF_FIELDS:
            if name not in fields:
                continue
            if isinstance(fields[name], list):
                fields[name] = [_resolve_user_ref(user, v, [name, i], ids, own) for i, v in enumerate(fields[name])]
            else:
                fields[name] = _resolve_user_ref(user, fields[name], [name], ids, own)
        if isinstance(fields.get("custom_attrs"), list):
            fields["custom_attrs"] = [
                _resolve_generic_user(user, i, a, ids, own) for i, a in enumerate(fields["custom_attrs"])
            ]
        user_id = user.data.get(IDENTITY_KEY, "")
        if not user_id:
            _check_hire(user, fields, own)
        _no_references_to_hires(user, fields, hires, own)
        if fields.get("leader_user_id") == user_id:
            own.append(_issue(user, ["leader_user_id"], _with_code("a user cannot lead themself", 41030)))
        if user_id in fields.get("dotted_line_leader_user_ids", []):
            own.append(_issue(user, ["dotted_line_leader_user_ids"], "a user cannot be their own dotted-line leader"))
        _check_orders(user, fields, own)
        _check_custom_attrs(user, fields.get("custom_attrs"), own)
        mobile = fields.get("mobile")
        if mobile and not normalise_mobile(mobile).startswith("+86") and "email" in fields and not fields["email"]:
            own.append(
                _issue(user, ["email"], _with_code("a user with a non-+86 mobile needs an e-mail; declare one", 44020))
            )
        if state.settings.require_complete:
            for name in PUT_REQUIRED:
                if name not in fields:
                    own.append(_issue(user, [], f"{name} is missing: require_complete is on in reconciler.yaml"))
        for name, (limit, code) in STRICTER_LIMITS.items():
            value = fields.get(name)
            if isinstance(value, str) and len(value) > limit:
                own.append(
                    _issue(
                        user,
                        [name],
                        f"is {len(value)} characters; the docs also state a limit of {limit} "
                        f"(error {code}), which some tenants enforce",
                        severity="warning",
                    )
                )
        for name, norm, code in (
            ("user_id", None, None),
            ("mobile", normalise_mobile, 41001),
            ("email", normalise_email, 41002),
            ("employee_no", None, 44051),
        ):
            value = user_id if name == "user_id" else fields.get(name)
            if not value:
                continue
            key = (name, norm(value) if norm else value)
            other = first_seen.get(key)
            if other is None:
                first_seen[key] = user
            else:
                what = "the same user" if name == "user_id" else f"the same {name}"
                own.append(
                    _issue(
                        user,
                        [name],
                        _with_code(f"{_describe(value)}: {other.path} declares {what}; each must be unique", code),
                    )
                )
        issues.extend(own)
        if not any(i.severity == "error" for i in own):
            resolved.append(ResolvedUser(user.handle, user.path, user_id, fields, user))
    for user, names in _leader_cycles(resolved):
        issues.append(
            _issue(
                user.source,
                ["leader_user_id"],
                "leader chain forms a cycle: " + " → ".join("@" + n for n in [*names, names[0]]),
                severity="warning",
            )
        )
    issues.extend(_protected_issues(state))
    issues.extend(check_policies(state, resolved))
    issues.extend(_invisible_issues(state))
    return ValidationResult(resolved, issues)


def _protected_issues(state: DesiredState) -> list[Issue]:
    """Each `protected` entry names a user file's handle or a declared user_id: a guard that
    matches nobody protects nobody, so it is an error rather than a silent no-op."""
    unmatched = state.unknown_people(state.settings.protected)
    if not unmatched:
        return []
    path, line, col = state.locate_in("reconciler.yaml", ["protected"])
    message = (
        "matches no user file (handle) and no declared user_id; fix or remove the entry. If the file was "
        "removed to offboard the person: they are protected, so they are never offboarded; restore the file, "
        "or remove them from protected first"
    )
    return [Issue(path, line, col, "protected", f"{entry!r} {message}") for entry in unmatched]


def _strings(value: Any, keys: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(value, str):
        yield keys, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, [*keys, str(k)])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, [*keys, i])


def _invisible_issues(state: DesiredState) -> list[Issue]:
    """Hidden characters (bidi controls, zero-width marks, controls: reconciler/hidden.py) can make a
    value read as something else in review."""
    found: list[Issue] = []
    for user in state.users:
        if user.hidden is False:  # the parsing worker found none in the file's bytes
            continue
        for keys, text in _strings(user.data, []):
            chars = sorted({f"U+{ord(c):04X}" for c in hidden_in(text)})
            if chars:
                message = f"holds invisible or text-direction characters ({', '.join(chars)}); plans show them escaped"
                found.append(_issue(user, keys, message, severity="warning"))
    return found
