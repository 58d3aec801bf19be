"""diff_user: the inline equality fast path never hides a change diff_field would report."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.diff import diff_field, diff_user
from reconciler.fields import BY_NAME, FIELD_ORDER

ORDER = {"department_id": "od-1", "user_order": 0, "department_order": 0, "is_primary_dept": True}


def _fields(changes: list[Any]) -> list[str]:
    return [c.field for c in changes]


def test_changes_come_in_field_table_order_whatever_the_yaml_order():
    desired = {"job_title": "CTO", "name": "Zhang San", "city": "Beijing"}
    live = {"job_title": "Engineer", "name": "Zhang", "city": "Hangzhou"}
    assert _fields(diff_user(desired, live)) == sorted(desired, key=FIELD_ORDER.__getitem__)


def test_orders_equal_to_live_with_extra_live_sub_keys_are_no_change():
    live = {"orders": [{**ORDER, "is_unit_leader": False}]}
    assert diff_user({"orders": [ORDER]}, live) == []


def test_an_order_without_its_department_id_is_not_taken_for_the_live_one():
    partial = {k: v for k, v in ORDER.items() if k != "department_id"}
    assert _fields(diff_user({"orders": [partial]}, {"orders": [ORDER]})) == ["orders"]


def test_orders_in_another_order_are_compared_by_department():
    other = {**ORDER, "department_id": "od-2", "is_primary_dept": False}
    assert diff_user({"orders": [other, ORDER]}, {"orders": [ORDER, other]}) == []


def test_a_missing_live_sub_key_at_its_api_default_is_no_change():
    live = {"orders": [{k: v for k, v in ORDER.items() if k != "user_order"}]}
    assert diff_user({"orders": [ORDER]}, live) == []


def test_is_frozen_is_read_from_status():
    assert diff_user({"is_frozen": False}, {"status": {"is_frozen": False}}) == []
    assert _fields(diff_user({"is_frozen": True}, {"status": {"is_frozen": False}})) == ["is_frozen"]


def test_write_only_fields_are_never_diffed():
    assert diff_user({"avatar_key": "k", "subscription_ids": ["s"]}, {}) == []


small = st.one_of(st.none(), st.booleans(), st.integers(0, 2), st.sampled_from(["", "a", "A", "+8613900000000"]))
record = st.dictionaries(
    st.sampled_from(["department_id", "id", "user_order", "is_primary_dept", "x"]), small, max_size=4
)
BY_KIND = {
    "scalar": small,
    "id_set": st.lists(st.sampled_from(["od-1", "od-2", "od-3"]), max_size=3),
    "records": st.lists(record, max_size=3),
}
NAMES = ["name", "email", "mobile", "department_ids", "orders", "custom_attrs", "is_frozen", "gender"]


@st.composite
def user(draw: Any) -> dict[str, Any]:
    """Declared or live values, each of its field's kind (validation has checked the types)."""
    chosen = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=6))
    return {n: draw(BY_KIND[BY_NAME[n].kind.value]) for n in chosen}


@settings(max_examples=400, deadline=None)
@given(user(), user(), st.booleans())
def test_the_fast_path_reports_exactly_what_diff_field_reports(
    desired: dict[str, Any], live: dict[str, Any], frozen: bool
):
    live = {**live, "status": {"is_frozen": frozen}}
    expected = [n for n in desired if BY_NAME[n].readable and diff_field(n, desired[n], live) is not None]
    assert sorted(_fields(diff_user(desired, live))) == sorted(expected)
