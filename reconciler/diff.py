"""Desired × live → FieldChanges, for declared fields only.

Values are normalised first (mobile forms, e-mail case, id-set order, records keyed by id with
only the declared sub-keys), compared for plain equality, and only when they differ described in
detail with deepdiff.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .fields import BY_NAME, FIELD_ORDER, Field, Kind
from .plan import FieldChange

# Defaults the API uses for an order sub-key it does not return.
ORDER_DEFAULTS = {"user_order": 0, "department_order": 0, "is_primary_dept": False}


def live_value(live: dict[str, Any], name: str) -> Any:
    """A field as the read APIs return it; `is_frozen` lives in `status` on GET."""
    if name == "is_frozen":
        status = live.get("status") or {}
        return status.get("is_frozen", live.get("is_frozen"))
    return live.get(name)


def answered(live: dict[str, Any], name: str) -> bool:
    """Whether the read answered this field: a field the app may not read is left out (字段权限要求),
    so a missing key means unknown, never empty."""
    if name == "is_frozen":
        return "is_frozen" in (live.get("status") or {}) or "is_frozen" in live
    return name in live


def _records(field: Field, desired: list[dict[str, Any]], live: list[dict[str, Any]] | None) -> tuple[dict, dict]:
    """Both sides keyed by the record id, live projected onto the sub-keys the YAML declares."""
    key = field.key or "id"
    live_by = {r.get(key): r for r in (live or []) if isinstance(r, dict)}
    want: dict[Any, Any] = {}
    have: dict[Any, Any] = {}
    for rec in desired:
        rid = rec.get(key)
        want[rid] = rec
        current = live_by.get(rid)
        if current is None:
            have[rid] = None
            continue
        projected: dict[str, Any] = {}
        for sub, value in rec.items():
            got = current.get(sub, ORDER_DEFAULTS.get(sub) if field.name == "orders" else None)
            if isinstance(value, dict) and isinstance(got, dict):
                got = {k: got.get(k) for k in value}
            projected[sub] = got
        have[rid] = projected
    if field.name == "orders":
        # orders are replaced as a whole: a live order the YAML drops is a change
        for rid, rec in live_by.items():
            if rid not in want:
                have[rid] = rec
    return want, have


def comparable(field: Field, value: Any) -> Any:
    """The normalised form two values are compared in."""
    if value is None:  # missing means the field's empty value (fields.Field.empty), as for import
        value = field.empty_value
    if field.normalise is not None:
        value = field.normalise(value)
    if field.kind is Kind.ID_SET:
        return sorted(str(v) for v in value) if isinstance(value, list) else value
    return value


def _details(name: str, want: Any, have: Any) -> list[str]:
    from deepdiff import DeepDiff  # only differing records need it: import lazily

    diff = DeepDiff(have, want, verbose_level=2, view="tree")
    lines: list[str] = []
    for kind in sorted(diff):
        for change in diff[kind]:
            path = change.path(output_format="list")
            where = name + "".join(f"[{p}]" if i == 0 else f".{p}" for i, p in enumerate(path))
            before = (
                "(none)" if change.t1 is None or kind.endswith("_added") else json.dumps(change.t1, ensure_ascii=False)
            )
            after = "(removed)" if kind.endswith("_removed") else json.dumps(change.t2, ensure_ascii=False)
            lines.append(f"{where}: {before} → {after}")
    return lines


def diff_field(name: str, desired: Any, live: dict[str, Any]) -> FieldChange | None:
    """A FieldChange when the declared value differs from live, else None (peribolos setIfChanged)."""
    field = BY_NAME[name]
    current = live_value(live, name)
    if desired == current and field.kind is not Kind.RECORDS:
        return None  # raw equality implies equality after normalisation: skip it
    if field.kind is Kind.RECORDS:
        want, have = _records(field, desired, current)
        if want == have:
            return None
        return FieldChange(name, current or [], desired, _details(name, want, have))
    if comparable(field, desired) == comparable(field, current):
        return None
    details: list[str] = []
    if field.kind is Kind.ID_SET:
        before, after = set(comparable(field, current)), set(comparable(field, desired))
        details = [f"+ {v}" for v in sorted(after - before)] + [f"- {v}" for v in sorted(before - after)]
    return FieldChange(name, current, desired, details)


def diff_user(desired: dict[str, Any], live: dict[str, Any]) -> list[FieldChange]:
    """Changes of the readable declared fields the live record carries, in field-table order."""
    changes = []
    for name, value in desired.items():
        if not BY_NAME[name].readable or not answered(live, name):  # not comparable: the planner says so
            continue
        change = diff_field(name, value, live)
        if change is not None:
            changes.append(change)
    changes.sort(key=lambda c: FIELD_ORDER[c.field])
    return changes


# the value keys PATCH accepts (修改用户部分信息, custom_attrs.value); the read APIs add display-only ones
ATTR_VALUE_KEYS = ("text", "url", "pc_url", "option_id", "generic_user")


def writable_attr(attr: dict[str, Any]) -> dict[str, Any]:
    """A custom attribute as PATCH takes it: a fresh copy without the read-only value keys."""
    value = attr.get("value") if isinstance(attr.get("value"), dict) else {}
    out = {k: v for k, v in attr.items() if k != "value"}
    out["value"] = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items() if k in ATTR_VALUE_KEYS}
    return out


def is_clearing(change: FieldChange) -> bool:
    """Whether a change sets a field to its empty value, i.e. asks Feishu to clear it."""
    field = BY_NAME[change.field]
    if field.kind is Kind.RECORDS or field.empty_is_a_value or field.empty is None:
        return False
    return comparable(field, change.after) == comparable(field, None)


def patch_body(desired: dict[str, Any], changes: list[FieldChange], live: dict[str, Any]) -> dict[str, Any]:
    """The minimal PATCH: changed fields only; orders travel with department_ids (error 44002)."""
    body: dict[str, Any] = {}
    for change in changes:
        if change.field == "custom_attrs":
            # the PATCH page does not say whether the list merges by id or replaces: the complete list
            # (the live attributes the file does not declare, unchanged, then the declared) is right either way
            declared = {a.get("id") for a in desired["custom_attrs"]}
            others = [
                writable_attr(a)
                for a in live_value(live, "custom_attrs") or []
                if isinstance(a, dict) and a.get("id") not in declared
            ]
            body["custom_attrs"] = others + [writable_attr(a) for a in desired["custom_attrs"]]
        elif change.field == "orders":
            live_by = {o.get("department_id"): o for o in live_value(live, "orders") or []}
            body["orders"] = [
                {**{k: v for k, v in live_by.get(o.get("department_id"), {}).items() if k in ORDER_DEFAULTS}, **o}
                for o in desired["orders"]
            ]
        else:
            body[change.field] = desired[change.field]
    if "orders" in body and "department_ids" not in body:
        body["department_ids"] = desired.get("department_ids", live_value(live, "department_ids") or [])
    return {k: body[k] for k in sorted(body, key=FIELD_ORDER.__getitem__)}


def fingerprint(live: dict[str, Any] | None, names: list[str]) -> str:
    """Hash of a live user's values of the given fields: a saved plan is stale when it changes."""
    if live is None:
        return "absent"
    values = {
        n: comparable(BY_NAME[n], live_value(live, n)) if answered(live, n) else "(unreadable)"
        for n in sorted(names)
        if BY_NAME[n].readable
    }
    blob = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
