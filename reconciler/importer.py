"""Bootstrap a directory repo from live state: one schema-valid YAML file per live user, so that
`plan` right after `import` shows no changes."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings, outside
from .desired import user_file_names
from .diff import live_value
from .errors import ApiError, ConfigError, ReconcilerError
from .fields import BY_NAME, FIELDS, IDENTITY_KEY, Kind
from .yamlio import dump_yaml

if TYPE_CHECKING:
    from .client import DirectoryClient

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


@dataclass(frozen=True)
class ImportOutcome:
    users: int
    departments: int
    stale: list[str]  # user files deleted: people not in the import
    dropped: list[str]  # protected entries removed: no such imported user


def check_import_target(directory: Path, force: bool) -> list[str]:
    """Refuse to overwrite user files without --force, or to write through links; the user files
    there now."""
    users_dir = directory / "users"
    existing = user_file_names(users_dir) if users_dir.is_dir() else []
    if existing and not force:
        raise ReconcilerError(
            f"{users_dir} already holds {len(existing)} user files; pass --force to replace them with the import"
        )
    for target in (users_dir, directory / "departments.yaml", directory / "reconciler.yaml"):
        if target.is_symlink() or (target.exists() and outside(directory, target)):
            raise ConfigError(f"{target}: refused: import writes only plain files inside {directory}, not links")
    return existing


def read_contact_range(
    client: DirectoryClient, settings: Settings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The departments and users the app may see. An app with the all-members range lists the root;
    any other gets 40004 for it (获取部门直属用户列表) and reads what 获取通讯录授权范围 names instead:
    its departments with their sub-departments and members, and the users named one by one."""
    key = settings.department_id_type
    try:
        users = client.find_by_department("0")
    except ApiError as exc:
        if exc.code != 40004:
            raise
        range_departments, range_users = client.contact_scope()
        departments = []
        for dept in dict.fromkeys(range_departments):
            departments.append(client.get_department(dept))
            departments.extend(client.list_departments(dept))
        departments = list({d.get(key): d for d in departments}.values())
        users = list(client.fetch_users(range_users).values())
    else:
        departments = client.list_departments()
    users += [u for d in departments if d.get(key) for u in client.find_by_department(d[key])]
    return departments, users


def import_tenant(
    directory: Path, settings: Settings, base_url: str, client: DirectoryClient, existing: list[str]
) -> ImportOutcome:
    """Read every department in the app's contact scope and its members, and write the directory."""
    departments, users = read_contact_range(client, settings)
    seen: dict[str, dict[str, Any]] = {}
    for user in users:
        seen.setdefault(user[settings.user_id_type], user)
    dept_text, files = import_directory(list(seen.values()), departments, settings)
    users_dir = directory / "users"
    users_dir.mkdir(parents=True, exist_ok=True)
    links = [n for n in os.listdir(users_dir) if (users_dir / n).is_symlink()]
    if links:
        raise ConfigError(
            f"{users_dir}: refused: it holds links ({', '.join(sorted(links))}); import writes plain files"
        )
    (directory / "departments.yaml").write_text(dept_text, "utf-8")
    # a protected entry may name an imported handle or user_id (`seen` is keyed by the user_id written)
    kept = _record_settings(directory / "reconciler.yaml", base_url, settings, set(files) | set(seen))
    for handle, text in files.items():
        (users_dir / f"{handle}.yaml").write_text(text, "utf-8")
    stale = sorted(set(existing) - {f"{h}.yaml" for h in files})
    for name in stale:
        (users_dir / name).unlink()
    return ImportOutcome(len(files), len(departments), stale, sorted(set(settings.protected) - set(kept)))


def _comment(line: str) -> str:
    """A YAML line's trailing comment, kept when the line is rewritten."""
    return line[line.index(" #") :] if " #" in line else ""


def _record_settings(path: Path, base_url: str, settings: Settings, imported: set[str]) -> list[str]:
    """reconciler.yaml names the tenant the import came from, and `protected` keeps only entries that
    name an imported user (the example org's entries would otherwise fail every plan). Other lines
    and comments are kept. Returns the protected entries kept."""
    kept = [p for p in settings.protected if p in imported]
    if not path.exists():
        path.write_text(
            f"base_url: {base_url}\nuser_id_type: {settings.user_id_type}\n"
            f"department_id_type: {settings.department_id_type}\n",
            "utf-8",
        )
        return kept
    lines = path.read_text("utf-8").splitlines()
    has_base_url = any(line.startswith("base_url:") for line in lines)
    out = [] if has_base_url else [f"base_url: {base_url}"]
    in_protected = False
    for line in lines:
        if in_protected and line.startswith((" ", "-")) and line.lstrip().startswith("-"):
            continue  # an item of a block-style protected list: rewritten below
        in_protected = False
        if line.startswith("base_url:"):
            line = f"base_url: {base_url}{_comment(line)}"
        if line.startswith("protected:"):
            in_protected = True
            line = "protected: [" + ", ".join(json.dumps("@" + p) for p in kept) + "]" + _comment(line)
        out.append(line)
    path.write_text("".join(f"{line}\n" for line in out), "utf-8")
    return kept
