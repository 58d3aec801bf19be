"""Permissions and contact range, as the doc pages describe them: the emulator (through the official
SDK) and the CLI with restricted apps, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import lark_oapi as lark
import pytest
from lark_oapi.api.contact.v3 import (
    BatchGetIdUserRequest,
    BatchGetIdUserRequestBody,
    BatchUserRequest,
    FindByDepartmentUserRequest,
    GetUserRequest,
)
from lark_oapi.core.cache.local_cache import LocalCache

from reconciler import permissions
from reconciler.emulator import demo_seed
from tests.conftest import Live, invoke, start, write_user

ENGINEERING = "od-4e6ac4d14bcd5071a37a39de902c7141"
SALES = "od-1b2c3d4e5f60718293a4b5c6d7e8f901"
ALL_BUT = lambda *drop: [p for p in permissions.ALL if p not in drop]  # noqa: E731


def _seed(**apps: dict[str, Any]) -> dict[str, Any]:
    seed = demo_seed()
    seed["apps"] = seed["apps"] + [{"app_id": name, "app_secret": "s-" + name, **cfg} for name, cfg in apps.items()]
    return seed


@pytest.fixture
def tenant() -> Iterator[Live]:
    """The demo org with restricted apps beside the demo app."""
    yield from start(
        _seed(
            cli_nophone={"scopes": ALL_BUT("contact:user.phone:readonly")},
            cli_noid={"scopes": ALL_BUT("contact:user.id:readonly")},
            cli_noemployeeid={"scopes": ALL_BUT("contact:user.employee_id:readonly")},
            cli_eng={"contact_range": [ENGINEERING]},
            cli_bare={"scopes": []},
        )
    )


def _sdk(live: Live, app: str) -> lark.Client:
    return (
        lark.Client.builder()
        .app_id(app)
        .app_secret("s-" + app)
        .domain(live.url)
        .cache(LocalCache())
        .timeout(5)
        .log_level(lark.LogLevel.CRITICAL)
        .build()
    )


def _as(live: Live, app: str, *args: str, directory: Path) -> Any:
    return invoke(live, *args, "--dir", str(directory), env={"FEISHU_APP_ID": app, "FEISHU_APP_SECRET": "s-" + app})


def test_a_field_without_its_permission_is_left_out_of_the_answer(tenant: Live, seed_user_ids: dict[str, str]):
    ask = BatchUserRequest.builder().user_ids([seed_user_ids["zhangsan"]]).build()
    without = _sdk(tenant, "cli_nophone").contact.v3.user.batch(ask)
    assert without.success(), (without.code, without.msg)
    user = without.data.items[0]
    assert user.mobile is None and user.email == "zhangsan@example.com"
    full = _sdk(tenant, "cli_eng").contact.v3.user.batch(ask)
    assert full.data.items[0].mobile


def test_an_unset_readable_field_is_answered_empty_not_left_out(tenant: Live, seed_user_ids: dict[str, str]):
    raw = _raw_batch(tenant, "cli_eng", seed_user_ids["zhangsan"])
    assert raw["nickname"] == "" and raw["job_level_id"] == ""


def _raw_batch(live: Live, app: str, user_id: str, **params: str) -> dict[str, Any]:
    token = httpx.post(
        live.url + "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": app, "app_secret": "s-" + app},
        trust_env=False,
    ).json()["tenant_access_token"]
    answer = httpx.get(
        live.url + "/open-apis/contact/v3/users/batch",
        params={"user_ids": user_id, **params},
        headers={"Authorization": "Bearer " + token},
        trust_env=False,
    ).json()
    assert answer["code"] == 0, answer
    return answer["data"]["items"][0]


def test_a_call_without_its_api_permission_answers_99991672_naming_it(tenant: Live):
    body = BatchGetIdUserRequestBody.builder().emails(["zhangsan@example.com"]).build()
    resp = _sdk(tenant, "cli_noid").contact.v3.user.batch_get_id(
        BatchGetIdUserRequest.builder().request_body(body).build()
    )
    assert resp.code == 99991672
    assert "contact:user.id:readonly" in resp.msg
    error = json.loads(resp.raw.content)["error"]
    assert [v["subject"] for v in error["permission_violations"]] == ["contact:user.id:readonly"]


def test_users_outside_the_contact_range_are_omitted_from_batch_and_refused_by_get(
    tenant: Live, seed_user_ids: dict[str, str]
):
    sdk = _sdk(tenant, "cli_eng")
    ids = [seed_user_ids["zhangsan"], seed_user_ids["sunli"]]  # Engineering, Sales
    batch = sdk.contact.v3.user.batch(BatchUserRequest.builder().user_ids(ids).build())
    assert [u.open_id for u in batch.data.items] == [seed_user_ids["zhangsan"]]
    get = sdk.contact.v3.user.get(GetUserRequest.builder().user_id(seed_user_ids["sunli"]).build())
    assert get.code == 41050


def test_listing_the_root_needs_the_all_members_range(tenant: Live):
    sdk = _sdk(tenant, "cli_eng")
    root = sdk.contact.v3.user.find_by_department(FindByDepartmentUserRequest.builder().department_id("0").build())
    assert (root.code, root.raw.status_code) == (40004, 403)
    own = sdk.contact.v3.user.find_by_department(
        FindByDepartmentUserRequest.builder().department_id(ENGINEERING).build()
    )
    assert own.success() and own.data.items


def test_application_scopes_report_what_is_granted(tenant: Live):
    token = httpx.post(
        tenant.url + "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": "cli_noid", "app_secret": "s-cli_noid"},
        trust_env=False,
    ).json()["tenant_access_token"]
    answer = httpx.get(
        tenant.url + "/open-apis/application/v6/scopes", headers={"Authorization": "Bearer " + token}, trust_env=False
    ).json()
    status = {s["scope_name"]: s["grant_status"] for s in answer["data"]["scopes"]}
    assert status["contact:user.id:readonly"] == 2 and status["contact:user.phone:readonly"] == 1


def test_an_unknown_app_id_and_a_wrong_secret_get_their_documented_codes(tenant: Live):
    url = tenant.url + "/open-apis/auth/v3/tenant_access_token/internal"
    unknown = httpx.post(url, json={"app_id": "cli_nobody", "app_secret": "x"}, trust_env=False).json()
    wrong = httpx.post(url, json={"app_id": "cli_eng", "app_secret": "x"}, trust_env=False).json()
    missing = httpx.post(url, json={"app_id": "cli_eng"}, trust_env=False).json()
    assert (unknown["code"], wrong["code"], missing["code"]) == (10014, 10015, 10003)


# -- the CLI with restricted apps ----------------------------------------------------------------


def test_a_field_the_app_cannot_read_is_not_a_change_and_the_plan_says_which_permission(tenant: Live, org: Path):
    path = org / "users" / "zhangsan.yaml"
    path.write_text(path.read_text("utf-8").replace("+8613011111111", "+8613099999999"), "utf-8")
    result = _as(tenant, "cli_nophone", "plan", directory=org)
    assert result.exit_code == 0, result.output
    assert "mobile could not be compared for @alice, @bob, @chenjing, @david, @emma and 7 more" in result.output
    assert "contact:user.phone:readonly" in result.output
    assert "- mobile" not in result.output


def test_apply_with_an_unreadable_field_sends_nothing_for_it_and_converges(tenant: Live, org: Path):
    path = org / "users" / "zhangsan.yaml"
    path.write_text(
        path.read_text("utf-8").replace("+8613011111111", "+8613099999999").replace("Senior Engineer", "Staff"),
        "utf-8",
    )
    applied = _as(tenant, "cli_nophone", "apply", "--auto-approve", directory=org)
    assert applied.exit_code == 0, applied.output
    bodies = [w["body"] for w in tenant.writes()]
    assert any(b.get("job_title") == "Staff" for b in bodies)
    assert not any("mobile" in b for b in bodies)
    again = _as(tenant, "cli_nophone", "plan", "--detailed-exitcode", directory=org)
    assert again.exit_code == 0, again.output  # converged: nothing left to change


def test_user_id_type_user_id_without_its_permission_names_it(tenant: Live, org: Path):
    state = tenant.state()
    by_open = {u["open_id"]: u["user_id"] for u in state["users"]}
    for path in (org / "users").glob("*.yaml"):
        text = path.read_text("utf-8")
        for open_id, user_id in by_open.items():
            text = text.replace(open_id, user_id)
        path.write_text(text, "utf-8")
    (org / "reconciler.yaml").write_text(
        (org / "reconciler.yaml").read_text("utf-8").replace("user_id_type: open_id", "user_id_type: user_id"),
        "utf-8",
    )
    result = _as(tenant, "cli_noemployeeid", "plan", directory=org)
    assert result.exit_code == 1
    assert "contact:user.employee_id:readonly" in result.output
    assert "Traceback" not in result.output


def test_a_missing_api_permission_is_named_from_the_answer(tenant: Live, org: Path):
    path = org / "users" / "zhangsan.yaml"
    path.write_text(path.read_text("utf-8").replace("zhangsan@example.com", "san.zhang@example.com"), "utf-8")
    result = _as(tenant, "cli_noid", "plan", directory=org)
    assert result.exit_code == 1
    assert "contact:user.id:readonly" in result.output
    assert "contact:contact (" not in result.output  # no longer the generic, wrong, suggestion


def test_a_user_outside_the_range_is_a_plan_error_not_a_crash(tenant: Live, org: Path):
    write_user(org, "sunli", (org / "users" / "sunli.yaml").read_text("utf-8").replace("Sales", "Sales Lead"))
    result = _as(tenant, "cli_eng", "plan", directory=org)
    assert "outside the app's contact scope" in result.output
    assert "Traceback" not in result.output


def test_an_app_without_read_permission_fails_with_the_permission_named(tenant: Live, org: Path):
    result = _as(tenant, "cli_bare", "plan", directory=org)
    assert result.exit_code == 1
    assert "contact:contact.base:readonly" in result.output


def test_a_department_scoped_app_imports_its_range_and_the_plan_converges(tenant: Live, tmp_path: Path):
    target = tmp_path / "imported"
    imported = _as(tenant, "cli_eng", "import", directory=target)
    assert imported.exit_code == 0, imported.output
    engineering = {u["open_id"] for u in tenant.state()["users"] if ENGINEERING in u["department_ids"]}
    written = {
        (target / "users" / p.name).read_text("utf-8").split("user_id: ")[1].split("\n")[0]
        for p in (target / "users").iterdir()
    }
    assert written == engineering
    assert "Engineering" in (target / "departments.yaml").read_text("utf-8")
    assert "Sales" not in (target / "departments.yaml").read_text("utf-8")
    again = _as(tenant, "cli_eng", "plan", "--detailed-exitcode", directory=target)
    assert again.exit_code == 0, again.output


# -- doctor ----------------------------------------------------------------------------------------


def test_doctor_names_the_departments_and_users_outside_the_range(tenant: Live, org: Path):
    result = _as(tenant, "cli_eng", "doctor", directory=org)
    # cli_eng has every permission but sees only Engineering: the other departments are named
    assert "[ok] credentials" in result.output
    assert "[MISSING] permission" not in result.output
    assert "Sales" in result.output and "outside the app's contact range" in result.output
    assert result.exit_code == 1


def test_doctor_names_each_missing_permission_by_its_documented_name(tenant: Live, org: Path):
    result = _as(tenant, "cli_nophone", "doctor", directory=org)
    assert result.exit_code == 1
    missing = [line for line in result.output.splitlines() if line.startswith("[MISSING] permission")]
    assert len(missing) == 1
    assert "contact:user.phone:readonly (获取用户手机号)" in missing[0] and "mobile (12 users)" in missing[0]


def test_doctor_exits_0_when_all_is_in_place_and_sends_no_write(live: Live, org: Path):
    result = invoke(live, "doctor", "--dir", str(org))
    assert result.exit_code == 0, result.output
    assert "Everything plan and apply need is in place." in result.output
    assert live.writes() == []


def test_doctor_reports_wrong_credentials_with_the_documented_code(tenant: Live, org: Path):
    result = invoke(tenant, "doctor", "--dir", str(org), env={"FEISHU_APP_SECRET": "wrong"})
    assert result.exit_code == 1
    assert "10015" in result.output and "FEISHU_APP_SECRET" in result.output


def test_doctor_marks_what_only_import_needs_as_optional(tenant: Live, org: Path):
    seedless = _as(tenant, "cli_noid", "doctor", directory=org)
    assert "[MISSING] permission: contact:user.id:readonly" in seedless.output
