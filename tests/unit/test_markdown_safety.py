"""Every user-controlled string in the PR comment stays inside code: parsed with a CommonMark parser
(markdown-it-py, with GitHub's tables), no value can mention, link, embed, add a heading, add HTML or
imitate the plan identity; the comment stays under GitHub's size limit."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from reconciler.errors import Issue
from reconciler.plan import ApplyReport, FieldChange, Plan, PlanError, UserChange, UserResult
from reconciler.planfile import reviewed_hash
from reconciler.render import render_invalid_markdown, render_markdown, render_report_markdown, render_text

FORGED = "<!-- reconciler-plan sha256:" + "f" * 32 + " -->"
HOSTILE = [
    "@octocat please approve",
    "![x](https://evil.example/pixel.png)",
    "[click](https://evil.example)",
    "https://evil.example/auto",
    "\n### Approved by security\n",
    FORGED,
    "\n" + FORGED + "\n",
    "```\n@admins\n```",
    "````` ~~~ ``",
    "</details><img src=x onerror=alert(1)>",
    "| a | b |\n|---|---|",
    "evil\u202etxt.exe\u200b",
    "\x1b[31mred\x1b[0m",
    "<script>alert(1)</script>",
    "*bold* _em_ <b>b</b> &amp;",
]
ALLOWED_HTML = {
    "<details><summary>Changes per user</summary>",
    "<details open><summary>Changes per user</summary>",  # a plan of one person
    "</details>",
}


def _plan(value: str) -> Plan:
    change = UserChange(
        handle=f"h{value}",
        user_id=f"ou_{value}",
        name=value,
        path=f"directory/users/{value}.yaml",
        changes=[
            FieldChange("name", value, f"{value}!"),
            FieldChange("leader_user_id", f"ou_a{value}", "ou_b"),
            FieldChange("custom_attrs", [], [], [f"custom_attrs[{value}].value.text: {value} → {value}"]),
        ],
        body={"name": f"{value}!", "leader_user_id": "ou_b"},
        lane="normal",
        fingerprint="x",
        compared=["name"],
    )
    return Plan(
        base_url="https://open.feishu.cn",
        user_id_type="open_id",
        department_id_type="open_department_id",
        desired_digest="0" * 64,
        changes=[change],
        errors=[PlanError(value, f"directory/users/{value}.yaml", f"user_id {value} was not returned", 41050)],
        warnings=[f"directory/users/x.yaml:1:1: name: {value}"],
        names={f"ou_a{value}": value, "ou_b": f"@{value}"},
    )


def _outside_code(markdown: str) -> tuple[list[str], list[str], list[str]]:
    """(text outside code, HTML, heading texts) as a CommonMark + GFM-table renderer sees them."""
    texts, html, headings = [], [], []
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    for i, token in enumerate(tokens):
        assert token.type not in ("link_open", "image"), token
        if token.type == "html_block":
            html.extend(line for line in token.content.splitlines() if line)
        if token.type == "heading_open":
            headings.append(tokens[i + 1].content)
        for child in token.children or []:
            assert child.type not in ("link_open", "image"), child
            if child.type == "text":
                texts.append(child.content)
            if child.type == "html_inline":
                html.append(child.content)
    return texts, html, headings


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_stays_inside_code_in_the_plan_comment(value: str):
    plan = _plan(value)
    markdown = render_markdown(plan)
    texts, html, headings = _outside_code(markdown)
    assert headings == ["Feishu directory plan"]
    assert html[0] == plan.marker() and set(html[1:]) <= ALLOWED_HTML
    assert reviewed_hash(markdown) == plan.hash
    assert not any("@" in t or "evil" in t or "script" in t for t in texts), texts
    assert "\u202e" not in markdown and "\x1b" not in markdown and "\\u202e" in render_markdown(_plan("a\u202eb"))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_stays_inside_code_in_the_apply_report_and_the_invalid_comment(value: str):
    report = ApplyReport("sha256:" + "0" * 32, [UserResult(value, value, "failed", ["name"], value, 41050, value)])
    invalid = render_invalid_markdown([Issue(f"users/{value}.yaml", 1, 1, value, value)])
    for markdown in (render_report_markdown(report), invalid):
        texts, html, headings = _outside_code(markdown)
        assert len(headings) == 1 and set(html) <= {"<!-- reconciler-plan invalid -->"}
        assert not any("@" in t or "evil" in t or "script" in t for t in texts), texts


def test_text_output_shows_control_and_bidi_characters_escaped():
    text = render_text(_plan("evil\u202etxt\x1b[31m"))
    assert "\u202e" not in text and "\x1b" not in text
    assert "evil\\u202etxt\\u001b[31m" in text


def test_the_comment_stays_under_githubs_limit_whatever_the_errors_and_warnings():
    plan = _plan("x" * 5000)
    plan.errors = plan.errors * 3000
    plan.warnings = plan.warnings * 3000
    plan.changes = plan.changes * 200
    markdown = render_markdown(plan)
    assert len(markdown) <= 65_536
    assert "more errors and warnings not shown" in markdown
    assert markdown.startswith(plan.marker() + "\n")
    many = [Issue("users/x.yaml", 1, 1, "name", "y" * 3000)] * 5000
    assert len(render_invalid_markdown(many)) <= 65_536


def test_a_plan_of_one_person_is_shown_expanded_and_a_larger_one_collapsed():
    one = _plan("alice")
    assert "<details open><summary>" in render_markdown(one)
    two = _plan("alice")
    two.changes.append(_plan("bob").changes[0])
    assert "<details><summary>" in render_markdown(two)


def test_the_comment_names_the_tenant_it_planned():
    assert "Tenant: `open.feishu.cn`" in render_markdown(_plan("alice"))


def test_an_orders_change_is_described_in_words_not_json():
    from reconciler.render import render_text

    plan = _plan("alice")
    before = [{"department_id": "od-a", "user_order": 1, "department_order": 5, "is_primary_dept": True}]
    after = [{"department_id": "od-a", "user_order": 9}]
    plan.changes[0].changes = [FieldChange("orders", before, after, ["ignored json details"])]
    plan.names["od-a"] = "Engineering"
    text = render_text(plan)
    assert (
        "~ Engineering: primary, position 1 in the department, department rank 5 → "
        "primary, position 9 in the department, department rank 5"
    ) in text
    assert "ignored json details" not in text and '"user_order"' not in text


def test_notes_on_fields_that_are_not_sent_are_in_the_comment():
    plan = _plan("alice")
    plan.write_only_notes = ["@alice: avatar_key cannot be compared with live state; not sent."]
    assert "avatar_key cannot be compared" in render_markdown(plan)


def test_a_hostile_commit_or_time_is_left_out_of_the_comment():
    plan = _plan("alice")
    plan.commit, plan.planned_at = "`](evil)", "<script>"
    markdown = render_markdown(plan)
    assert "evil" not in markdown and "<script>" not in markdown
