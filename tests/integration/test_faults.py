"""Unbreakable against a real tenant: faults, quotas, retries, kill -9 (behaviour, never wall-clock)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.client import DirectoryClient, RetryPolicy
from reconciler.config import Credentials, Quotas
from reconciler.desired import DesiredUser
from reconciler.emulator.faults import Faults
from reconciler.emulator.store import Store
from reconciler.errors import ApiError, TransportError
from reconciler.pipeline import StreamedReads
from tests.conftest import APP, Live, drifted_org, invoke

N = 1000


@pytest.fixture
def org_1000(tmp_path: Path) -> Iterator[tuple[Live, Path]]:
    yield from drifted_org(N, tmp_path)


def _cli(live: Live, *args: str):
    return invoke(live, *args)


def _titles(live: Live) -> dict[str, str]:
    return {u["open_id"]: u.get("job_title", "") for u in live.state()["users"]}


def test_apply_under_10_percent_faults_and_a_token_expiry_applies_everyone(org_1000):
    live, directory = org_1000
    live.faults(rate=0.1, kinds=["500", "503", "drop", "44025"], seed=7, expire_token_after=400)
    result = _cli(live, "apply", "--dir", str(directory), "--auto-approve")
    assert result.exit_code == 0, result.output[-2000:]
    assert "Apply: 1000 applied, 0 failed, 0 stale, 0 skipped." in result.output
    assert set(_titles(live).values()) == {"Senior Engineer"}
    log = live.requests()
    assert sum(r["code"] in (55001, 44025, 99991663) for r in log) > 50  # faults really happened
    assert sum(r["path"].endswith("tenant_access_token/internal") for r in log) >= 2  # token refreshed
    again = _cli(live, "plan", "--dir", str(directory), "--detailed-exitcode")
    assert again.exit_code == 0, again.output[-500:]


def test_permanent_rejections_fail_only_those_users_and_the_rest_apply(org_1000):
    live, directory = org_1000
    rejected = [f"ou_{i:08d}" for i in (3, 77, 311, 600, 999)]
    live.faults(reject={uid: 41050 for uid in rejected})
    result = _cli(live, "apply", "--dir", str(directory), "--auto-approve", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["summary"] == {"applied": 995, "applied-unverified": 0, "failed": 5, "stale": 0, "skipped": 0}
    failed = {r["user_id"]: r for r in report["results"] if r["status"] == "failed"}
    assert set(failed) == set(rejected)
    assert all(r["code"] == 41050 and "contact scope" in r["message"] and r["log_id"] for r in failed.values())
    patches = [r for r in live.requests() if r["method"] == "PATCH"]
    assert sum(r["path"].endswith(tuple(rejected)) for r in patches) == 5  # a business 4xx is never retried
    titles = _titles(live)
    assert all(titles[u] == "Engineer" for u in rejected)
    assert sum(t == "Senior Engineer" for t in titles.values()) == 995


def test_kill_9_during_apply_then_a_rerun_converges_without_rewriting_anyone(org_1000):
    live, directory = org_1000
    live.faults(rate=1.0, kinds=["delay"], delay_ms=5)  # slow every answer so the kill lands mid-run
    env = {**os.environ, **APP, "FEISHU_BASE_URL": live.url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "--dir", str(directory), "--auto-approve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(6000):  # bounded: at most 60 s of polling
            if sum(r["method"] == "PATCH" for r in live.requests()) >= 100 or proc.poll() is not None:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    first = {r["path"].rsplit("/", 1)[1] for r in live.requests() if r["method"] == "PATCH" and r["code"] == 0}
    assert 100 <= len(first) < N, "the kill must land mid-run"
    live.faults()
    live.clear()
    result = _cli(live, "apply", "--dir", str(directory), "--auto-approve")
    assert result.exit_code == 0, result.output[-1000:]
    second = {r["path"].rsplit("/", 1)[1] for r in live.requests() if r["method"] == "PATCH"}
    assert not first & second  # users the killed run applied are unchanged now: not sent again
    assert len(first) + len(second) == N
    assert set(_titles(live).values()) == {"Senior Engineer"}


# -- the client on its own ------------------------------------------------------------------------


@pytest.fixture
def make_client(live: Live) -> Iterator:
    clients: list[DirectoryClient] = []

    def make(**kw) -> DirectoryClient:
        client = DirectoryClient(
            live.url,
            Credentials(APP["FEISHU_APP_ID"], APP["FEISHU_APP_SECRET"]),
            quotas=kw.pop("quotas", Quotas(time_scale=1000)),
            **kw,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_rate_limit_answers_are_waited_out_as_the_reset_header_says(live: Live, make_client):
    live.quotas(enabled=True, per_second=5, per_minute=1000, time_scale=20)
    ids = [u["open_id"] for u in live.state()["users"]]
    client = make_client(quotas=Quotas(per_second=10**6, per_minute=10**8, time_scale=1))  # ignores the limits
    for _ in range(6):
        assert len(client.fetch_users(ids[:3])) == 3
    assert client.stats.rate_limited >= 1
    assert live.quotas()["rejections"] == client.stats.rate_limited


def test_the_emulator_answers_rate_limits_as_the_api_does(live: Live, make_client):
    live.quotas(enabled=True, per_second=2, per_minute=1000, time_scale=1)
    token = httpx.post(
        live.url + "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": "cli_demo", "app_secret": "demo-secret"},
    ).json()["tenant_access_token"]
    answers = [
        httpx.get(
            live.url + "/open-apis/contact/v3/users/batch",
            params={"user_ids": "ou_x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        for _ in range(3)
    ]
    limited = answers[-1]
    assert limited.status_code == 429
    assert limited.json()["code"] == 99991400
    assert limited.headers["x-ogw-ratelimit-limit"] == "2"
    assert int(limited.headers["x-ogw-ratelimit-reset"]) >= 1


def test_a_business_error_is_never_retried(live: Live, seed_user_ids: dict[str, str], make_client):
    client = make_client()
    live.clear()
    with pytest.raises(ApiError) as info:
        client.patch_user(seed_user_ids["bob"], {"gender": 7})
    assert info.value.code == 41038
    assert sum(r["method"] == "PATCH" for r in live.requests()) == 1


def test_an_expired_token_is_refreshed_once_and_the_call_retried(
    live: Live, seed_user_ids: dict[str, str], make_client
):
    client = make_client()
    client.authenticate()
    live.faults(expire_token_after=1)
    assert client.fetch_users([seed_user_ids["bob"]])
    assert client.stats.token_refreshes == 1
    assert [r["code"] for r in live.requests() if r["path"].endswith("/batch")] == [99991663, 0]


def test_server_errors_are_retried_a_bounded_number_of_times(live: Live, seed_user_ids: dict[str, str], make_client):
    client = make_client(retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    client.authenticate()
    live.faults(rate=1.0, kinds=["500"])
    live.clear()
    with pytest.raises(ApiError) as info:
        client.fetch_users([seed_user_ids["bob"]])
    assert info.value.http_status == 500
    assert len(live.requests()) == 3


def test_dropped_connections_are_retried(live: Live, seed_user_ids: dict[str, str], make_client):
    client = make_client(retry=RetryPolicy(attempts=50, base_delay=0.001, max_delay=0.002))
    live.faults(rate=0.5, kinds=["drop"], seed=3)
    assert client.fetch_users([seed_user_ids["bob"]])
    assert client.stats.retries >= 1


UNREACHABLE = "getting a tenant access token: cannot reach http://127.0.0.1:9 (ConnectError: [Errno 111]"


def test_an_unreachable_api_is_a_clear_error():
    with DirectoryClient(
        "http://127.0.0.1:9", Credentials("a", "b"), retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002)
    ) as client:
        with pytest.raises(
            TransportError,
            match=re.escape(UNREACHABLE),
        ):
            client.authenticate()


def test_a_token_expiring_at_a_given_time_is_refreshed(live: Live, seed_user_ids: dict[str, str], make_client):
    client = make_client()
    client.authenticate()
    live.faults(expire_token_at_seconds=0)
    assert client.fetch_users([seed_user_ids["bob"]])
    assert client.stats.token_refreshes == 1


def test_query_values_that_need_escaping_arrive_intact(live: Live, make_client):
    odd = "od x&user_id_type=union_id/é"
    client = make_client()
    with pytest.raises(ApiError):  # no such department: the point is what the server was asked
        client.find_by_department(odd)
    query = [r for r in live.requests() if r["path"].endswith("/find_by_department")][-1]["query"]
    assert query["department_id"] == [odd]
    assert query["user_id_type"] == ["open_id"]


def test_stopped_reads_send_nothing_more_however_often_they_are_stopped(live: Live, make_client):
    client = make_client(quotas=Quotas(per_second=1, per_minute=1000))  # one batch a second
    reads = StreamedReads(client)
    users = [DesiredUser(f"u{n}", f"u{n}.yaml", {"user_id": f"ou_{n}"}) for n in range(500)]
    reads(users, True, False)  # ten batches: one goes out, the others wait for quota or stay queued
    deadline = time.monotonic() + 10
    while not any("/users/batch" in r["path"] for r in live.requests()) and time.monotonic() < deadline:
        time.sleep(0.01)
    reads.stop()  # the waiting and the queued batches are dropped, unsent
    reads.stop()
    reads.close()
    assert sum("/users/batch" in r["path"] for r in live.requests()) == 1


def test_a_client_that_hangs_up_mid_request_is_no_error_of_the_emulator(live: Live, capsys):
    host, port = live.url.removeprefix("http://").split(":")
    threads = threading.active_count()
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(b"GET /open-apis/contact/v3/users/batch HTTP/1.1\r\nHost: x\r\n")  # headers never end
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.01)  # until the connection's handler thread has seen the reset and ended
    assert threading.active_count() == threads
    assert httpx.get(live.url + "/_emulator/requests", trust_env=False).status_code == 200  # still serving
    assert "Traceback" not in capsys.readouterr().err


def test_the_emulator_fault_rate_is_the_share_of_requests_that_fail_whatever_the_kinds():
    faults = Faults()
    faults.configure({"rate": 0.1, "kinds": ["500", "503", "drop", "44025"], "seed": 7}, Store({}))
    rolled = [faults.roll("users.patch") for _ in range(20_000)]
    assert 0.09 < sum(r is not None for r in rolled) / len(rolled) < 0.11
    assert {r for r in rolled if r} == {"500", "503", "drop", "44025"}
    assert "44025" not in {faults.roll("users.batch") for _ in range(2_000)}  # lock conflicts are for writes


def test_a_business_error_answered_with_504_is_sent_once(run, live: Live):
    planned = json.loads(run("plan", "--dir", str(run.directory), "--format", "json").stdout)
    target = planned["changes"][0]["user_id"]
    live.faults(reject={target: 41032})  # multi-department feature not enabled: HTTP 504 on the docs' table
    live.clear()
    result = run("apply", "--dir", str(run.directory), "--auto-approve", "--format", "json")
    assert result.exit_code == 1
    failed = [r for r in json.loads(result.stdout)["results"] if r["status"] == "failed"]
    assert [(r["user_id"], r["code"]) for r in failed] == [(target, 41032)]
    sent = [r for r in live.requests() if r["method"] == "PATCH" and r["path"].endswith(target)]
    assert len(sent) == 1


def test_a_server_error_without_a_documented_code_is_still_retried():
    from reconciler.codes import retryable

    assert retryable(55001, 500) and retryable(44025, 400) and not retryable(41032, 504)
