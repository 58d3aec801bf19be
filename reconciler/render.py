"""Plan → text, Markdown, JSON. Text and Markdown are built from the JSON renderer's dict, so the
three never disagree. Personal data is masked unless show_sensitive."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .apply import ApplyReport
from .fields import BY_NAME, SENSITIVE, Kind
from .plan import Action, Plan

MASK = "(sensitive)"
MARKDOWN_LIMIT = 65_000
ID_FIELDS = {f.name for f in BY_NAME.values() if f.ref is not None}


def plan_data(plan: Plan, *, show_sensitive: bool = False) -> dict[str, Any]:
    """The JSON document (format_version 1) every renderer starts from."""
    data = plan.to_dict()  # a fresh copy: masking it leaves the plan intact
    data["sensitive_values"] = "shown" if show_sensitive else "masked"
    if not show_sensitive:
        for change in data["changes"]:
            for fc in change["changes"]:
                if fc["field"] in SENSITIVE:
                    fc["before"] = MASK if fc["before"] else fc["before"]
                    fc["after"] = MASK if fc["after"] else fc["after"]
                    fc["details"] = []
            for name in list(change["body"]):
                if name in SENSITIVE:
                    change["body"][name] = MASK
    return data


def _short(value: str) -> str:
    return value if len(value) <= 14 else value[:12] + "…"


def _fmt(field: str, value: Any, names: dict[str, str]) -> str:
    if value == MASK:
        return MASK
    if field in ID_FIELDS and field != "orders":

        def one(v: Any) -> str:
            name = names.get(str(v))
            return f"{name} ({_short(str(v))})" if name else str(v)

        if isinstance(value, list):
            return "[" + ", ".join(one(v) for v in value) + "]"
        return one(value) if value else '""'
    return json.dumps(value, ensure_ascii=False)


def _annotate(line: str, names: dict[str, str]) -> str:
    """`orders[od-4e6a…].user_order` → `orders[Engineering].user_order`: name the record's key only."""
    head, sep, rest = line.partition("]")
    field, bracket, key = head.partition("[")
    if bracket and key in names:
        return f"{field}[{names[key]}{sep}{rest}"
    return line


def _user_lines(change: dict[str, Any], names: dict[str, str]) -> list[str]:
    lane = "  [1 QPS lane]" if change["lane"] == "1qps" else ""
    out = [
        f"  {Action.UPDATE.value} @{change['handle']}  {change['name']}  {change['user_id']}  ({change['path']}){lane}"
    ]
    for fc in change["changes"]:
        if BY_NAME[fc["field"]].kind is Kind.RECORDS:
            out.append(f"      ~ {fc['field']}:")
            out.extend(f"          {_annotate(d, names)}" for d in fc["details"])
        else:
            out.append(
                f"      ~ {fc['field']}: {_fmt(fc['field'], fc['before'], names)} → "
                f"{_fmt(fc['field'], fc['after'], names)}"
            )
    for name, why in _also_sent(change):
        out.append(f"      = {name}: {_fmt(name, change['body'][name], names)}  ({why})")
    return out


def _also_sent(change: dict[str, Any]) -> list[tuple[str, str]]:
    """Body fields that are not changes: department_ids riding along with orders, write-only fields."""
    extra = sorted(set(change["body"]) - {fc["field"] for fc in change["changes"]})
    return [
        (
            n,
            "write-only: cannot be compared, sent as asked"
            if n in change["write_only"]
            else "sent with orders: error 44002",
        )
        for n in extra
    ]


def _diff_lines(change: dict[str, Any], names: dict[str, str]) -> list[str]:
    """One user as a GitHub `diff` block: live in red (-), git in green (+)."""
    lane = " · 1-QPS lane" if change["lane"] == "1qps" else ""
    out = [f"@@ @{change['handle']} {change['name']} ({change['user_id']}) · {change['path']}{lane} @@"]
    for fc in change["changes"]:
        if BY_NAME[fc["field"]].kind is Kind.RECORDS:
            for detail in fc["details"]:
                where, _, values = _annotate(detail, names).partition(": ")
                before, _, after = values.partition(" → ")
                if before != "(none)":
                    out.append(f"- {where}: {before}")
                if after != "(removed)":
                    out.append(f"+ {where}: {after}")
        else:
            out.append(f"- {fc['field']}: {_fmt(fc['field'], fc['before'], names)}")
            out.append(f"+ {fc['field']}: {_fmt(fc['field'], fc['after'], names)}")
    for name, why in _also_sent(change):
        out.append(f"  {name}: {_fmt(name, change['body'][name], names)}  ({why})")
    return out


def render_text(plan: Plan, *, show_sensitive: bool = False, show_unmanaged: bool = False) -> str:
    data = plan_data(plan, show_sensitive=show_sensitive)
    names = data["names"]
    lines: list[str] = []
    if data["changes"]:
        lines.append(f"Reconciler will update these users in {data['base_url']} (user_id_type {data['user_id_type']}):")
        lines.append("")
        for change in data["changes"]:
            lines.extend(_user_lines(change, names))
            lines.append("")
    else:
        lines.append("No changes. The live directory matches directory/.")
        lines.append("")
    for note in data["write_only_notes"]:
        lines.append(f"note: {note}")
    for warning in data["warnings"]:
        lines.append(f"warning: {warning}")
    if data["unmanaged"]:
        lines.append(f"{len(data['unmanaged'])} live users in the managed departments have no file (never touched).")
        if show_unmanaged:
            lines.extend(f"  ? {u.get('name', '')} {u.get('user_id', '')}" for u in data["unmanaged"])
    for err in data["errors"]:
        lines.append(f"error: {err['path']}: {err['message']}")
    if data["write_only_notes"] or data["warnings"] or data["unmanaged"] or data["errors"]:
        lines.append("")
    lines.append(plan.summary_line())
    lines.append(f"Plan hash: {data['plan_hash']}")
    return "\n".join(lines) + "\n"


def render_json(plan: Plan, *, show_sensitive: bool = False, show_unmanaged: bool = False) -> str:
    return json.dumps(plan_data(plan, show_sensitive=show_sensitive), ensure_ascii=False, indent=2) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(
    plan: Plan, *, show_sensitive: bool = False, show_unmanaged: bool = False, limit: int = MARKDOWN_LIMIT
) -> str:
    data = plan_data(plan, show_sensitive=show_sensitive)
    s = data["summary"]
    slow = sum(1 for c in data["changes"] if c["lane"] == "1qps")
    head = [
        "### Feishu directory plan",
        "",
        f"**{plan.summary_line()}**",
        "",
        "| to change | fields | unchanged | 1-QPS lane | unmanaged | errors |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {s['to_change']} | {s['fields']} | {s['unchanged']} | {slow} | {s['unmanaged']} | {s['errors']} |",
        "",
        f"Plan hash: `{data['plan_hash']}` · desired state: `{data['desired_digest'][:32]}`",
        "",
    ]
    for err in data["errors"]:
        head.append(f"- :x: `{_md_escape(err['path'])}`: {_md_escape(err['message'])}")
    for warning in data["warnings"]:
        head.append(f"- :warning: {_md_escape(warning)}")
    if data["errors"] or data["warnings"]:
        head.append("")
    tail = ["</details>", ""]
    body: list[str] = []
    if data["changes"]:
        body = ["<details><summary>Changes per user</summary>", ""]
    budget = limit - len("\n".join(head + tail)) - 200
    shown = 0
    for change in data["changes"]:
        block = ["```diff", *(_diff_lines(change, data["names"])), "```", ""]
        size = len("\n".join(block)) + 1
        if size > budget:
            break
        body.extend(block)
        budget -= size
        shown += 1
    cut = len(data["changes"]) - shown
    if cut:
        body.append(
            f"_{cut} more users not shown: the comment is limited to {limit:,} characters; "
            "see the saved plan artifact or `reconciler plan` for all of them._"
        )
        body.append("")
    return "\n".join(head + body + (tail if data["changes"] else [])) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {"text": render_text, "markdown": render_markdown, "json": render_json}


def render_report_text(report: ApplyReport) -> str:
    lines = []
    for r in report.results:
        mark = {"applied": "✓", "failed": "✗", "stale": "!", "skipped": "-"}[r.status]
        extra = f": {r.message}" if r.message else ""
        logid = f" (log id {r.log_id})" if r.log_id else ""
        lines.append(f"  {mark} @{r.handle} {r.status}{extra}{logid}")
    lines.append("")
    lines.append(report.summary_line())
    return "\n".join(lines) + "\n"


def render_report_markdown(report: ApplyReport) -> str:
    lines = [
        "### Feishu directory apply",
        "",
        f"**{report.summary_line()}**",
        "",
        "| user | result | detail |",
        "|---|---|---|",
    ]
    for r in report.results:
        detail = r.message + (f" (log id `{r.log_id}`)" if r.log_id else "")
        lines.append(f"| `@{r.handle}` | {r.status} | {_md_escape(detail)} |")
    return "\n".join(lines) + "\n"


def render_report_json(report: ApplyReport) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"


REPORT_RENDERERS: dict[str, Callable[[ApplyReport], str]] = {
    "text": render_report_text,
    "markdown": render_report_markdown,
    "json": render_report_json,
}
