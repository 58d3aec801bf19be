"""The emulator's state and the rules of the contact v3 user API, as the doc pages state them.

Users are stored with ids in their canonical form (open_id for users, open_department_id for
departments) and converted on the way in and out according to user_id_type/department_id_type.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import permissions
from ..codes import HTTP_STATUS
from ..fields import CREATE_REQUIRED, FIELDS

# What a well-formed id of each user_id_type looks like (the docs' examples: ou_…, on_…; user_id ≤ 64)
ID_SHAPES = {
    "open_id": re.compile(r"ou_[0-9a-zA-Z]{1,64}"),
    "union_id": re.compile(r"on_[0-9a-zA-Z]{1,64}"),
    "user_id": re.compile(r"[^\s]{1,64}"),
}

# Fields PATCH may write (修改用户部分信息, 请求体) and their JSON types.
WRITABLE: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "en_name": str,
    "nickname": str,
    "email": str,
    "mobile": str,
    "mobile_visible": bool,
    "gender": int,
    "avatar_key": str,
    "department_ids": list,
    "leader_user_id": str,
    "city": str,
    "country": str,
    "work_station": str,
    "join_time": int,
    "employee_no": str,
    "employee_type": int,
    "orders": list,
    "custom_attrs": list,
    "enterprise_email": str,
    "job_title": str,
    "is_frozen": bool,
    "job_level_id": str,
    "job_family_id": str,
    "subscription_ids": list,
    "dotted_line_leader_user_ids": list,
}
# Not returned by the read APIs (write-only in practice; see docs/feishu-api.md §6).
WRITE_ONLY = ("avatar_key", "subscription_ids")

MOBILE = re.compile(r"^(\+[1-9][0-9]{4,19}|1[0-9]{10})$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INT32 = (-(2**31), 2**31 - 1)
TOKEN_TTL = 7200
CUSTOM_ATTR_TYPES = ("TEXT", "HREF", "ENUMERATION", "PICTURE_ENUM", "GENERIC_USER")


class ApiFailure(Exception):
    """A documented error answer: HTTP status, code, msg."""

    def __init__(self, status: int, code: int, msg: str):
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg = status, code, msg
        self.violations: list[dict[str, str]] = []


def fail(code: int, msg: str, status: int | None = None) -> ApiFailure:
    """A documented error: its HTTP status as the pages' error tables give it (most are 400)."""
    return ApiFailure(status or HTTP_STATUS.get(code, 400), code, msg)


def _mainland(mobile: str) -> bool:
    return not mobile.startswith("+") or mobile.startswith("+86")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class App:
    """An app the tenant installed: its secret's digest, granted permissions and contact range
    (None: all members; else the departments it may see and change, with their sub-departments)."""

    app_id: str
    secret_digest: str
    scopes: frozenset[str] = frozenset(permissions.ALL)
    contact_range: frozenset[str] | None = None

    def holds(self, needed: tuple[str, ...]) -> bool:
        return permissions.granted(needed, self.scopes)


@functools.cache
def _hidden_fields(scopes: frozenset[str]) -> frozenset[str]:
    """The response fields an app holding `scopes` may not read (once per set of scopes: reads are hot)."""
    return frozenset(k for k, need in permissions.FIELD_READ.items() if not permissions.granted(need, scopes))


# what a visible field reads as when it is unset (fields.Field.empty): the read APIs return every
# field the app may read, and leave out only those it may not (字段权限要求)
UNSET = {f.name: f.empty_value for f in FIELDS if f.readable and f.empty_value is not None and f.name != "is_frozen"}


@dataclass
class Token:
    app_id: str
    issued_at: float
    expires_at: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    def __init__(self, seed: dict[str, Any], clock: Any = time.monotonic):
        self.lock = threading.RLock()
        self.clock = clock
        # only digests of app secrets and tokens are kept: state and logs never hold a credential
        self.tokens: dict[str, Token] = {}  # by the token's digest
        self._token_key = secrets.token_bytes(32)  # tokens are derived, so a live one need not be stored
        self.departments: dict[str, dict[str, Any]] = {}
        for dept in seed.get("departments", []):
            d = {"parent_department_id": "0", "status": {"is_deleted": False}, **dept}
            d.setdefault("department_id", d["open_department_id"])
            self.departments[d["open_department_id"]] = d
        self.users: dict[str, dict[str, Any]] = {}
        for user in seed.get("users", []):
            self.users[user["open_id"]] = self._seed_user(user)
        self.founder: str | None = seed.get("founder")
        self.employee_types = set(seed.get("employee_types", [1, 2, 3, 4, 5]))
        self.custom_attr_ids: set[str] | None = set(seed["custom_attr_ids"]) if "custom_attr_ids" in seed else None
        self._index()
        self.apps: dict[str, App] = {a["app_id"]: self._app(a) for a in seed.get("apps", [])}
        self._json: dict[str, dict[tuple[str, ...], str]] = {}
        self.created_by_token: dict[str, str] = {}  # client_token → the user it created
        self.deleted: dict[str, dict[str, Any]] = {}  # user → the acceptors its deletion named

    # -- ids ---------------------------------------------------------------------------------

    def _seed_user(self, user: dict[str, Any]) -> dict[str, Any]:
        u = copy.deepcopy(user)
        u.setdefault("union_id", "on_" + u["open_id"].removeprefix("ou_"))
        u.setdefault("user_id", u["open_id"].removeprefix("ou_")[:16])
        u.setdefault("status", {})
        u["status"] = {
            "is_frozen": False,
            "is_resigned": False,
            "is_activated": True,
            "is_exited": False,
            "is_unjoin": False,
            **u["status"],
        }
        if "is_frozen" in u:
            u["status"]["is_frozen"] = bool(u.pop("is_frozen"))
        u.setdefault("department_ids", [])
        u.setdefault(
            "orders",
            [
                {"department_id": d, "user_order": 0, "department_order": 0, "is_primary_dept": i == 0}
                for i, d in enumerate(u["department_ids"])
            ],
        )
        return u

    def _app(self, seed: dict[str, Any]) -> App:
        scopes = seed.get("scopes")
        contact_range = seed.get("contact_range")
        keys = None
        if contact_range is not None:
            # a range names departments in either id form; "0" is the whole tenant
            keys = {
                self.dept_key(str(d), "open_department_id") or self.dept_key(str(d), "department_id")
                for d in contact_range
            }
            keys = None if "0" in keys else keys
        return App(
            str(seed["app_id"]),
            _digest(str(seed["app_secret"])),
            frozenset(permissions.ALL if scopes is None else map(str, scopes)),
            None if keys is None else frozenset(k for k in keys if k),
        )

    @property
    def full_access(self) -> App:
        """An app with every permission and the whole tenant in range (the emulator's own reads)."""
        return App("", "")

    def _ancestry(self, dept: str) -> Iterator[str]:
        seen: set[str] = set()
        while dept and dept != "0" and dept not in seen and dept in self.departments:
            seen.add(dept)
            yield dept
            dept = self.departments[dept].get("parent_department_id", "0")

    def dept_in_range(self, app: App, dept: str) -> bool:
        """Whether a department (stored key) is inside the app's contact range, sub-departments included."""
        if app.contact_range is None:
            return True
        return any(d in app.contact_range for d in self._ancestry(dept))

    def user_in_range(self, app: App, key: str) -> bool:
        if app.contact_range is None:
            return True
        return any(self.dept_in_range(app, d) for d in self.users[key].get("department_ids", []))

    def _index(self) -> None:
        self.by_user_id = {u["user_id"]: k for k, u in self.users.items()}
        self.by_union_id = {u["union_id"]: k for k, u in self.users.items()}
        self.dept_by_custom = {d["department_id"]: k for k, d in self.departments.items()}

    def user_key(self, uid: str, id_type: str) -> str | None:
        if id_type == "open_id":
            return uid if uid in self.users else None
        if id_type == "union_id":
            return self.by_union_id.get(uid)
        return self.by_user_id.get(uid)

    def user_out_id(self, key: str, id_type: str) -> str:
        return key if id_type == "open_id" else self.users[key][id_type]

    def dept_key(self, did: str, id_type: str) -> str | None:
        if did == "0":
            return "0"
        if id_type == "open_department_id":
            return did if did in self.departments else None
        return self.dept_by_custom.get(did)

    def dept_out_id(self, key: str, id_type: str) -> str:
        if key == "0" or id_type == "open_department_id":
            return key
        return self.departments[key]["department_id"]

    # -- auth --------------------------------------------------------------------------------

    def issue_token(self, app_id: Any, app_secret: Any) -> tuple[str, int]:
        with self.lock:
            # 通用错误码: 10003 missing or malformed parameters, 10014 app unauthorized, 10015 wrong secret
            if not isinstance(app_id, str) or not app_id or not isinstance(app_secret, str) or not app_secret:
                raise fail(10003, "invalid param", status=200)
            known = self.apps.get(app_id)
            if known is None:
                raise fail(10014, "app unauthorized", status=200)
            if not hmac.compare_digest(known.secret_digest, _digest(app_secret)):
                raise fail(10015, "app secret invalid", status=200)
            now = self.clock()
            for t in self.tokens.values():
                # docs: the same token comes back while it has ≥ 30 min left
                if t.app_id == app_id and t.expires_at - now >= 1800:
                    return self._token(t), int(t.expires_at - now)
            t = Token(app_id, now, now + TOKEN_TTL)
            token = self._token(t)
            self.tokens[_digest(token)] = t
            return token, TOKEN_TTL

    def _token(self, t: Token) -> str:
        mac = hmac.new(self._token_key, f"{t.app_id}\0{t.issued_at!r}".encode(), hashlib.sha256)
        return "t-" + mac.hexdigest()[:40]

    def check_token(self, authorization: str | None) -> App:
        if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise fail(99991661, "Missing access token for authorization. Please make a request with token attached.")
        token = authorization[7:].strip()
        if not token.startswith(("t-", "u-")):
            raise fail(99991671, "Invalid token: must start with t- or u-")
        with self.lock:
            t = self.tokens.get(_digest(token))
            if t is None or t.expires_at <= self.clock():
                raise fail(
                    99991663, "Invalid access token for authorization. Please make a request with token attached."
                )
            return self.apps[t.app_id]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # -- reads -------------------------------------------------------------------------------

    def render_user(
        self, key: str, uid_type: str, did_type: str, *, endpoint: str, app: App | None = None
    ) -> dict[str, Any]:
        """A user as the read APIs answer `app`: the fields it may read, unset ones as their empty value."""
        app = app or self.full_access
        u = self.users[key]
        # shallow on purpose: writes replace a user's values, never mutate nested ones in place,
        # so the answer can share them (deep copies made batch reads the emulator's bottleneck)
        out = {**UNSET, **{k: v for k, v in u.items() if k not in WRITE_ONLY}}
        out["status"] = dict(u["status"])
        out["department_ids"] = [self.dept_out_id(d, did_type) for d in u.get("department_ids", [])]
        out["orders"] = [
            {**o, "department_id": self.dept_out_id(o["department_id"], did_type)} for o in u.get("orders", [])
        ]
        out["leader_user_id"] = self._out_ref(u["leader_user_id"], uid_type) if u.get("leader_user_id") else ""
        out["dotted_line_leader_user_ids"] = [
            self._out_ref(x, uid_type) for x in u.get("dotted_line_leader_user_ids") or []
        ]
        if out.get("custom_attrs"):
            out["custom_attrs"] = [self._out_attr(a, uid_type) for a in out["custom_attrs"]]
        out["is_tenant_manager"] = bool(u.get("is_tenant_manager", False))
        if endpoint != "get":  # docs: top-level is_frozen is listed for batch/find_by_department/PATCH, not GET
            out["is_frozen"] = out["status"]["is_frozen"]
        # 字段权限要求: a field the app may not read is left out, not emptied
        hidden = _hidden_fields(app.scopes)
        return {k: v for k, v in out.items() if k not in hidden} if hidden else out

    def _out_attr(self, attr: dict[str, Any], uid_type: str) -> dict[str, Any]:
        """GENERIC_USER values are stored as user_ids and answered in user_id_type (修改用户部分信息)."""
        value = attr.get("value") or {}
        person = value.get("generic_user")
        if not isinstance(person, dict) or person.get("id") not in self.by_user_id:
            return attr
        out_id = self.user_out_id(self.by_user_id[person["id"]], uid_type)
        return {**attr, "value": {**value, "generic_user": {**person, "id": out_id}}}

    def render_user_json(self, key: str, uid_type: str, did_type: str, *, endpoint: str, app: App | None = None) -> str:
        """render_user as JSON text, cached until the user is written (reads dominate every workload)."""
        app = app or self.full_access
        cached = self._json.setdefault(key, {})
        view = (uid_type, did_type, endpoint, app.app_id)
        text = cached.get(view)
        if text is None:
            text = cached[view] = json.dumps(
                self.render_user(key, uid_type, did_type, endpoint=endpoint, app=app), ensure_ascii=False
            )
        return text

    def batch_users_json(self, uids: list[str], uid_type: str, did_type: str, app: App | None = None) -> str:
        app = app or self.full_access
        if not uids:
            raise fail(40001, "param error: user_ids is required")
        if len(uids) > 50:
            raise fail(40001, "param error: user_ids at most 50")
        malformed = [u for u in uids if not ID_SHAPES.get(uid_type, ID_SHAPES["user_id"]).fullmatch(u)]
        if malformed:  # one malformed id fails the whole call (批量获取用户信息, 错误码 40001)
            raise fail(40001, f"invalid parameter: user_ids {malformed[0]!r} is not a {uid_type}")
        with self.lock:
            keys = [self.user_key(u, uid_type) for u in uids]
            # docs: users outside the app's contact scope are silently omitted
            return ",".join(
                self.render_user_json(k, uid_type, did_type, endpoint="batch", app=app)
                for k in keys
                if k and self.user_in_range(app, k)
            )

    def _out_ref(self, key: str, uid_type: str) -> str:
        return self.user_out_id(key, uid_type) if key in self.users else key

    def get_user(self, uid: str, uid_type: str, did_type: str, app: App | None = None) -> dict[str, Any]:
        app = app or self.full_access
        with self.lock:
            key = self.user_key(uid, uid_type)
            if key is None or not self.user_in_range(app, key):
                raise fail(41050, "no user authority error")
            return self.render_user(key, uid_type, did_type, endpoint="get", app=app)

    def _readable_department(self, did: str, did_type: str, app: App) -> str:
        """The stored key of a department the app may list (获取部门直属用户列表: 0 needs the all-members range)."""
        key = self.dept_key(did, did_type)
        if key is None or (key == "0" and app.contact_range is not None):
            raise fail(40004, "no dept authority error", status=403)
        if key != "0" and not self.dept_in_range(app, key):
            raise fail(40004, "no dept authority error", status=403)
        return key

    def department_members(self, did: str, did_type: str, app: App | None = None) -> list[str]:
        app = app or self.full_access
        with self.lock:
            key = self._readable_department(did, did_type, app)
            if key == "0":
                return [k for k, u in self.users.items() if not u.get("department_ids") or "0" in u["department_ids"]]
            return [k for k, u in self.users.items() if key in u.get("department_ids", [])]

    def children(self, did: str, did_type: str, fetch_child: bool, app: App | None = None) -> list[dict[str, Any]]:
        app = app or self.full_access
        with self.lock:
            key = self._readable_department(did, did_type, app)
            out: list[dict[str, Any]] = []
            frontier = [key]
            while frontier:
                parent = frontier.pop(0)
                for k, d in self.departments.items():
                    if d.get("parent_department_id", "0") == parent:
                        out.append(self.render_department(k, did_type))
                        if fetch_child:
                            frontier.append(k)
            return out

    def contact_scope(self, did_type: str, uid_type: str, app: App) -> tuple[list[str], list[str]]:
        """获取通讯录授权范围: (department ids, user ids). All members: the first-level departments and the
        users directly under the root; otherwise the range's departments (not their sub-departments)."""
        with self.lock:
            if app.contact_range is None:
                depts = [k for k, d in self.departments.items() if d.get("parent_department_id", "0") == "0"]
                users = [k for k, u in self.users.items() if not u.get("department_ids")]
            else:
                depts, users = sorted(app.contact_range), []
            user_ids = [] if uid_type == "user_id" and not app.holds((permissions.USER_ID_TYPE_USER_ID,)) else users
            return [self.dept_out_id(d, did_type) for d in depts], [self.user_out_id(u, uid_type) for u in user_ids]

    def render_department(self, key: str, did_type: str) -> dict[str, Any]:
        d = copy.deepcopy(self.departments[key])
        parent = d.get("parent_department_id", "0")
        d["parent_department_id"] = self.dept_out_id(parent, did_type) if parent in self.departments else "0"
        d["member_count"] = sum(1 for u in self.users.values() if key in u.get("department_ids", []))
        return d

    # -- writes ------------------------------------------------------------------------------

    def patch_user(self, uid: str, body: Any, uid_type: str, did_type: str, app: App | None = None) -> dict[str, Any]:
        app = app or self.full_access
        with self.lock:
            key = self._writable_user(uid, uid_type, app)
            changes = self._check_body(key, body, uid_type, did_type, replace=False, app=app)
            self._write(key, changes)
            return self.render_user(key, uid_type, did_type, endpoint="patch", app=app)

    def put_user(self, uid: str, body: Any, uid_type: str, did_type: str, app: App | None = None) -> dict[str, Any]:
        app = app or self.full_access
        with self.lock:
            key = self._writable_user(uid, uid_type, app)
            if not isinstance(body, dict):
                raise fail(40001, "param error: body must be a JSON object")
            for field, code in CREATE_REQUIRED:
                if body.get(field) in (None, "", []):
                    raise fail(code, f"{field} is required")
            changes = self._check_body(key, body, uid_type, did_type, replace=True, app=app)
            # the deprecated PUT replaces the user: every writable field not sent is cleared
            for field, typ in WRITABLE.items():
                if field not in changes and field != "is_frozen":
                    changes[field] = [] if typ is list else None
            self._write(key, changes)
            return self.render_user(key, uid_type, did_type, endpoint="patch", app=app)

    def create_user(
        self, body: Any, uid_type: str, did_type: str, client_token: str | None, app: App | None = None
    ) -> dict[str, Any]:
        """创建用户: the required fields, the PATCH rules, a custom user_id, and client_token idempotency
        (the same token returns the user it first created instead of creating again)."""
        app = app or self.full_access
        with self.lock:
            if client_token and client_token in self.created_by_token:
                return self.render_user(
                    self.created_by_token[client_token], uid_type, did_type, endpoint="patch", app=app
                )
            if not isinstance(body, dict):
                raise fail(40001, "param error: body must be a JSON object")
            for field, code in CREATE_REQUIRED:
                if body.get(field) in (None, "", []):
                    raise fail(code, f"{field} is required")
            custom = body.get("user_id")
            if custom is not None:
                if not isinstance(custom, str) or not ID_SHAPES["user_id"].fullmatch(custom):
                    raise fail(41043, "employee id is invalid error")
                if custom in self.by_user_id:
                    raise fail(41011, "user id already exist error")
            key = "ou_" + secrets.token_hex(16)
            user_id = custom or secrets.token_hex(4)
            self.users[key] = self._seed_user({"open_id": key, "user_id": user_id})
            self.users[key]["status"].update(is_activated=False, is_unjoin=True)  # invited, not yet joined
            self._index()
            try:
                changes = self._check_body(key, body, uid_type, did_type, replace=False, app=app)
                changes.setdefault("join_time", int(time.time()))  # 创建用户: defaults to the time of the request
                self._write(key, changes)
            except ApiFailure:
                del self.users[key]
                self._index()
                raise
            if client_token:
                self.created_by_token[client_token] = key
            return self.render_user(key, uid_type, did_type, endpoint="patch", app=app)

    def delete_user(self, uid: str, body: Any, uid_type: str, app: App | None = None) -> None:
        """删除用户: the person becomes resigned and leaves their departments; acceptors are recorded."""
        app = app or self.full_access
        with self.lock:
            key = self.user_key(uid, uid_type)
            if key is None or not self.user_in_range(app, key):
                raise fail(41050, "no user authority error")
            user = self.users[key]
            if user["status"].get("is_resigned"):
                raise fail(42006, "user has resigned error")
            if not all(self.dept_in_range(app, d) for d in user.get("department_ids", [])):
                raise fail(40004, "no dept authority error", status=403)
            acceptors = body if isinstance(body, dict) else {}
            for field, value in acceptors.items():
                if field.endswith("_acceptor_user_id"):
                    if not isinstance(value, str) or self.user_key(value, uid_type) is None:
                        raise fail(41052, "user resign acceptor is invalid error")
            self._json.pop(key, None)
            user["status"] = {**user["status"], "is_resigned": True, "is_activated": False}
            user["department_ids"], user["orders"] = [], []
            self.deleted[key] = dict(acceptors)

    def _writable_user(self, uid: str, uid_type: str, app: App) -> str:
        key = self.user_key(uid, uid_type)
        if key is None or not self.user_in_range(app, key):
            raise fail(41050, "no user authority error")
        status = self.users[key]["status"]
        if status.get("is_resigned"):
            raise fail(42006, "user has resigned error")
        if status.get("is_unjoin"):
            raise fail(44010, "unJoined user not allow to update")
        if status.get("is_exited"):
            raise fail(44011, "exited user not allow to update")
        return key

    def _check_body(
        self, key: str, body: Any, uid_type: str, did_type: str, *, replace: bool, app: App
    ) -> dict[str, Any]:
        """The stored-form changes of a PATCH/PUT body, or the docs' error for the first problem."""
        if not isinstance(body, dict):
            raise fail(40001, "param error: body must be a JSON object")
        user = self.users[key]
        changes: dict[str, Any] = {}
        for field, value in body.items():
            if field not in WRITABLE or value is None:
                continue  # unknown and null fields are ignored, as the SDK's filter_null implies
            typ = WRITABLE[field]
            if (typ is int and not _int(value)) or (typ is not int and not isinstance(value, typ)):
                raise fail(40001, f"param error: {field} must be {getattr(typ, '__name__', typ)}")
            changes[field] = value
        name_limit = 64 if replace else 255  # PUT page: 64 (41070); PATCH page: 255
        for field, code in (("name", 41070), ("en_name", 41071), ("nickname", 41072)):
            if field in changes and len(changes[field]) > name_limit:
                raise fail(code, f"{field} length exceed {name_limit} character")
        if "name" in changes and not changes["name"]:
            raise fail(41040, "user name is null error")
        if "job_title" in changes and changes["job_title"] and not changes["job_title"].strip():
            changes["job_title"] = None  # 修改用户部分信息: a string of spaces clears the job title
        elif changes.get("job_title") == "":
            del changes["job_title"]  # "" is not a documented clear: modelled as leaving the title as it is
        if changes.get("job_title") and len(changes["job_title"]) > 255:
            raise fail(41063, "job_title length exceed 100 character")
        if "city" in changes and len(changes["city"]) > 100:
            raise fail(40001, "param error: city at most 100 characters")
        for field in ("work_station", "employee_no"):
            if field in changes and len(changes[field]) > 255:
                raise fail(40001, f"param error: {field} at most 255 characters")
        if "gender" in changes and changes["gender"] not in (0, 1, 2, 3):
            raise fail(41038, "gender is invalid error")
        if "employee_type" in changes and changes["employee_type"] not in self.employee_types:
            raise fail(41059, "invalid employee type error")
        if "join_time" in changes and not 0 <= changes["join_time"] <= INT32[1]:
            raise fail(41042, "join time is invalid error")
        if changes.get("join_time") == 0:
            changes["join_time"] = None  # 修改用户部分信息: 0 clears the join time
        if changes.get("mobile"):
            if not MOBILE.match(changes["mobile"]):
                raise fail(41004, "mobile is invalid error")
            if self._taken("mobile", changes["mobile"], key):
                raise fail(41001, "mobile has already exist error")
        for field in ("email", "enterprise_email"):
            if changes.get(field):
                if not EMAIL.match(changes[field]):
                    raise fail(41005, "email is invalid error")
                if field == "email" and self._taken("email", changes[field], key):
                    raise fail(41002, "email has already exist error")
        mobile = changes.get("mobile", user.get("mobile")) or ""
        email = changes.get("email", user.get("email")) or ""
        if mobile and not _mainland(mobile) and not email:
            raise fail(44020, "mobile and email need together exist")
        if changes.get("employee_no") and self._taken("employee_no", changes["employee_no"], key):
            raise fail(44051, "employee_no already existed")
        if "orders" in changes and "department_ids" not in changes:
            raise fail(44002, "update order must update department together")
        if "department_ids" in changes:
            changes["department_ids"], changes["orders"] = self._check_departments(
                user, changes["department_ids"], changes.get("orders"), did_type
            )
            if not all(self.dept_in_range(app, d) for d in changes["department_ids"]):
                raise fail(40004, "no dept authority error", status=403)
        for field in ("leader_user_id",):
            if changes.get(field):
                leader = self.user_key(changes[field], uid_type)
                if leader is None or not self.user_in_range(app, leader):
                    raise fail(41050, "no user authority error")
                if leader == key:
                    raise fail(41030, "set leader to oneself error")
                changes[field] = leader
        if "dotted_line_leader_user_ids" in changes:
            resolved = []
            for uid in changes["dotted_line_leader_user_ids"]:
                leader = self.user_key(uid, uid_type) if isinstance(uid, str) else None
                if leader is None or not self.user_in_range(app, leader):
                    raise fail(41050, "no user authority error")
                resolved.append(leader)
            changes["dotted_line_leader_user_ids"] = resolved
        if "custom_attrs" in changes:
            changes["custom_attrs"] = self._check_custom_attrs(user, changes["custom_attrs"], replace)
        if changes.get("is_frozen") and key == self.founder:
            raise fail(44036, "freeze tenant founder is forbidden")
        for field in ("subscription_ids",):
            if field in changes and not all(isinstance(x, str) for x in changes[field]):
                raise fail(40001, f"param error: {field} must be a list of strings")
        return changes

    def _taken(self, field: str, value: str, key: str) -> bool:
        def norm(v: Any) -> Any:
            if field == "mobile" and isinstance(v, str) and v and not v.startswith("+"):
                return "+86" + v
            return v.lower() if field == "email" and isinstance(v, str) else v

        target = norm(value)
        return any(k != key and u.get(field) and norm(u[field]) == target for k, u in self.users.items())

    def _check_departments(
        self, user: dict[str, Any], dept_ids: list[Any], orders: list[Any] | None, did_type: str
    ) -> tuple[list[str], list[dict[str, Any]]]:
        if not dept_ids:
            raise fail(41041, "department id is not assigned error")
        if len(dept_ids) > 50:
            raise fail(41033, "user in too many departments error")
        if len(set(map(str, dept_ids))) != len(dept_ids):
            raise fail(40001, "param error: department_ids has duplicates")
        keys: list[str] = []
        for did in dept_ids:
            key = self.dept_key(did, did_type) if isinstance(did, str) else None
            if key is None:
                raise fail(44035, "departmentID is invaild")
            keys.append(key)
        if orders is None:
            # departments without orders: keep the orders of departments kept, default the rest
            old = {o["department_id"]: o for o in user.get("orders", [])}
            new = [
                old.get(k, {"department_id": k, "user_order": 0, "department_order": 0, "is_primary_dept": False})
                for k in keys
            ]
            if new and not any(o.get("is_primary_dept") for o in new):
                new[0] = {**new[0], "is_primary_dept": True}
            return keys, new
        stored: list[dict[str, Any]] = []
        for order in orders:
            if not isinstance(order, dict):
                raise fail(40001, "param error: orders items must be objects")
            okey = self.dept_key(order.get("department_id", ""), did_type)
            if okey is None or okey not in keys:
                raise fail(41025, "order department invalid error")
            for f in ("user_order", "department_order"):
                if f in order and (not _int(order[f]) or not INT32[0] <= order[f] <= INT32[1]):
                    raise fail(40001, f"param error: orders.{f} must be an int")
            stored.append(
                {"user_order": 0, "department_order": 0, "is_primary_dept": False, **order, "department_id": okey}
            )
        primaries = [o for o in stored if o.get("is_primary_dept")]
        top = max((o.get("department_order", 0) for o in stored), default=0)
        if primaries and (len(primaries) > 1 or primaries[0].get("department_order", 0) != top):
            raise fail(41410, "user primary dept must be the first department in the order")
        ordered = {o["department_id"] for o in stored}
        stored += [
            {"department_id": k, "user_order": 0, "department_order": 0, "is_primary_dept": False}
            for k in keys
            if k not in ordered
        ]
        if not primaries:  # the primary department is unique: the one with the largest department_order
            first = max(range(len(stored)), key=lambda i: (stored[i].get("department_order", 0), -i))
            stored[first] = {**stored[first], "is_primary_dept": True}
        return keys, stored

    def _check_custom_attrs(self, user: dict[str, Any], attrs: list[Any], replace: bool) -> list[dict[str, Any]]:
        """The stored custom_attrs. PATCH does not say whether the array merges by id; like the department
        PATCH's arrays it replaces the list here, the reading under which a partial list loses data."""
        stored: dict[str, dict[str, Any]] = {}
        for attr in attrs:
            if not isinstance(attr, dict) or not attr.get("id"):
                raise fail(41044, "Custom attribute is not set error")
            if self.custom_attr_ids is not None and attr["id"] not in self.custom_attr_ids:
                raise fail(41045, "Custom attribute id is not exist error")
            kind = attr.get("type", "TEXT")
            if kind not in CUSTOM_ATTR_TYPES:
                raise fail(40001, f"param error: custom_attrs type {kind!r} is not one of {CUSTOM_ATTR_TYPES}")
            value = attr.get("value")
            if not isinstance(value, dict) or not value:
                raise fail(41046, "Custom attribute value is not set error")
            text = value.get("text")
            if kind in ("TEXT", "HREF") and not text:
                # 修改用户部分信息: text is required for TEXT and HREF
                raise fail(41047 if kind == "HREF" else 41046, "Custom attribute text is null error")
            if isinstance(text, str) and len(text) > 100:
                raise fail(40001, "param error: custom_attrs value.text at most 100 characters")
            if kind == "HREF" and not value.get("url"):
                raise fail(41048, "Custom attribute href url  is null error")
            if kind in ("ENUMERATION", "PICTURE_ENUM") and not value.get("option_id"):
                raise fail(41046, "Custom attribute value is not set error")
            if kind == "GENERIC_USER":
                person = value.get("generic_user")
                if not isinstance(person, dict) or not person.get("id") or person.get("type") != 1:
                    raise fail(41046, "Custom attribute value is not set error")
                # the person is always a user_id, whatever user_id_type says (修改用户部分信息)
                if person["id"] not in self.by_user_id:
                    raise fail(41050, "no user authority error")
            stored[attr["id"]] = copy.deepcopy({**attr, "type": kind})
        return list(stored.values())

    def _write(self, key: str, changes: dict[str, Any]) -> None:
        user = self.users[key]
        self._json.pop(key, None)
        for field, value in changes.items():
            if field == "is_frozen":
                user["status"]["is_frozen"] = bool(value)
            elif value is None:
                user.pop(field, None)
            else:
                user[field] = copy.deepcopy(value)

    # -- introspection -------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "departments": copy.deepcopy(list(self.departments.values())),
                "users": copy.deepcopy(list(self.users.values())),
                "founder": self.founder,
                "deleted": copy.deepcopy(self.deleted),
                "apps": [{"app_id": a, "app_secret": "(redacted)"} for a in sorted(self.apps)],
                "tokens_issued": len(self.tokens),  # counted, never shown
            }
