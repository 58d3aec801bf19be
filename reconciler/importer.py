"""Bootstrap a directory repo from live state: one schema-valid YAML file per live user, so that
`plan` right after `import` shows no changes."""

from __future__ import annotations

import re
from typing import Any

from .config import Settings
from .diff import live_value
from .fields import BY_NAME, FIELDS, IDENTITY_KEY, Kind
from .yamlio import dump_yaml

MODELINE = "# yaml-language-server: $schema=../../schemas/user.schema.json\n"
ORDER_KEYS = ("department_id", "user_order", "department_order", "is_primary_dept")
CUSTOM_ATTR_KEYS = ("type", "id", "value")
CUSTOM_VALUE_KEYS = ("text", "url", "pc_url", "option_id", "generic_user")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug[:48]


def _unique(base: str, taken: set[str], fallback: str) -> str:
    base = base or _slug(fallback) or "user"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def department_aliases(departments: list[dict[str, Any]], id_type: str) -> dict[str, tuple[str, str]]:
    """department id → (alias, display name)."""
    taken: set[str] = set()
    out: dict[str, tuple[str, str]] = {}
    for dept in sorted(departments, key=lambda d: str(d.get(id_type) or d.get("open_department_id"))):
        did = dept.get(id_type) or dept.get("open_department_id")
        if not did:
            continue
        name = str(dept.get("name") or did)
        custom = dept.get("department_id") if dept.get("department_id") != dept.get("open_department_id") else None
        out[did] = (_unique(_slug(custom or "") or _slug(name), taken, did), name)
    return out


def user_handles(users: list[dict[str, Any]], id_type: str) -> dict[str, str]:
    """user id → handle, from the e-mail's local part, else the English name, else the id."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for user in sorted(users, key=lambda u: str(u.get(id_type))):
        email = str(user.get("email") or user.get("enterprise_email") or "")
        base = _slug(email.split("@", 1)[0]) if email else _slug(str(user.get("en_name") or ""))
        out[user[id_type]] = _unique(base, taken, str(user[id_type]))
    return out


def _keep(name: str, value: Any) -> bool:
    """Only values that differ from the API's empty value for the field (fields.Field.empty)."""
    if value in (None, "", [], {}):
        return False
    empty = BY_NAME[name].empty_value
    return not (value == empty and type(value) is type(empty))


def user_document(
    user: dict[str, Any], settings: Settings, handles: dict[str, str], aliases: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    def dept(d: Any) -> Any:
        return "@" + aliases[d][0] if d in aliases else d

    def person(u: Any) -> Any:
        return "@" + handles[u] if u in handles else u

    doc: dict[str, Any] = {IDENTITY_KEY: user[settings.user_id_type]}
    for field in FIELDS:
        if not field.readable:
            continue
        value = live_value(user, field.name)
        if not _keep(field.name, value):
            continue
        if field.name == "department_ids":
            value = [dept(d) for d in value]
        elif field.name == "orders":
            value = [{k: (dept(o[k]) if k == "department_id" else o[k]) for k in ORDER_KEYS if k in o} for o in value]
        elif field.name == "custom_attrs":
            value = [
                {
                    k: ({vk: a[k][vk] for vk in CUSTOM_VALUE_KEYS if a[k].get(vk)} if k == "value" else a[k])
                    for k in CUSTOM_ATTR_KEYS
                    if k in a
                }
                for a in value
            ]
        elif field.name == "leader_user_id":
            value = person(value)
        elif field.name == "dotted_line_leader_user_ids":
            value = [person(u) for u in value]
        elif field.kind is Kind.ID_SET:
            value = list(value)
        doc[field.name] = value
    return doc


def import_directory(
    users: list[dict[str, Any]], departments: list[dict[str, Any]], settings: Settings
) -> tuple[str, dict[str, str]]:
    """(departments.yaml text, {handle: user file text}) for the given live state."""
    aliases = department_aliases(departments, settings.department_id_type)
    handles = user_handles(users, settings.user_id_type)
    dept_doc = {alias: {"id": did, "name": name} for did, (alias, name) in aliases.items()}
    dept_text = (
        '# Department aliases: use "@alias" in department_ids and orders[].department_id.\n'
        f"# Ids are {settings.department_id_type}s. Written by `reconciler import`.\n" + dump_yaml(dept_doc)
    )
    files = {
        handles[u[settings.user_id_type]]: MODELINE + dump_yaml(user_document(u, settings, handles, aliases))
        for u in users
    }
    return dept_text, files
