"""Every error code the two doc pages list has an English explanation and fix."""

from __future__ import annotations

import re

from reconciler import schemagen
from reconciler.codes import CODES, explain


def _page_codes(path):
    text = path.read_text("utf-8")
    table = text[text.index("错误码") :]
    return {int(m) for m in re.findall(r"^\|?\s*\d{3}\s*\|\s*(\d{5,})\s*\|", table, re.M)}


def test_every_code_of_both_pages_is_explained():
    codes = _page_codes(schemagen.PATCH_PAGE) | _page_codes(schemagen.PUT_PAGE)
    assert len(codes) > 80
    assert sorted(codes - set(CODES)) == []


def test_explain_gives_meaning_and_fix():
    assert explain(44002) == "orders sent without department_ids; send department_ids together with orders"
    assert "generic" in explain(1)


def test_the_retryable_codes_and_the_non_400_statuses_are_documented_codes():
    from reconciler.codes import CODES, HTTP_STATUS, RETRYABLE

    assert RETRYABLE <= CODES.keys() and HTTP_STATUS.keys() <= CODES.keys()
