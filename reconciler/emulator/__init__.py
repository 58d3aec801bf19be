"""A faithful local Feishu contact v3 API: for the demo, the tests and users' own CI.

with serve(load_seed(path)) as server:
    print(server.url)
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .. import permissions
from ..config import Settings
from ..errors import ReconcilerError
from ..yamlio import load_yaml_text
from .faults import Faults, Quotas
from .server import Emulator, EmulatorServer
from .store import Store

__all__ = [
    "Emulator",
    "EmulatorServer",
    "Faults",
    "Quotas",
    "Store",
    "demo_seed",
    "generate_org",
    "load_seed",
    "serve",
]


def _check_seed(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ReconcilerError(f"{where}: a seed is a mapping with apps, departments and users")
    unknown = set(data) - {"apps", "departments", "users", "founder", "employee_types", "custom_attr_ids"}
    if unknown:
        raise ReconcilerError(f"{where}: unknown seed keys {sorted(unknown)}")
    for i, user in enumerate(data.get("users") or []):
        if not isinstance(user, dict) or not isinstance(user.get("open_id"), str):
            raise ReconcilerError(f"{where}: users[{i}]: every user needs an open_id")
    for i, dept in enumerate(data.get("departments") or []):
        if not isinstance(dept, dict) or not isinstance(dept.get("open_department_id"), str):
            raise ReconcilerError(f"{where}: departments[{i}]: every department needs an open_department_id")
    known = {d.get(k) for d in data.get("departments") or [] for k in ("open_department_id", "department_id")}
    for i, app in enumerate(data.get("apps") or []):
        if not isinstance(app, dict) or not {"app_id", "app_secret"} <= set(app):
            raise ReconcilerError(f"{where}: apps[{i}]: every app needs app_id and app_secret")
        extra = set(app) - {"app_id", "app_secret", "scopes", "contact_range"}
        if extra:
            raise ReconcilerError(f"{where}: apps[{i}]: unknown keys {sorted(extra)}; known: scopes, contact_range")
        scopes = app.get("scopes")
        if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)):
            raise ReconcilerError(f"{where}: apps[{i}].scopes: a list of permission names (default: all of them)")
        unknown = sorted(set(scopes or ()) - set(permissions.ALL))
        if unknown:
            raise ReconcilerError(
                f"{where}: apps[{i}].scopes: {', '.join(unknown)} is not a documented permission this emulator "
                f"models; known: {', '.join(permissions.ALL)}"
            )
        rng = app.get("contact_range")
        if rng is not None:
            if not isinstance(rng, list):
                raise ReconcilerError(
                    f"{where}: apps[{i}].contact_range: a list of department ids (default: all members)"
                )
            stray = [d for d in rng if str(d) != "0" and str(d) not in known]
            if stray:
                raise ReconcilerError(f"{where}: apps[{i}].contact_range: {stray[0]!r} is no department of the seed")
    return data


def load_seed(path: str | Path) -> dict[str, Any]:
    """A seed file (YAML or JSON) as design §8 describes it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReconcilerError(f"{p}: cannot read the seed: {exc.strerror}") from None
    if p.suffix == ".json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ReconcilerError(f"{p}: not JSON: {exc}") from None
    else:
        data, issue = load_yaml_text(raw, str(p))
        if issue is not None:
            raise ReconcilerError(str(issue))
    return _check_seed(data, str(p))


def demo_seed() -> dict[str, Any]:
    """The live org of `reconciler demo`: the example directory/ with a handful of drifted fields."""
    text = resources.files(__package__).joinpath("demo_seed.yaml").read_bytes()
    data, issue = load_yaml_text(text, "demo_seed.yaml")
    assert issue is None, issue
    return _check_seed(data, "demo_seed.yaml")


def serve(
    seed: dict[str, Any], *, port: int = 0, quotas: Quotas | None = None, faults: Faults | None = None
) -> EmulatorServer:
    """An EmulatorServer (not yet started) for `seed` on 127.0.0.1."""
    return EmulatorServer(Emulator(Store(seed), quotas=quotas, faults=faults), port=port)


def generated_open_id(i: int) -> str:
    """The open_id of the i-th user of generate_org."""
    return f"ou_{i:08d}"


def generate_org(
    n: int, *, departments: int = 0, app_id: str = "cli_demo", app_secret: str = "demo-secret"
) -> dict[str, Any]:
    """A seed with n users spread over departments (default: one per 100 users), deterministic."""
    ndept = departments or max(1, n // 100)
    depts = [
        {
            "open_department_id": f"od-{d:05d}",
            "department_id": f"d{d:05d}",
            "name": f"Department {d}",
            "parent_department_id": "0",
        }
        for d in range(ndept)
    ]
    users = []
    for i in range(n):
        dept = f"od-{i % ndept:05d}"
        users.append(
            {
                "open_id": generated_open_id(i),
                "union_id": f"on_{i:08d}",
                "user_id": f"u{i:08d}",
                "name": f"User {i}",
                "en_name": f"User {i}",
                "email": f"user{i}@example.com",
                "mobile": f"+86139{i:08d}",
                "department_ids": [dept],
                "employee_type": 1,
                "job_title": "Engineer",
                "city": "Hangzhou",
                "employee_no": f"E{i:06d}",
                "leader_user_id": generated_open_id(i // 10 * 10) if i % 10 else "",
                "orders": [{"department_id": dept, "user_order": 0, "department_order": 0, "is_primary_dept": True}],
            }
        )
    read_only = [a for a in demo_seed()["apps"] if a["app_id"] == "cli_demo_read"]  # README's plan app
    return {"apps": [{"app_id": app_id, "app_secret": app_secret}, *read_only], "departments": depts, "users": users}


def generate_directory(n: int, root: Path, *, drift: float = 0.01, moves: int = 0, settings: str = "") -> Path:
    """A directory for generate_org(n): imported from the emulator's own rendering, then `drift` of
    the users get a new job_title and `moves` of them a new department (1-QPS lane)."""
    from ..importer import import_directory

    seed = generate_org(n)
    store = Store(seed)
    users = [store.render_user(k, "open_id", "open_department_id", endpoint="batch") for k in store.users]
    departments = [store.render_department(k, "open_department_id") for k in store.departments]
    dept_text, files = import_directory(users, departments, Settings())
    directory = root / f"org-{n}"
    (directory / "users").mkdir(parents=True, exist_ok=True)
    (directory / "departments.yaml").write_text(dept_text, "utf-8")
    (directory / "reconciler.yaml").write_text("max_changes: 1000000\nmax_department_moves: 1000000\n" + settings)
    handles = sorted(files)
    changed = set(handles[:: max(1, round(1 / drift))]) if drift else set()
    aliases = [a for a in yaml.safe_load(dept_text)]
    for i, handle in enumerate(handles):
        text = files[handle]
        if handle in changed:
            text = text.replace("job_title: Engineer", "job_title: Senior Engineer")
        if i < moves:
            doc = yaml.safe_load(text)
            new = "@" + aliases[(aliases.index(doc["department_ids"][0][1:]) + 1) % len(aliases)]
            text = text.replace(doc["department_ids"][0], new)
        (directory / "users" / f"{handle}.yaml").write_text(text, "utf-8")
    return directory
