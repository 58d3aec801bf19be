"""Quotas and fault injection for the emulator.

Quotas follow 频控策略: per API, 50 calls in any second and 1000 in any minute; PATCHes carrying
department_ids or is_frozen at most 1 per second. Exceeding answers HTTP 429, code 99991400,
with x-ogw-ratelimit-limit / x-ogw-ratelimit-reset. `time_scale` makes a second last
1/time_scale real seconds, so a minute of quota runs in seconds for benchmarks.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from typing import Any

from .store import ApiFailure, Store, fail

# "lost": a write is carried out, then its answer never arrives (the connection closes)
FAULT_KINDS = ("500", "503", "drop", "44025", "delay", "lost")


class Quotas:
    def __init__(
        self,
        enabled: bool = True,
        per_second: int = 50,
        per_minute: int = 1000,
        slow_per_second: int = 1,
        time_scale: float = 1.0,
    ):
        self.lock = threading.Lock()
        self.windows: dict[str, deque[float]] = {}
        self.rejections = 0
        self.configure(
            {
                "enabled": enabled,
                "per_second": per_second,
                "per_minute": per_minute,
                "slow_per_second": slow_per_second,
                "time_scale": time_scale,
            }
        )

    def configure(self, cfg: dict[str, Any]) -> None:
        allowed = {"enabled", "per_second", "per_minute", "slow_per_second", "time_scale"}
        unknown = set(cfg) - allowed
        if unknown:
            raise ValueError(f"unknown quota settings: {sorted(unknown)}")
        with self.lock:
            self.enabled = bool(cfg.get("enabled", getattr(self, "enabled", True)))
            self.per_second = int(cfg.get("per_second", getattr(self, "per_second", 50)))
            self.per_minute = int(cfg.get("per_minute", getattr(self, "per_minute", 1000)))
            self.slow_per_second = int(cfg.get("slow_per_second", getattr(self, "slow_per_second", 1)))
            self.time_scale = float(cfg.get("time_scale", getattr(self, "time_scale", 1.0)))
            if self.time_scale <= 0:
                raise ValueError("time_scale must be > 0")
            self.windows.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "per_second": self.per_second,
            "per_minute": self.per_minute,
            "slow_per_second": self.slow_per_second,
            "time_scale": self.time_scale,
            "rejections": self.rejections,
        }

    def _over(self, key: str, limit: int, span: float, now: float) -> float | None:
        """Seconds until the window has room, or None when it has room now (and is charged)."""
        window = self.windows.setdefault(key, deque())
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= limit:
            return window[0] + span - now
        return None

    def admit(self, endpoint: str, lane: str | None) -> None:
        if not self.enabled or endpoint == "token":
            return
        with self.lock:
            now = time.monotonic()
            sec = 1.0 / self.time_scale
            checks = [(endpoint + "/s", self.per_second, sec), (endpoint + "/min", self.per_minute, 60 * sec)]
            if lane == "slow":
                checks.append(("slow_lane/s", self.slow_per_second, sec))
            waits = [w for key, limit, span in checks if (w := self._over(key, limit, span, now)) is not None]
            if waits:
                self.rejections += 1
                self.reset_after = max(waits)
                raise ApiFailure(429, 99991400, "request trigger frequency limit")
            for key, _, _ in checks:
                self.windows[key].append(now)

    def headers(self, endpoint: str) -> dict[str, str]:
        reset = getattr(self, "reset_after", 1.0)
        # real API: whole seconds; time-scaled: the real-time fraction, so clients wait the right time
        value = str(max(1, math.ceil(reset))) if self.time_scale == 1.0 else f"{reset:.3f}"
        return {"x-ogw-ratelimit-limit": str(self.per_second), "x-ogw-ratelimit-reset": value}


WRITES = ("users.patch", "users.put", "users.create", "users.delete")


class Faults:
    """Seeded, reproducible failures: error rate over kinds, permanent rejections, token expiry."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(0)
        self.rate = 0.0
        self.kinds: tuple[str, ...] = ()
        self.endpoints: tuple[str, ...] = ()
        self.delay_ms = 0
        self.reject: dict[str, int] = {}
        self.expire_after: int | None = None
        self.expire_at: float | None = None
        self.deny_reads_after: int | None = None
        self.rtt_ms = 0.0
        self.jitter = 0.0
        self.writes = 0
        self.seen = 0
        self.injected: dict[str, int] = {}
        self.store: Store | None = None

    def configure(self, cfg: dict[str, Any], store: Store) -> None:
        allowed = {
            "seed",
            "rate",
            "kinds",
            "endpoints",
            "delay_ms",
            "reject",
            "expire_token_after",
            "expire_token_at_seconds",
            "deny_reads_after_writes",
            "rtt_ms",
            "jitter",
        }
        unknown = set(cfg) - allowed
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}; known: {sorted(allowed)}")
        kinds = tuple(cfg.get("kinds", FAULT_KINDS if cfg.get("rate") else ()))
        bad = [k for k in kinds if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kinds {bad}; known: {list(FAULT_KINDS)}")
        rate = float(cfg.get("rate", 0.0))
        if not 0 <= rate <= 1:
            raise ValueError("rate must be within 0..1")
        with self.lock:
            self.rng = random.Random(cfg.get("seed", 0))
            self.rate = rate
            self.kinds = kinds
            self.endpoints = tuple(cfg.get("endpoints", ()))
            self.delay_ms = int(cfg.get("delay_ms", 0))
            self.reject = {str(k): int(v) for k, v in (cfg.get("reject") or {}).items()}
            self.expire_after = cfg.get("expire_token_after")  # the Nth request sees its token expired
            at = cfg.get("expire_token_at_seconds")  # or: the first request that many seconds from now
            self.expire_at = time.monotonic() + float(at) if at is not None else None
            # the app loses its read scope after N writes (an admin edits it mid-apply): reads answer 99991672
            after = cfg.get("deny_reads_after_writes")
            self.deny_reads_after = int(after) if after is not None else None
            # a network round trip: half before the request is handled, half before the answer arrives
            self.rtt_ms = float(cfg.get("rtt_ms", 0.0))
            self.jitter = float(cfg.get("jitter", 0.0))
            if self.rtt_ms < 0 or not 0 <= self.jitter < 1:
                raise ValueError("rtt_ms must be ≥ 0 and jitter within 0..1 (a share of the round trip)")
            self.writes = 0
            self.seen = 0
            self.injected = {}
            self.store = store

    def describe(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kinds": list(self.kinds),
            "endpoints": list(self.endpoints),
            "delay_ms": self.delay_ms,
            "reject": self.reject,
            "expire_token_after": self.expire_after,
            "expire_token_pending": self.expire_at is not None,
            "injected": dict(self.injected),
            "deny_reads_after_writes": self.deny_reads_after,
            "rtt_ms": self.rtt_ms,
            "jitter": self.jitter,
        }

    def one_way(self) -> None:
        """Sleep one direction of the configured round trip, jittered independently each way."""
        if self.rtt_ms:
            with self.lock:
                spread = self.rng.uniform(-self.jitter, self.jitter)
            time.sleep(self.rtt_ms / 2000 * (1 + spread))

    def _roll(self, endpoint: str, kinds: tuple[str, ...]) -> str | None:
        if not self.rate or not kinds or (self.endpoints and endpoint not in self.endpoints):
            return None
        if endpoint == "token" and "token" not in self.endpoints:
            return None  # the token endpoint fails only when named: a fault meant for the API must not hit auth
        with self.lock:
            if self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind

    def roll(self, endpoint: str) -> str | None:
        """The fault this request gets, if any: `rate` is the share of requests that fail, each with
        one of the configured kinds that can happen to this endpoint (44025 only to writes)."""
        write = endpoint in WRITES
        kinds = tuple(k for k in self.kinds if k in ("500", "503", "drop") or (k in ("44025", "lost") and write))
        return self._roll(endpoint, kinds)

    def delay(self) -> None:
        if self.delay_ms and "delay" in self.kinds:
            time.sleep(self.delay_ms / 1000)

    def before_request(self, endpoint: str, fault: str | None = None) -> None:
        """Token expiry, then the request's rolled `fault` (see roll), as the API would answer it."""
        if endpoint == "token":
            return  # token expiry and injected faults are the API's; the token endpoint is asked for by name
        with self.lock:
            self.seen += 1
            if endpoint in WRITES:
                self.writes += 1
            denied = (
                self.deny_reads_after is not None
                and self.writes >= self.deny_reads_after
                and endpoint in ("users.batch", "users.get")
            )
            expire = self.expire_after is not None and self.seen == self.expire_after
            if self.expire_at is not None and time.monotonic() >= self.expire_at:
                expire, self.expire_at = True, None
        if denied:
            scope = "Access denied. One of the following scopes is required: [contact:contact.base:readonly]"
            raise ApiFailure(400, 99991672, scope)
        if expire and self.store is not None:
            self.store.expire_tokens()
            self.injected["token_expiry"] = self.injected.get("token_expiry", 0) + 1
            raise fail(99991663, "Invalid access token for authorization. Please make a request with token attached.")
        if fault in ("500", "503"):
            raise ApiFailure(int(fault), 55001, "internal server error")
        if fault == "44025":
            raise fail(44025, "update user lock error,wait some seconds and retry")

    def before_write(self, uid: str) -> None:
        code = self.reject.get(uid)
        if code is not None:
            raise fail(code, f"injected permanent rejection {code}")
