"""Personal data in plans is masked but reviewable (issue: the reviewer's view)."""

from __future__ import annotations

import pytest

from reconciler.render import MASK, mask


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("mobile", "13011111111", "+86 •••••••1111"),  # a mainland number without its prefix
        ("mobile", "+8613099998888", "+86 •••••••8888"),
        ("mobile", "+14155550123", "+1 ••••••0123"),
        ("mobile", "+41446681800", "+41 •••••1800"),
        ("mobile", "+971501234567", "+971 •••••4567"),
        ("email", "san.zhang@example.com", "s•••@example.com"),
        ("enterprise_email", "Z@corp.cn", "Z•••@corp.cn"),
    ],
)
def test_a_value_keeps_only_what_a_reviewer_needs(field: str, value: str, shown: str):
    assert mask(field, value) == shown


@pytest.mark.parametrize(
    ("field", "value"), [("mobile", "12345"), ("mobile", "+86abc"), ("email", "no-at-sign"), ("email", 7)]
)
def test_a_value_that_is_not_a_mobile_or_address_is_masked_whole(field: str, value: object):
    assert mask(field, value) == MASK


def test_an_empty_value_stays_empty():
    assert mask("email", "") == "" and mask("mobile", None) is None
