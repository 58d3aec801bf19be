"""DirectoryClient: the only module that speaks HTTP to Feishu (or the emulator).

Owns the tenant token, the documented quotas (scheduled client-side so the API never has to say
no), retries for what is worth retrying, and turning every non-zero `code` into an ApiError.
It never sends the deprecated PUT: PUT replaces the whole user and would wipe undeclared fields.

It speaks HTTP through httpx with trust_env: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY and
SSL_CERT_FILE / SSL_CERT_DIR work as users of a corporate network expect, and a TLS or proxy failure
is reported with its cause. httpx is imported on first use, so validate and --help load no HTTP stack.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import permissions
from .codes import retryable
from .config import Credentials, Quotas
from .errors import ApiError, PermissionMissing, TransportError
from .fields import Lane
from .quota import Cancelled, QuotaScheduler

if TYPE_CHECKING:
    import httpx

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
USERS = "/open-apis/contact/v3/users"
DEPARTMENTS = "/open-apis/contact/v3/departments"
BATCH_SIZE = 50
TOKEN_CODES = frozenset({99991661, 99991663, 99991671})
# codes a batch read answers for ids it cannot take: invalid parameter, invalid user id, no such open
# ids, open_id of another app (批量获取用户信息 and the generic error code table)
ID_ERRORS = frozenset({40001, 41012, 99992351, 99992361})
RATE_LIMIT_CODE = 99991400
REQUEST_HEADERS = {"User-Agent": "feishu-directory-reconciler", "Accept": "*/*", "Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: its status, its headers by lower-case name, and its body (un-gzipped)."""

    status_code: int
    headers: dict[str, str]
    content: bytes
    arrived: float  # time.monotonic() when its headers were in: the scheduler dates the answer by it


def _httpx() -> Any:
    """httpx, imported on first use: commands that send nothing never load it."""
    import httpx

    return httpx


def _via_proxy(url: str) -> str:
    """` through the proxy http://proxy:3128` when the environment routes `url` through one (the
    proxy's credentials left out), so a failure says where it happened."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxies = getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or proxy_bypass(parts.hostname or ""):
        return ""
    shown = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    return f" through the proxy {shown.scheme}://{shown.hostname}" + (f":{shown.port}" if shown.port else "")


def _permissions(payload: dict[str, Any]) -> tuple[str, ...]:
    """The permissions an error answer names: error.permission_violations, else the `[a,b]` in its msg
    (通用错误码 99991672: "Access denied. One of the following scopes is required: [...]")."""
    error = payload.get("error")
    found: list[str] = []
    if isinstance(error, dict):
        for v in error.get("permission_violations") or []:
            if isinstance(v, dict) and isinstance(v.get("subject"), str):
                found.append(v["subject"])
    if not found and payload.get("code") == 99991672:
        match = re.search(r"\[([^\]]+)\]", str(payload.get("msg", "")))
        if match:
            found = [p.strip() for p in match.group(1).split(",") if p.strip()]
    # names only: a hostile answer cannot inject text into the message
    return tuple(dict.fromkeys(p for p in found if re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", p)))


def _cause(exc: Exception) -> str:
    """Why an exchange failed, in words: a TLS verification or proxy failure names itself."""
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return f"TLS failed: {text}; behind a TLS-inspecting proxy set SSL_CERT_FILE to its CA bundle"
    if type(exc).__name__ == "ProxyError":
        return f"the proxy refused or failed: {text}; check HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
    return f"{type(exc).__name__}: {text}"


@dataclass
class ClientStats:
    calls: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0
    token_refreshes: int = 0

    def count(self, endpoint: str) -> None:
        self.calls[endpoint] = self.calls.get(endpoint, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


SAFE_QUERY_VALUE = re.compile(r"[A-Za-z0-9_.~-]*")  # needs no percent-encoding in a query


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    total_seconds: float = 120.0
    base_delay: float = 0.2
    max_delay: float = 10.0


class DirectoryClient:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        user_id_type: str = "open_id",
        department_id_type: str = "open_department_id",
        quotas: Quotas | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
        concurrency: int | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self._credentials = credentials
        self.app_id = credentials.app_id  # not a secret: it names the app a plan was made with
        self.user_id_type = user_id_type
        self.department_id_type = department_id_type
        quotas = quotas or Quotas()
        self.scheduler = QuotaScheduler(quotas)
        self.retry = retry or RetryPolicy()
        # a whole window's reads in flight at once, at any round trip (50 at 50/s): fewer would
        # spread each burst over several round trips; the scheduler keeps calls within the quota
        self.concurrency = concurrency or max(4, min(64, math.ceil(quotas.per_second)))
        self.stats = ClientStats()
        self.refused: dict[str, int] = {}  # user id: the code a batch read answered for it alone
        self._stats_lock = threading.Lock()
        self._token: str | None = None
        self._token_expiry = 0.0
        self._token_lock = threading.Lock()
        self._rng = random.Random()
        self._timeout = timeout
        self._pool: httpx.Client | None = None
        self._pool_lock = threading.Lock()

    def _connections(self) -> httpx.Client:
        # made, and httpx imported, on first use: commands that send nothing never load it
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    httpx = _httpx()
                    try:
                        self._pool = httpx.Client(
                            trust_env=True,  # proxies and CA bundles from the environment
                            timeout=self._timeout,
                            limits=httpx.Limits(
                                max_connections=self.concurrency * 2, max_keepalive_connections=self.concurrency * 2
                            ),
                            headers=REQUEST_HEADERS,
                            follow_redirects=False,
                        )
                    except (ValueError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                        raise TransportError(
                            f"the proxy settings in the environment are not usable ({exc}); "
                            "check HTTPS_PROXY / HTTP_PROXY / ALL_PROXY"
                        ) from None
        return self._pool

    def prepare(self) -> None:
        """Import the HTTP stack and build the connection pool now, sending nothing: before the
        parsing workers fork, so the first request does not wait for CPU they take. A setting
        that cannot be used is reported by the first request, not here."""
        try:
            self._connections()
        except TransportError:
            pass

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> DirectoryClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- token -----------------------------------------------------------------------------------

    def _fresh_token(self, force: bool = False) -> str:
        with self._token_lock:
            if not force and self._token and time.monotonic() < self._token_expiry:
                return self._token
            body = {"app_id": self._credentials.app_id, "app_secret": self._credentials.app_secret}
            payload, _ = self._send(
                "token", "POST", TOKEN_PATH, body=body, auth=False, what="getting a tenant access token"
            )
            token = payload.get("tenant_access_token")
            if not isinstance(token, str) or not token:
                raise TransportError("the token endpoint answered without tenant_access_token")
            expire = payload.get("expire", 7200)
            # refresh 10 minutes early, as the official SDK does
            self._token_expiry = time.monotonic() + max(60.0, float(expire) - 600)
            self._token = token
            if force:
                with self._stats_lock:
                    self.stats.token_refreshes += 1
            return token

    # -- transport -------------------------------------------------------------------------------

    def _send(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
        auth: bool = True,
        lane: Lane = Lane.NORMAL,
        paced: bool = False,
        what: str = "",
        cancel: threading.Event | None = None,
    ) -> tuple[dict[str, Any], str | None]:
        """One logical call with quotas and retries; returns (payload, log id) or raises.

        `paced`: a write, spaced evenly instead of sent in bursts (see QuotaScheduler)."""
        what = what or f"{method} {path}"
        url = self._url(path, params)
        content = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        deadline = time.monotonic() + self.retry.total_seconds
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self._fresh_token() if auth else None
            slot = self.scheduler.acquire(endpoint, lane, paced=paced, cancel=cancel) if endpoint != "token" else None
            with self._stats_lock:
                self.stats.count(endpoint)
            delay: float | None = None
            arrived = None
            try:
                try:
                    resp = self._exchange(method, url, content, token)
                    arrived = resp.arrived
                finally:
                    if slot is not None:
                        self.scheduler.release(slot, endpoint, arrived)
            except _httpx().TransportError as exc:  # timeouts, network, proxy, protocol: worth a retry
                failure: Exception = TransportError(
                    f"{what}: cannot reach {self.base_url}{_via_proxy(self.base_url)} ({_cause(exc)}); "
                    "check base_url / FEISHU_BASE_URL and the network"
                )
                delay = self._backoff(attempt)
            else:
                log_id = resp.headers.get("x-tt-logid")
                try:
                    payload = json.loads(resp.content)
                    if not isinstance(payload, dict) or not isinstance(payload.get("code"), int):
                        raise ValueError
                except ValueError:
                    failure = TransportError(
                        f"{what}: HTTP {resp.status_code} with a body that is not Feishu's JSON envelope "
                        f"(is {self.base_url} the Feishu API?)"
                    )
                    if resp.status_code < 500:
                        raise failure from None
                    delay = self._backoff(attempt)
                else:
                    code = payload["code"]
                    if code == 0:
                        return payload, log_id
                    failure = ApiError(
                        code, str(payload.get("msg", "")), log_id, resp.status_code, what, _permissions(payload)
                    )
                    if code in TOKEN_CODES and auth and not refreshed:
                        refreshed = True
                        self._fresh_token(force=True)
                        continue
                    if code == RATE_LIMIT_CODE or resp.status_code == 429:
                        with self._stats_lock:
                            self.stats.rate_limited += 1
                        delay = self._reset_after(resp)
                        self.scheduler.penalise(endpoint, delay)
                    elif retryable(code, resp.status_code):
                        delay = self._backoff(attempt)
            if delay is None or attempt >= self.retry.attempts or time.monotonic() + delay > deadline:
                raise failure
            with self._stats_lock:
                self.stats.retries += 1
            if cancel is None:
                time.sleep(delay)
            elif cancel.wait(delay):
                raise Cancelled

    def _exchange(self, method: str, url: str, content: bytes | None, token: str | None) -> Answer:
        """One HTTP request and its whole answer."""
        headers = {}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        if content is not None:
            headers["Content-Type"] = "application/json"
        with self._connections().stream(method, url, headers=headers, content=content) as response:
            arrived = time.monotonic()
            fields = {name.lower(): value for name, value in response.headers.items()}
            try:
                body = response.read()  # un-gzipped by httpx
            except _httpx().DecodingError:
                body = b""  # a corrupt gzip body: _send reports a body that is not Feishu's JSON envelope
        return Answer(response.status_code, fields, body, arrived)

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff."""
        cap = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(cap / 2, cap)

    @staticmethod
    def _reset_after(resp: Answer) -> float:
        raw = resp.headers.get("x-ogw-ratelimit-reset", "1")
        try:
            return min(60.0, max(0.01, float(raw)))
        except ValueError:
            return 1.0

    def _url(self, path: str, params: list[tuple[str, str]] | None) -> str:
        """The absolute URL, its query percent-encoded (a 50-id query needs no encoding: ~20 µs)."""
        if params:
            path += "?" + "&".join(
                f"{key}={value if SAFE_QUERY_VALUE.fullmatch(value) else quote(value, safe='')}"
                for key, value in params
            )
        return self.base_url + path

    def _params(self, **extra: Any) -> list[tuple[str, str]]:
        params = [("user_id_type", self.user_id_type), ("department_id_type", self.department_id_type)]
        for key, value in extra.items():
            if isinstance(value, (list, tuple)):
                params.extend((key, str(v)) for v in value)
            elif value is not None:
                params.append((key, str(value)))
        return params

    # -- API -------------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Fetch a token now, so credential problems surface before any read."""
        self._fresh_token()

    def iter_users(self, user_ids: Iterable[str]) -> Iterator[dict[str, dict[str, Any]]]:
        """Live users by id, one batch GET (50 ids) at a time as each completes; calls run in parallel.

        Ids the API does not return (no such user, or outside the app's contact scope) are absent.
        """
        ids = list(dict.fromkeys(user_ids))
        chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
        if not chunks:
            return
        self.authenticate()
        if len(chunks) == 1 or self.concurrency <= 1:
            for chunk in chunks:
                yield self.read_batch(chunk)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for future in as_completed([pool.submit(self.read_batch, c) for c in chunks]):
                yield future.result()

    def read_batch(self, user_ids: list[str], cancel: threading.Event | None = None) -> dict[str, dict[str, Any]]:
        """One batch GET of up to 50 users: the live users by id. `cancel`: see QuotaScheduler.acquire.

        One malformed or foreign id fails the whole call (批量获取用户信息: 40001; open_ids of another
        app: 99992361): the batch is then read in halves until the ids at fault are alone, so the
        others are still read; each refused id is recorded in `refused` with its code."""
        try:
            payload, _ = self._send(
                "users.batch",
                "GET",
                f"{USERS}/batch",
                params=self._params(user_ids=user_ids),
                what=f"reading {len(user_ids)} users",
                cancel=cancel,
            )
        except ApiError as exc:
            if exc.code not in ID_ERRORS:
                raise
            if len(user_ids) == 1:
                with self._stats_lock:
                    self.refused[user_ids[0]] = exc.code
                return {}
            half = len(user_ids) // 2
            return {**self.read_batch(user_ids[:half], cancel), **self.read_batch(user_ids[half:], cancel)}
        items = [u for u in (payload.get("data") or {}).get("items") or [] if isinstance(u, dict)]
        key = self.user_id_type
        if items and not any(u.get(key) for u in items):
            # 批量获取用户信息: user_id is returned only with its field permission
            raise PermissionMissing(
                f"reading users: Feishu answered {len(items)} users without their {key}; reading {key}s needs "
                f"the permission {permissions.USER_ID_TYPE_USER_ID} (获取用户 user ID). Grant it in the developer "
                "console (权限管理) and publish a new app version, or use user_id_type: open_id"
            )
        return {u[key]: u for u in items if u.get(key)}

    def fetch_users(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Live users by id (see iter_users)."""
        found: dict[str, dict[str, Any]] = {}
        for batch in self.iter_users(user_ids):
            found.update(batch)
        return found

    def patch_user(self, user_id: str, body: dict[str, Any], *, lane: Lane = Lane.NORMAL) -> dict[str, Any]:
        payload, _ = self._send(
            "users.patch",
            "PATCH",
            f"{USERS}/{quote(user_id, safe='')}",
            params=self._params(),
            body=body,
            lane=lane,
            paced=True,  # the only write this client makes
            what=f"updating user {user_id}",
        )
        return (payload.get("data") or {}).get("user") or {}

    def create_user(self, body: dict[str, Any], client_token: str) -> dict[str, Any]:
        """创建用户; the same client_token makes a re-sent request return the person it first created."""
        payload, _ = self._send(
            "users.create",
            "POST",
            USERS,
            params=self._params(client_token=client_token),
            body=body,
            paced=True,
            what="creating a user",
        )
        return (payload.get("data") or {}).get("user") or {}

    def delete_user(self, user_id: str, acceptors: dict[str, Any]) -> None:
        """删除用户: the person is resigned; `acceptors` name who receives their resources."""
        self._send(
            "users.delete",
            "DELETE",
            f"{USERS}/{quote(user_id, safe='')}",
            params=self._params(),
            body=acceptors,
            paced=True,
            what=f"deleting user {user_id}",
        )

    def _page_data(
        self, endpoint: str, path: str, what: str, page_size: int = 50, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """The `data` of each page of a paginated GET, following page_token while has_more."""
        token: str | None = None
        while True:
            payload, _ = self._send(
                endpoint, "GET", path, params=self._params(page_size=page_size, page_token=token, **params), what=what
            )
            data = payload.get("data") or {}
            yield data
            if not data.get("has_more"):
                return
            token = data.get("page_token")

    def _pages(self, endpoint: str, path: str, what: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated listing (page_size 50, the documented maximum)."""
        return [item for data in self._page_data(endpoint, path, what, **params) for item in data.get("items") or []]

    def find_by_department(self, department_id: str) -> list[dict[str, Any]]:
        """Direct members of a department."""
        return self._pages(
            "users.find_by_department",
            f"{USERS}/find_by_department",
            f"listing department {department_id}",
            department_id=department_id,
        )

    def list_departments(self, parent: str = "0") -> list[dict[str, Any]]:
        """Every department under `parent` (the root: all of them), recursively."""
        return self._pages(
            "departments.children",
            f"{DEPARTMENTS}/{quote(parent, safe='')}/children",
            f"listing departments under {parent}",
            fetch_child="true",
        )

    def get_department(self, department_id: str) -> dict[str, Any]:
        payload, _ = self._send(
            "departments.get",
            "GET",
            f"{DEPARTMENTS}/{quote(department_id, safe='')}",
            params=self._params(),
            what=f"reading department {department_id}",
        )
        return (payload.get("data") or {}).get("department") or {}

    def granted_permissions(self) -> list[str]:
        """查询租户授权状态 (GET application/v6/scopes, no permission needed): the scope names granted."""
        payload, _ = self._send(
            "application.scopes", "GET", "/open-apis/application/v6/scopes", what="reading the app's permissions"
        )
        scopes = (payload.get("data") or {}).get("scopes") or []
        return [s["scope_name"] for s in scopes if isinstance(s, dict) and s.get("grant_status") == 1]

    def contact_scope(self) -> tuple[list[str], list[str]]:
        """获取通讯录授权范围: the departments and users the app's contact range names (not the
        sub-departments of those departments), in department_id_type and user_id_type."""
        departments: list[str] = []
        users: list[str] = []
        for data in self._page_data("scopes", "/open-apis/contact/v3/scopes", "reading the app's contact range", 100):
            departments.extend(data.get("department_ids") or [])
            users.extend(data.get("user_ids") or [])
        return departments, users

    def batch_get_id(self, emails: list[str], mobiles: list[str]) -> list[dict[str, Any]]:
        """Who holds these e-mails / mobiles (50 of each a call)."""
        out: list[dict[str, Any]] = []
        for i in range(0, max(len(emails), len(mobiles)), BATCH_SIZE):
            body = {
                "emails": emails[i : i + BATCH_SIZE],
                "mobiles": mobiles[i : i + BATCH_SIZE],
                "include_resigned": True,
            }
            payload, _ = self._send(
                "users.batch_get_id",
                "POST",
                f"{USERS}/batch_get_id",
                params=[("user_id_type", self.user_id_type)],
                body=body,
                what="looking up e-mails and mobiles",
            )
            out.extend((payload.get("data") or {}).get("user_list") or [])
        return out
