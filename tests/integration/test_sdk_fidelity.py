"""The official lark-oapi SDK, unchanged, against the emulator: the fidelity test of design §8."""

from __future__ import annotations

import lark_oapi as lark
import pytest
from lark_oapi.api.contact.v3 import (
    BatchGetIdUserRequest,
    BatchGetIdUserRequestBody,
    BatchUserRequest,
    ChildrenDepartmentRequest,
    FindByDepartmentUserRequest,
    GetUserRequest,
    PatchUserRequest,
    UpdateUserRequest,
    User,
    UserOrder,
)
from lark_oapi.core.cache.local_cache import LocalCache

from tests.conftest import Live

ENGINEERING = "od-4e6ac4d14bcd5071a37a39de902c7141"
PRODUCT = "od-8f2d9c5e1a7b4c3d9e0f1a2b3c4d5e6f"


@pytest.fixture
def sdk(live: Live) -> lark.Client:
    # the SDK caches tokens per app id process-wide; each test has a fresh emulator
    return (
        lark.Client.builder()
        .app_id("cli_demo")
        .app_secret("demo-secret")
        .domain(live.url)
        .cache(LocalCache())
        .timeout(5)
        .log_level(lark.LogLevel.ERROR)
        .build()
    )


def test_get_user_parses_with_the_sdk(sdk: lark.Client, seed_user_ids: dict[str, str]):
    resp = sdk.contact.v3.user.get(
        GetUserRequest.builder()
        .user_id(seed_user_ids["zhangsan"])
        .user_id_type("open_id")
        .department_id_type("open_department_id")
        .build()
    )
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data.user.name == "张三"
    assert resp.data.user.status.is_frozen is False
    assert resp.get_log_id()


def test_batch_parses_with_the_sdk(sdk: lark.Client, seed_user_ids: dict[str, str]):
    ids = [seed_user_ids["lisi"], seed_user_ids["bob"]]
    resp = sdk.contact.v3.user.batch(BatchUserRequest.builder().user_ids(ids).user_id_type("open_id").build())
    assert resp.success(), (resp.code, resp.msg)
    assert sorted(u.open_id for u in resp.data.items) == sorted(ids)


def test_find_by_department_pages_with_the_sdk(sdk: lark.Client):
    seen: list[str] = []
    token = None
    while True:
        builder = FindByDepartmentUserRequest.builder().department_id(ENGINEERING).page_size(2)
        if token:
            builder = builder.page_token(token)
        resp = sdk.contact.v3.user.find_by_department(builder.build())
        assert resp.success(), (resp.code, resp.msg)
        seen.extend(u.open_id for u in resp.data.items)
        if not resp.data.has_more:
            break
        token = resp.data.page_token
    assert len(seen) == len(set(seen)) == 3  # lisi, zhangsan, alice; live wangfang is still in Product


def test_children_lists_departments_with_the_sdk(sdk: lark.Client):
    resp = sdk.contact.v3.department.children(
        ChildrenDepartmentRequest.builder().department_id("0").fetch_child(True).page_size(50).build()
    )
    assert resp.success(), (resp.code, resp.msg)
    assert {d.name for d in resp.data.items} == {"Engineering", "Product", "Sales", "People & Culture"}


def test_batch_get_id_finds_users_by_email_with_the_sdk(sdk: lark.Client, seed_user_ids: dict[str, str]):
    body = BatchGetIdUserRequestBody.builder().emails(["bob.smith@example.com", "nobody@example.com"]).build()
    resp = sdk.contact.v3.user.batch_get_id(
        BatchGetIdUserRequest.builder().user_id_type("open_id").request_body(body).build()
    )
    assert resp.success(), (resp.code, resp.msg)
    found = {c.email: c.user_id for c in resp.data.user_list}
    assert found == {"bob.smith@example.com": seed_user_ids["bob"], "nobody@example.com": None}


def test_patch_succeeds_and_changes_only_the_sent_field(sdk: lark.Client, live: Live, seed_user_ids: dict[str, str]):
    uid = seed_user_ids["zhangsan"]
    before = live.user(uid)
    resp = sdk.contact.v3.user.patch(
        PatchUserRequest.builder()
        .user_id(uid)
        .user_id_type("open_id")
        .request_body(User.builder().job_title("Principal Engineer").build())
        .build()
    )
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data.user.job_title == "Principal Engineer"
    after = live.user(uid)
    assert after == {**before, "job_title": "Principal Engineer"}


def test_update_put_replaces_the_user(sdk: lark.Client, live: Live, seed_user_ids: dict[str, str]):
    uid = seed_user_ids["zhangsan"]
    body = User.builder().name("张三").mobile("+8613011111111").department_ids([ENGINEERING]).employee_type(1).build()
    resp = sdk.contact.v3.user.update(
        UpdateUserRequest.builder().user_id(uid).user_id_type("open_id").request_body(body).build()
    )
    assert resp.success(), (resp.code, resp.msg)
    after = live.user(uid)
    assert "job_title" not in after and "email" not in after  # PUT wipes what it does not send


def test_patch_with_orders_but_no_department_ids_answers_44002(
    sdk: lark.Client, live: Live, seed_user_ids: dict[str, str]
):
    order = (
        UserOrder.builder().department_id(ENGINEERING).user_order(1).department_order(1).is_primary_dept(True).build()
    )
    resp = sdk.contact.v3.user.patch(
        PatchUserRequest.builder()
        .user_id(seed_user_ids["zhangsan"])
        .request_body(User.builder().orders([order]).build())
        .build()
    )
    assert not resp.success()
    assert resp.code == 44002
    assert resp.raw.status_code == 400


def test_bad_app_secret_fails_token_with_the_documented_code(live: Live):
    client = (
        lark.Client.builder()
        .app_id("cli_demo")
        .app_secret("wrong")
        .domain(live.url)
        .cache(LocalCache())
        .log_level(lark.LogLevel.CRITICAL)
        .build()
    )
    with pytest.raises(Exception) as info:
        client.contact.v3.user.get(GetUserRequest.builder().user_id("ou_x").build())
    assert "10015" in str(info.value)  # 通用错误码: wrong app secret


@pytest.mark.parametrize(
    "body, code",
    [
        (User.builder().name("").build(), 41040),
        (User.builder().gender(7).build(), 41038),
        (User.builder().mobile("12345").build(), 41004),
        (User.builder().email("lisi@example.com").build(), 41002),
        (User.builder().mobile("+8613800000002").build(), 41001),
        (
            User.builder()
            .department_ids([PRODUCT])
            .orders([UserOrder.builder().department_id(ENGINEERING).build()])
            .build(),
            41025,
        ),
        (User.builder().department_ids([f"od-{i}" for i in range(51)]).build(), 41033),
        (User.builder().employee_type(99).build(), 41059),
        (User.builder().mobile("+41446681801").email("").build(), 44020),
    ],
)
def test_patch_validation_answers_the_documented_codes(
    sdk: lark.Client, seed_user_ids: dict[str, str], body: User, code: int
):
    uid = seed_user_ids["zhangsan"] if code != 44020 else seed_user_ids["sunli"]
    if code == 44020:
        # sunli has an e-mail; clear it in the same request
        body = User.builder().mobile("+41446681801").email("").build()
    resp = sdk.contact.v3.user.patch(PatchUserRequest.builder().user_id(uid).request_body(body).build())
    assert resp.code == code, (resp.code, resp.msg)


def test_leader_set_to_oneself_answers_41030(sdk: lark.Client, seed_user_ids: dict[str, str]):
    uid = seed_user_ids["bob"]
    resp = sdk.contact.v3.user.patch(
        PatchUserRequest.builder().user_id(uid).request_body(User.builder().leader_user_id(uid).build()).build()
    )
    assert resp.code == 41030


def test_freezing_the_founder_answers_44036(sdk: lark.Client, seed_user_ids: dict[str, str]):
    resp = sdk.contact.v3.user.patch(
        PatchUserRequest.builder()
        .user_id(seed_user_ids["zhaolei"])
        .request_body(User.builder().is_frozen(True).build())
        .build()
    )
    assert resp.code == 44036


def _patch(sdk: lark.Client, uid: str, body: dict) -> lark.BaseResponse:
    user = lark.JSON.unmarshal(lark.JSON.marshal(body), User)
    return sdk.contact.v3.user.patch(PatchUserRequest.builder().user_id(uid).request_body(user).build())


def test_the_patch_answer_carries_the_documented_top_level_is_frozen(sdk: lark.Client, seed_user_ids: dict[str, str]):
    resp = _patch(sdk, seed_user_ids["zhangsan"], {"city": "Ningbo"})
    assert resp.success(), (resp.code, resp.msg)
    assert resp.data.user.is_frozen is False and resp.data.user.city == "Ningbo"


@pytest.mark.parametrize(
    ("attr", "code"),
    [
        ({"type": "TEXT", "id": "C-skills", "value": {"url": "http://x"}}, 41046),  # TEXT needs text
        ({"type": "TEXT", "id": "C-skills", "value": {"text": "x" * 101}}, 40001),  # text ≤ 100
        ({"type": "GENERIC_USER", "id": "C-skills", "value": {"text": "x"}}, 41046),  # needs generic_user
        ({"type": "COLOUR", "id": "C-skills", "value": {"text": "x"}}, 40001),  # unknown type
        ({"type": "HREF", "id": "C-skills", "value": {"text": "x"}}, 41048),  # HREF needs url
    ],
)
def test_custom_attrs_are_validated_per_type(sdk: lark.Client, seed_user_ids: dict[str, str], attr: dict, code: int):
    resp = _patch(sdk, seed_user_ids["zhangsan"], {"custom_attrs": [attr]})
    assert resp.code == code, (resp.code, resp.msg)


def test_duplicate_department_ids_are_refused(sdk: lark.Client, seed_user_ids: dict[str, str]):
    resp = _patch(sdk, seed_user_ids["zhangsan"], {"department_ids": [ENGINEERING, ENGINEERING]})
    assert resp.code == 40001


def test_orders_without_a_primary_leave_exactly_one_primary(
    sdk: lark.Client, live: Live, seed_user_ids: dict[str, str]
):
    uid = seed_user_ids["zhangsan"]
    orders = [
        {"department_id": ENGINEERING, "department_order": 1, "is_primary_dept": False},
        {"department_id": PRODUCT, "department_order": 5, "is_primary_dept": False},
    ]
    resp = _patch(sdk, uid, {"department_ids": [ENGINEERING, PRODUCT], "orders": orders})
    assert resp.success(), (resp.code, resp.msg)
    primaries = [o["department_id"] for o in live.user(uid)["orders"] if o["is_primary_dept"]]
    assert primaries == [PRODUCT]  # the largest department_order (用户排序信息: 主部门)


def test_injected_faults_do_not_reach_the_token_endpoint_unless_named(sdk: lark.Client, live: Live, seed_user_ids):
    live.faults(rate=1.0, kinds=["503"], seed=1)
    resp = sdk.contact.v3.user.get(GetUserRequest.builder().user_id(seed_user_ids["zhangsan"]).build())
    assert resp.code == 55001  # the token was issued; the API call got the fault
    token_calls = [r for r in live.requests() if r["path"].endswith("tenant_access_token/internal")]
    assert token_calls and all(r["code"] == 0 for r in token_calls)


def _create(sdk: lark.Client, body: dict, token: str | None = None) -> lark.BaseResponse:
    from lark_oapi.api.contact.v3 import CreateUserRequest

    request = CreateUserRequest.builder().request_body(lark.JSON.unmarshal(lark.JSON.marshal(body), User))
    if token:
        request = request.client_token(token)
    return sdk.contact.v3.user.create(request.build())


NEW_HIRE = {"name": "新人", "mobile": "+8613700000001", "department_ids": [ENGINEERING], "employee_type": 1}


def test_create_makes_an_invited_user_with_the_declared_fields(sdk: lark.Client, live: Live):
    resp = _create(sdk, {**NEW_HIRE, "job_title": "Engineer"})
    assert resp.success(), (resp.code, resp.msg)
    user = live.user(resp.data.user.open_id)
    assert (user["name"], user["job_title"], user["department_ids"]) == ("新人", "Engineer", [ENGINEERING])
    assert user["status"]["is_unjoin"] is True  # 创建用户: invited until they accept
    assert [o["is_primary_dept"] for o in user["orders"]] == [True]


@pytest.mark.parametrize(
    ("drop", "code"), [("name", 41006), ("mobile", 41010), ("department_ids", 41041), ("employee_type", 41059)]
)
def test_create_requires_the_documented_fields(sdk: lark.Client, drop: str, code: int):
    resp = _create(sdk, {k: v for k, v in NEW_HIRE.items() if k != drop})
    assert resp.code == code


def test_create_refuses_a_mobile_someone_has(sdk: lark.Client):
    resp = _create(sdk, {**NEW_HIRE, "mobile": "13011111111"})  # 张三's
    assert resp.code == 41001


def test_the_same_client_token_creates_once(sdk: lark.Client, live: Live):
    first = _create(sdk, NEW_HIRE, token="hire-1")
    again = _create(sdk, NEW_HIRE, token="hire-1")
    assert first.success() and again.success()
    assert first.data.user.open_id == again.data.user.open_id
    assert sum(1 for u in live.state()["users"] if u.get("mobile") == NEW_HIRE["mobile"]) == 1


def test_delete_resigns_the_user_and_records_the_acceptors(sdk: lark.Client, live: Live, seed_user_ids):
    from lark_oapi.api.contact.v3 import DeleteUserRequest, DeleteUserRequestBody

    body = DeleteUserRequestBody.builder().docs_acceptor_user_id(seed_user_ids["lisi"]).build()
    resp = sdk.contact.v3.user.delete(
        DeleteUserRequest.builder().user_id(seed_user_ids["bob"]).request_body(body).build()
    )
    assert resp.success(), (resp.code, resp.msg)
    assert live.user(seed_user_ids["bob"])["status"]["is_resigned"] is True
    assert live.state()["deleted"][seed_user_ids["bob"]] == {"docs_acceptor_user_id": seed_user_ids["lisi"]}
    twice = sdk.contact.v3.user.delete(DeleteUserRequest.builder().user_id(seed_user_ids["bob"]).build())
    assert twice.code == 42006
