"""Shared benchmark plumbing: build an org of N users on disk and in an emulator process, run the
real CLI against it over loopback, and measure what the issue asks for.

Standard library only: the benchmarks run in a plain `pip install .`, as the tool is deployed.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.emulator import generated_open_id

APP_ENV = {"FEISHU_APP_ID": "cli_demo", "FEISHU_APP_SECRET": "demo-secret"}
_APP_BODY = {"app_id": APP_ENV["FEISHU_APP_ID"], "app_secret": APP_ENV["FEISHU_APP_SECRET"]}
_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy: loopback only


@dataclass
class Emulator:
    proc: subprocess.Popen[str]
    url: str

    def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with _LOOPBACK.open(request, timeout=60) as answer:
            return json.loads(answer.read() or b"null")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_emulator/requests")

    def clear(self) -> None:
        self._call("DELETE", "/_emulator/requests")

    def quotas(self, **cfg: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/quotas", cfg)

    def faults(self, **cfg: Any) -> dict[str, Any]:
        return self._call("POST", "/_emulator/faults", cfg)

    def warm(self, n: int) -> None:
        """Read every user once, quotas off: the emulator renders each user's JSON on its first read
        and caches it, which made the first timed run of each size slower than the rest."""
        enforced = self.quotas()["enabled"]
        self.quotas(enabled=False)
        token = self._call("POST", "/open-apis/auth/v3/tenant_access_token/internal", _APP_BODY)
        auth = {"Authorization": "Bearer " + token["tenant_access_token"]}
        for start in range(0, n, 50):
            ids = "&".join(f"user_ids={generated_open_id(i)}" for i in range(start, min(n, start + 50)))
            self._call("GET", "/open-apis/contact/v3/users/batch?user_id_type=open_id&" + ids, headers=auth)
        self.quotas(enabled=enforced)
        self.clear()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_emulator(n: int, *args: str) -> Emulator:
    """`reconciler emulator --generate N` in its own process (so it does not share our cores' GIL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "emulator", "--generate", str(n), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip() if proc.stdout else ""
    assert line.startswith("listening on "), line
    emulator = Emulator(proc, line.removeprefix("listening on "))
    emulator.warm(n)
    return emulator


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    exit_code: int
    stdout: str
    started: float  # epoch seconds, the clock of the emulator's request log


def run_cli(url: str, *args: str) -> Run:
    """The real CLI in a fresh process; wall time, its CPU time and peak RSS."""
    env = {**os.environ, **APP_ENV, "FEISHU_BASE_URL": url}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    epoch, started = time.time(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "reconciler", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 2):
        print(done.stderr[-1500:], file=sys.stderr)
    return Run(wall, cpu, after.ru_maxrss / 1024, done.returncode, done.stdout, epoch)


def bare_yaml_load(directory: Path) -> tuple[float, float]:
    """The yardstick: a bare single-process CSafeLoader parse of the same files, in a fresh process.

    Returns (wall of that process, parse time inside it)."""
    code = (
        "import time,yaml,pathlib,sys\n"
        "t=time.perf_counter()\n"
        "fs=sorted(pathlib.Path(sys.argv[1]).glob('users/*.yaml'))\n"
        "[yaml.load(f.read_bytes(), Loader=yaml.CSafeLoader) for f in fs]\n"
        "print(time.perf_counter()-t)\n"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(directory)], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, float(out.stdout)


def quota_floor(
    calls_per_endpoint: dict[str, int],
    slow_lane: int = 0,
    per_second: float = 50,
    per_minute: float = 1000,
    slow_per_second: float = 1,
    time_scale: float = 1.0,
) -> float:
    """The least time the documented limits allow for these calls (sliding windows, per endpoint)."""
    floors = []
    for n in calls_per_endpoint.values():
        if n:
            floors.append(max((math.ceil(n / per_second) - 1) * 1.0, (math.ceil(n / per_minute) - 1) * 60.0))
    if slow_lane:
        floors.append((slow_lane - 1) / slow_per_second)
    return max(floors, default=0.0) / time_scale


def endpoint_counts(log: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in log:
        key = f"{r['method']} {r['path'].rsplit('/', 1)[0] if r['method'] == 'PATCH' else r['path']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def report(title: str, figures: dict[str, Any]) -> None:
    print(f"\n== {title}")
    for key, value in figures.items():
        print(f"  {key:<34} {value:.3f}" if isinstance(value, float) else f"  {key:<34} {value}")
    print(json.dumps({"bench": title, **figures}))
