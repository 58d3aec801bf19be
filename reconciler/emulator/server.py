"""The emulator's HTTP face: the Feishu contact v3 endpoints over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .. import permissions
from .faults import Faults, Quotas
from .store import ApiFailure, App, Store, fail

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
USERS = "/open-apis/contact/v3/users"
CONTACT_SCOPES = "/open-apis/contact/v3/scopes"
APP_SCOPES = "/open-apis/application/v6/scopes"
DEPTS = "/open-apis/contact/v3/departments"
SLOW_FIELDS = ("department_ids", "is_frozen")


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _page_offset(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind != "offset" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise fail(40012, "page token is invalid error") from None


def _page_size(query: dict[str, list[str]]) -> int:
    raw = query.get("page_size", ["10"])[-1]
    if not raw.lstrip("-").isdigit() or not 1 <= int(raw) <= 50:
        raise fail(40011, "page size is invalid error")
    return int(raw)


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["false"])[-1].lower() == "true"


class Emulator:
    """The app behind the HTTP server: routing, quotas, faults and the request log."""

    def __init__(self, store: Store, quotas: Quotas | None = None, faults: Faults | None = None):
        self.store = store
        self.quotas = quotas or Quotas(enabled=False)
        self.faults = faults or Faults()
        self.log: list[dict[str, Any]] = []
        self.log_lock = threading.Lock()

    # Each handler returns (http status, body dict or pre-encoded JSON text); errors raise ApiFailure.
    def route(self, method: str, path: str) -> tuple[str, Callable[..., tuple[int, Any]], str | None]:
        if path == TOKEN_PATH and method == "POST":
            return "token", self.token, None
        if path == CONTACT_SCOPES and method == "GET":
            return "scopes", self.contact_scopes, None
        if path == APP_SCOPES and method == "GET":
            return "application.scopes", self.app_scopes, None
        if path == USERS and method == "POST":
            return "users.create", self.create_user, None
        if path.startswith(USERS + "/"):
            rest = path[len(USERS) + 1 :]
            if rest == "batch" and method == "GET":
                return "users.batch", self.batch, None
            if rest == "find_by_department" and method == "GET":
                return "users.find_by_department", self.find_by_department, None
            if rest == "batch_get_id" and method == "POST":
                return "users.batch_get_id", self.batch_get_id, None
            if "/" not in rest and rest:
                uid = unquote(rest)
                handler = {
                    "GET": self.get_user,
                    "PATCH": self.patch_user,
                    "PUT": self.put_user,
                    "DELETE": self.delete_user,
                }.get(method)
                if handler:
                    return f"users.{method.lower()}", handler, uid
        if path.startswith(DEPTS + "/"):
            match = re.fullmatch(r"([^/]+)(/children)?", path[len(DEPTS) + 1 :])
            if match and method == "GET":
                did = unquote(match.group(1))
                if match.group(2):
                    return "departments.children", self.children, did
                return "departments.get", self.get_department, did
        raise LookupError(path)

    def endpoint_name(self, method: str, raw_path: str) -> str:
        try:
            return self.route(method, urlsplit(raw_path).path)[0]
        except LookupError:
            return ""

    # -- endpoints -----------------------------------------------------------------------------

    def token(self, query: dict[str, list[str]], body: Any, arg: None, app: App | None) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        token, expire = self.store.issue_token(body.get("app_id"), body.get("app_secret"))
        return 200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire}

    def _types(self, query: dict[str, list[str]]) -> tuple[str, str]:
        uid_type = query.get("user_id_type", ["open_id"])[-1]
        did_type = query.get("department_id_type", ["open_department_id"])[-1]
        if uid_type not in ("open_id", "union_id", "user_id"):
            raise fail(40001, "param error: user_id_type")
        if did_type not in ("open_department_id", "department_id"):
            raise fail(40001, "param error: department_id_type")
        return uid_type, did_type

    def get_user(self, query: dict[str, list[str]], body: Any, uid: str, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        return 200, {"code": 0, "msg": "success", "data": {"user": self.store.get_user(uid, uid_type, did_type, app)}}

    def batch(self, query: dict[str, list[str]], body: Any, arg: None, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        items = self.store.batch_users_json(query.get("user_ids", []), uid_type, did_type, app)
        return 200, '{"code": 0, "msg": "success", "data": {"items": [' + items + "]}}"

    def find_by_department(self, query: dict[str, list[str]], body: Any, arg: None, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        if not query.get("department_id"):
            raise fail(40001, "param error: department_id is required")
        size = _page_size(query)
        offset = _page_offset(query["page_token"][-1]) if query.get("page_token") else 0
        members = self.store.department_members(query["department_id"][-1], did_type, app)
        with self.store.lock:
            page = [
                self.store.render_user(k, uid_type, did_type, endpoint="find_by_department", app=app)
                for k in members[offset : offset + size]
                if k in self.store.users
            ]
        data: dict[str, Any] = {"has_more": offset + size < len(members), "items": page}
        if data["has_more"]:
            data["page_token"] = _page_token(offset + size)
        return 200, {"code": 0, "msg": "success", "data": data}

    def batch_get_id(self, query: dict[str, list[str]], body: Any, arg: None, app: App) -> tuple[int, Any]:
        uid_type = query.get("user_id_type", ["open_id"])[-1]
        body = body if isinstance(body, dict) else {}
        emails, mobiles = body.get("emails") or [], body.get("mobiles") or []
        if len(emails) > 50 or len(mobiles) > 50:
            raise fail(40001, "param error: at most 50 emails and 50 mobiles")
        include_resigned = bool(body.get("include_resigned", False))
        out: list[dict[str, Any]] = []
        with self.store.lock:
            for field, values in (("email", emails), ("mobile", mobiles)):
                for value in values:
                    entry: dict[str, Any] = {field: value}
                    for key, user in self.store.users.items():
                        have = user.get(field) or ""
                        want = value
                        if field == "mobile":
                            have = "+86" + have if have and not have.startswith("+") else have
                            want = "+86" + want if want and not want.startswith("+") else want
                        else:
                            have, want = have.lower(), want.lower()
                        if have and have == want and (include_resigned or not user["status"].get("is_resigned")):
                            # 通过手机号或邮箱获取用户 ID: no id for a user outside the range, nor a user_id
                            # without contact:user.employee_id:readonly; status needs its field permission
                            if self.store.user_in_range(app, key) and (
                                uid_type != "user_id" or app.holds((permissions.USER_ID_TYPE_USER_ID,))
                            ):
                                entry["user_id"] = self.store.user_out_id(key, uid_type)
                                if app.holds(permissions.FIELD_READ["status"]):
                                    entry["status"] = dict(user["status"])
                            break
                    out.append(entry)
        return 200, {"code": 0, "msg": "success", "data": {"user_list": out}}

    def patch_user(self, query: dict[str, list[str]], body: Any, uid: str, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        self.faults.before_write(uid)
        user = self.store.patch_user(uid, body, uid_type, did_type, app)
        return 200, {"code": 0, "msg": "success", "data": {"user": user}}

    def create_user(self, query: dict[str, list[str]], body: Any, arg: None, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        token = query.get("client_token", [""])[-1] or None
        self.faults.before_write(token or "")
        user = self.store.create_user(body, uid_type, did_type, token, app)
        return 200, {"code": 0, "msg": "success", "data": {"user": user}}

    def delete_user(self, query: dict[str, list[str]], body: Any, uid: str, app: App) -> tuple[int, Any]:
        uid_type, _ = self._types(query)
        self.faults.before_write(uid)
        self.store.delete_user(uid, body, uid_type, app)
        return 200, {"code": 0, "msg": "success", "data": {}}

    def put_user(self, query: dict[str, list[str]], body: Any, uid: str, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        self.faults.before_write(uid)
        user = self.store.put_user(uid, body, uid_type, did_type, app)
        return 200, {"code": 0, "msg": "success", "data": {"user": user}}

    def children(self, query: dict[str, list[str]], body: Any, did: str, app: App) -> tuple[int, Any]:
        _, did_type = self._types(query)
        size = _page_size(query)
        offset = _page_offset(query["page_token"][-1]) if query.get("page_token") else 0
        items = self.store.children(did, did_type, _flag(query, "fetch_child"), app)
        data: dict[str, Any] = {"has_more": offset + size < len(items), "items": items[offset : offset + size]}
        if data["has_more"]:
            data["page_token"] = _page_token(offset + size)
        return 200, {"code": 0, "msg": "success", "data": data}

    def get_department(self, query: dict[str, list[str]], body: Any, did: str, app: App) -> tuple[int, Any]:
        _, did_type = self._types(query)
        with self.store.lock:
            key = self.store.dept_key(did, did_type)
            if key is None or key == "0":
                raise fail(40015, "department not exist")
            if not self.store.dept_in_range(app, key):
                raise fail(40004, "no dept authority error", status=403)
            dept = self.store.render_department(key, did_type)
        return 200, {"code": 0, "msg": "success", "data": {"department": dept}}

    def contact_scopes(self, query: dict[str, list[str]], body: Any, arg: None, app: App) -> tuple[int, Any]:
        uid_type, did_type = self._types(query)
        raw = query.get("page_size", ["50"])[-1]
        if not raw.isdigit() or not 1 <= int(raw) <= 100:  # 获取通讯录授权范围: 1..100, default 50
            raise fail(40011, "page size is invalid")
        size = int(raw)
        offset = _page_offset(query["page_token"][-1]) if query.get("page_token") else 0
        depts, users = self.store.contact_scope(did_type, uid_type, app)
        # one list across the pages: user ids first, then department ids (the page's 注意)
        both = [("user_ids", u) for u in users] + [("department_ids", d) for d in depts]
        page = both[offset : offset + size]
        data: dict[str, Any] = {
            "department_ids": [v for k, v in page if k == "department_ids"],
            "user_ids": [v for k, v in page if k == "user_ids"],
            "group_ids": [],
            "has_more": offset + size < len(both),
        }
        if data["has_more"]:
            data["page_token"] = _page_token(offset + size)
        return 200, {"code": 0, "msg": "success", "data": data}

    def app_scopes(self, query: dict[str, list[str]], body: Any, arg: None, app: App) -> tuple[int, Any]:
        """查询租户授权状态: each documented permission, 1 granted or 2 not."""
        scopes = [{"scope_name": p, "grant_status": 1 if p in app.scopes else 2} for p in permissions.ALL]
        return 200, {"code": 0, "msg": "success", "data": {"scopes": scopes}}

    # -- dispatch ------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Any, raw_body: bytes, fault: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One API request; `fault`: what Faults.roll chose for it (a drop never gets here)."""
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except (ValueError, UnicodeDecodeError):
                body = ValueError
        logged = None if body is ValueError else body
        if isinstance(logged, dict) and "app_secret" in logged:  # the log never holds a credential
            logged = {**logged, "app_secret": "(redacted)"}
        entry: dict[str, Any] = {
            "method": method,
            "path": parts.path,
            "query": query,
            "body": logged,
            "time": time.time(),
        }
        extra: dict[str, str] = {}
        try:
            name, handler, arg = self.route(method, parts.path)
        except LookupError:
            entry.update(status=404, code=None)
            self._record(entry)
            return 404, {"Content-Type": "text/plain"}, b"404 page not found"
        try:
            if body is ValueError:
                raise fail(40001, "param error: body is not JSON")
            app = None if name == "token" else self.store.check_token(headers.get("Authorization"))
            lane = (
                "slow"
                if method in ("PATCH", "PUT") and isinstance(body, dict) and any(f in body for f in SLOW_FIELDS)
                else None
            )
            self.quotas.admit(name, lane)
            self.faults.before_request(name, fault)
            if app is not None and not app.holds(permissions.ENDPOINT[name]):
                raise _scope_required(permissions.ENDPOINT[name])
            status, payload = handler(query, body, arg, app)
        except ApiFailure as exc:
            status, payload = exc.status, {"code": exc.code, "msg": exc.msg, "data": {}}
            if exc.violations:
                payload["error"] = {"permission_violations": exc.violations}
            if exc.code == 99991400:
                extra = self.quotas.headers(name)
        if isinstance(payload, str):  # pre-encoded success answer
            entry.update(status=status, code=0)
            data = payload.encode("utf-8")
        else:
            entry.update(status=status, code=payload.get("code"))
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._record(entry)
        logid = secrets.token_hex(16)
        return status, {"Content-Type": "application/json; charset=utf-8", "X-Tt-Logid": logid, **extra}, data

    def _record(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self.log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self.log_lock:
            return list(self.log)

    def clear_requests(self) -> None:
        with self.log_lock:
            self.log.clear()


def _scope_required(scopes: tuple[str, ...]) -> ApiFailure:
    """通用错误码 99991672: the app holds none of the API's permissions; the answer names them."""
    names = ",".join(scopes)
    failure = fail(99991672, f"Access denied. One of the following scopes is required: [{names}].", status=400)
    failure.violations = [{"type": "action_scope_required", "subject": s, "description": s} for s in scopes]
    return failure


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _host_name(value: str) -> str:
    """`127.0.0.1:8080` → 127.0.0.1, `[::1]:80` → ::1."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _foreign(host: str | None, origin: str | None) -> str | None:
    """Why a control request is refused: a Host that is not a loopback name, or a foreign Origin."""
    if host is None or _host_name(host) not in LOOPBACK_NAMES:
        return f"control endpoints answer only Host 127.0.0.1, localhost or [::1], not {host!r}"
    if origin is not None and _host_name(urlsplit(origin).netloc) not in LOOPBACK_NAMES:
        return f"control endpoints refuse requests from another origin ({origin!r})"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out as two writes; with Nagle on, each answer waited for a delayed ACK
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is served at /_emulator/requests

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        app = self.server.app
        if self.path.startswith("/_emulator/"):
            status, headers, body = self._control(app, raw)
        else:
            fault = app.faults.roll(app.endpoint_name(self.command, self.path))
            if fault == "drop":
                self.close_connection = True
                self.connection.close()
                return
            app.faults.delay()
            app.faults.one_way()  # the request's way to the server
            status, headers, body = app.handle(self.command, self.path, self.headers, raw, fault)
            if fault == "lost":  # done, but the answer is lost on its way back
                self.close_connection = True
                self.connection.close()
                return
            app.faults.one_way()  # the answer's way back
            if status >= 500:
                self.close_connection = False
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        # headers and body in one write: one packet to wake the client, not two
        self._headers_buffer.extend((b"\r\n", body))
        self.flush_headers()

    def _control(self, app: Emulator, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        refused = _foreign(self.headers.get("Host"), self.headers.get("Origin"))
        if refused:  # a web page the user visits must not reach the control endpoints (DNS rebinding, CSRF)
            return 403, {"Content-Type": "application/json"}, json.dumps({"error": refused}).encode()
        path = urlsplit(self.path).path
        result: Any
        if path == "/_emulator/requests" and self.command == "GET":
            result = app.requests()
        elif path == "/_emulator/requests" and self.command == "DELETE":
            app.clear_requests()
            result = {"ok": True}
        elif path == "/_emulator/state" and self.command == "GET":
            result = app.store.snapshot()
        elif path == "/_emulator/faults" and self.command == "POST":
            try:
                app.faults.configure(json.loads(raw or b"{}"), app.store)
            except (ValueError, TypeError) as exc:
                return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(exc)}).encode()
            result = app.faults.describe()
        elif path == "/_emulator/quotas" and self.command == "POST":
            try:
                app.quotas.configure(json.loads(raw or b"{}"))
            except (ValueError, TypeError) as exc:
                return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(exc)}).encode()
            result = app.quotas.describe()
        else:
            return 404, {"Content-Type": "text/plain"}, b"404 page not found"
        return 200, {"Content-Type": "application/json"}, json.dumps(result, ensure_ascii=False).encode()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    app: Emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (a killed or interrupted run): not the emulator's error
        super().handle_error(request, client_address)


class EmulatorServer:
    """An emulator served on a loopback port; use as a context manager or start()/stop()."""

    def __init__(self, app: Emulator, host: str = "127.0.0.1", port: int = 0):
        if host not in LOOPBACK:
            raise ValueError(f"the emulator serves on loopback only, not {host!r}")
        self.app = app
        self.httpd = _Server((host, port), _Handler)
        self.httpd.app = app
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
