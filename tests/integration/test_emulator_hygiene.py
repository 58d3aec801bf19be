"""The emulator is a good citizen: it keeps no credential and its control endpoints serve only local callers."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import APP, Live, leaked


def _token(live: Live) -> str:
    answer = httpx.post(
        live.url + "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": APP["FEISHU_APP_ID"], "app_secret": APP["FEISHU_APP_SECRET"]},
        trust_env=False,
    ).json()
    return answer["tenant_access_token"]


def test_state_and_request_log_hold_no_app_secret_and_no_token(live: Live):
    token = _token(live)
    httpx.get(live.url + "/open-apis/contact/v3/users/batch", headers={"Authorization": f"Bearer {token}"})
    served = json.dumps(live.state()) + json.dumps(live.requests())
    assert token not in served and not leaked(served)
    assert APP["FEISHU_APP_SECRET"] not in repr(vars(live.server.app.store))


def test_the_same_token_comes_back_while_it_has_time_left_although_none_is_stored(live: Live):
    assert _token(live) == _token(live)


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example"},
        {"Host": "127.0.0.1.evil.example"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
@pytest.mark.parametrize("method, path", [("GET", "/_emulator/state"), ("POST", "/_emulator/faults")])
def test_control_endpoints_refuse_a_foreign_host_or_origin(live: Live, headers: dict[str, str], method: str, path: str):
    answer = httpx.request(method, live.url + path, headers=headers, json={"rate": 1.0}, trust_env=False)
    assert answer.status_code == 403
    assert live.server.app.faults.describe()["rate"] == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_control_endpoints_answer_loopback_names(live: Live, host: str):
    port = live.url.rsplit(":", 1)[1]
    answer = httpx.get(live.url + "/_emulator/state", headers={"Host": f"{host}:{port}"}, trust_env=False)
    assert answer.status_code == 200


def test_a_round_trip_is_configured_with_its_jitter_and_an_impossible_one_refused(live: Live):
    assert live.faults(rtt_ms=100, jitter=0.2)["rtt_ms"] == 100
    answer = httpx.post(live.url + "/_emulator/faults", json={"rtt_ms": 10, "jitter": 1.5}, trust_env=False)
    assert answer.status_code == 400 and "jitter within 0..1" in answer.json()["error"]
