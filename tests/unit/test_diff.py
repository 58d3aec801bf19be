"""diff_user: which declared fields differ from live, compared as the API means them."""

from __future__ import annotations

from typing import Any

from reconciler.diff import diff_user
from reconciler.fields import FIELD_ORDER

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
