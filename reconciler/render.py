"""Plan → text, Markdown, JSON. Text and Markdown are built from the JSON renderer's dict, so the
three never disagree. Personal data is masked unless show_sensitive."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .fields import BY_NAME, SENSITIVE, Kind, normalise_mobile
from .hidden import escaped
from .orgchart import NO_DEPARTMENT, department_rows, diagram, primary
from .permissions import field_permission
from .plan import Action, ApplyReport, Plan

MASK = "(sensitive)"
MARKDOWN_LIMIT = 65_000  # GitHub refuses comments over 65,536 characters
PACED = "sent at 1/s, Feishu's limit for moves and freezes"
TABLE_FROM = 20  # changes from which the comment opens with a per-department table
LINE_LIMIT = 1_000  # one rendered line at most: a huge value cannot crowd out the rest


def visible(text: str) -> str:
    """A line as shown to people: hidden characters (reconciler/hidden.py) as \\uXXXX escapes, a line
    break as \\n (a terminal escape, a bidi override or a line break inside a value cannot disguise
    what is shown), long lines cut."""
    text = escaped(text.replace("\n", "\\n"))
    return text if len(text) <= LINE_LIMIT else text[: LINE_LIMIT - 1] + "…"


def _fence(lines: list[str], info: str = "") -> list[str]:
    """The lines, made visible, in a fenced code block whose fence none of them can close: longer
    than any run of backticks inside."""
    lines = [visible(line) for line in lines]
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *lines, fence]


ID_FIELDS = {f.name for f in BY_NAME.values() if f.ref is not None}


def plan_data(plan: Plan, *, show_sensitive: bool = False) -> dict[str, Any]:
    """The JSON document (format_version 1) every renderer starts from."""
    data = plan.to_dict()  # a fresh copy: masking it leaves the plan intact
    data["sensitive_values"] = "shown" if show_sensitive else "masked"
    if not show_sensitive:
        for change in data["changes"]:
            for fc in change["changes"]:
                if fc["field"] in SENSITIVE:
                    fc["before"] = mask(fc["field"], fc["before"])
                    fc["after"] = mask(fc["field"], fc["after"])
                    fc["details"] = []
            for name in list(change["body"]):
                if name in SENSITIVE:
                    change["body"][name] = mask(name, change["body"][name])
    return data


# calling codes of one and two digits (ITU E.164); every other code has three
_CC1 = {"1", "7"}
_CC2 = set(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 "
    "86 90 91 92 93 94 95 98".split()
)


def mask(field: str, value: Any) -> Any:
    """Personal data, reviewable but not readable: a mobile keeps its country code and last 4 digits,
    an e-mail its first letter and its domain; anything else is MASK."""
    if not value:
        return value
    if not isinstance(value, str):
        return MASK
    if field == "mobile":
        digits = normalise_mobile(value)
        if isinstance(digits, str) and digits.startswith("+") and digits[1:].isdigit() and len(digits) > 8:
            body = digits[1:]
            cc = body[:1] if body[:1] in _CC1 else body[:2] if body[:2] in _CC2 else body[:3]
            return f"+{cc} {'•' * (len(body) - len(cc) - 4)}{body[-4:]}"
        return MASK
    local, at, domain = value.partition("@")
    if at and local and domain:
        return f"{local[0]}•••@{domain}"
    return MASK


def unseen_notes(data: dict[str, Any]) -> list[str]:
    """One line per declared field the app could not read: who, which permission, and that it is not sent."""
    lines = []
    for name, handles in data.get("unseen", {}).items():
        who = ", ".join("@" + h for h in handles[:5]) + (f" and {len(handles) - 5} more" if len(handles) > 5 else "")
        need = field_permission(name)
        lines.append(
            f"{name} could not be compared for {who}: the live record leaves it out, so the app may not read it"
            + (f" (needs {need})" if need else "")
            + "; not sent, since apply could not confirm it. Grant the permission to manage this field."
        )
    return lines


def _short(value: str) -> str:
    return value if len(value) <= 14 else value[:12] + "…"


def _fmt(field: str, value: Any, names: dict[str, str]) -> str:
    if value == MASK:
        return MASK
    if field in ID_FIELDS and field != "orders":

        def one(v: Any) -> str:  # a name where one is known; the raw id only where nothing names it
            return names.get(str(v)) or str(v)

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
    lane = f"  [{PACED}]" if change["lane"] == "1qps" else ""
    created = change["action"] == Action.CREATE.value
    out = [
        f"  {Action(change['action']).mark} @{change['handle']}  {change['name']}  {change['user_id'] or '(new)'}"
        f"  ({change['path']}){lane}"
    ]
    if change["action"] == Action.OFFBOARD.value:
        out.append(f"      - {_offboarding(change)}")
    move = _move(change, names)
    if move:
        out.append(f"      → {move}")
    for fc in change["changes"]:
        if created:
            out.append(f"      + {fc['field']}: {_fmt(fc['field'], fc['after'], names)}")
            continue
        if fc["field"] == "orders" and fc["before"] != MASK:
            out.append("      ~ orders (where they sit in each department):")
            out.extend(f"          {sign} {text}" for sign, text in _orders_lines(fc, names))
        elif BY_NAME[fc["field"]].kind is Kind.RECORDS:
            out.append(f"      ~ {fc['field']}:")
            out.extend(f"          {_annotate(d, names)}" for d in fc["details"])
        else:
            out.append(
                f"      ~ {fc['field']}: {_fmt(fc['field'], fc['before'], names)} → "
                f"{_fmt(fc['field'], fc['after'], names)}"
            )
    for name, why in _also_sent(change):
        out.append(f"      = {name}: {_fmt(_as_field(name), change['body'][name], names)}  ({why})")
    return out


def _also_sent(change: dict[str, Any]) -> list[tuple[str, str]]:
    """Body fields that are not changes: department_ids riding along with orders, write-only fields,
    the acceptors of a deletion."""
    extra = sorted(set(change["body"]) - {fc["field"] for fc in change["changes"]})
    return [
        (
            n,
            "write-only: cannot be compared, sent as asked"
            if n in change["write_only"]
            else "receives the leaver's resources (删除用户)"
            if n.endswith("_acceptor_user_id")
            else "sent with orders: error 44002",
        )
        for n in extra
    ]


def _order_words(order: dict[str, Any]) -> str:
    primary = "primary" if order.get("is_primary_dept") else "not primary"
    return (
        f"{primary}, position {order.get('user_order', 0)} in the department, "
        f"department rank {order.get('department_order', 0)}"
    )


def _orders_lines(fc: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    """An `orders` change in words, per department: (sign, text); sign is -, + or ~."""
    before = {o.get("department_id"): o for o in fc["before"] or [] if isinstance(o, dict)}
    after = {o.get("department_id"): o for o in fc["after"] or [] if isinstance(o, dict)}
    out: list[tuple[str, str]] = []
    for dept in [*before, *(d for d in after if d not in before)]:
        name = names.get(str(dept)) or str(dept)
        if dept not in after:
            out.append(("-", f"{name}: {_order_words(before[dept])} (order removed)"))
        elif dept not in before:
            out.append(("+", f"{name}: {_order_words(after[dept])}"))
        else:
            merged = {**before[dept], **after[dept]}
            if merged != before[dept]:
                out.append(("~", f"{name}: {_order_words(before[dept])} → {_order_words(merged)}"))
    return out


def _move(change: dict[str, Any], names: dict[str, str]) -> str:
    """ "moves: Product (@product) → Engineering (@engineering) (primary)" when the primary department changes."""
    placement = change.get("placement") or {}
    old, new = primary(placement.get("before")), primary(placement.get("after"))
    if old == NO_DEPARTMENT or new == NO_DEPARTMENT or old == new:
        return ""
    return f"moves: {names.get(old) or old} → {names.get(new) or new} (primary department)"


def _as_field(name: str) -> str:
    """An acceptor is a person: shown like a leader (name and id)."""
    return "leader_user_id" if name.endswith("_acceptor_user_id") else name


def _offboarding(change: dict[str, Any]) -> str:
    if "is_frozen" in change["body"]:
        return "file removed: the person is frozen (reversible: restore the file and set is_frozen: false)"
    return (
        "file removed: the person is deleted (删除用户; their resources go to the acceptors below, "
        "else to their leader)"
    )


def _diff_lines(change: dict[str, Any], names: dict[str, str]) -> list[str]:
    """One user as a GitHub `diff` block: live in red (-), git in green (+)."""
    lane = f" · {PACED}" if change["lane"] == "1qps" else ""
    created = change["action"] == Action.CREATE.value
    who = "new hire: created" if created else change["user_id"]
    out = [f"@@ @{change['handle']} {change['name']} ({who}) · {change['path']}{lane} @@"]
    if change["action"] == Action.OFFBOARD.value:
        out.append(f"- {_offboarding(change)}")
    move = _move(change, names)
    if move:
        out.append(f"  {move}")
    for fc in change["changes"]:
        if created:
            out.append(f"+ {fc['field']}: {_fmt(fc['field'], fc['after'], names)}")
        elif fc["field"] == "orders":
            for sign, text in _orders_lines(fc, names):
                if sign == "~":
                    before, _, after = text.partition(" → ")
                    out.extend([f"- orders: {before}", f"+ orders: {before.split(': ', 1)[0]}: {after}"])
                else:
                    out.append(f"{sign} orders: {text}")
        elif BY_NAME[fc["field"]].kind is Kind.RECORDS:
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
        out.append(f"  {name}: {_fmt(_as_field(name), change['body'][name], names)}  ({why})")
    return out


def render_text(plan: Plan, *, show_sensitive: bool = False, show_unmanaged: bool = False) -> str:
    data = plan_data(plan, show_sensitive=show_sensitive)
    names = data["names"]
    lines: list[str] = []
    if data["changes"]:
        lines.append(f"Reconciler will make these changes in {data['base_url']} (user_id_type {data['user_id_type']}):")
        lines.append("")
        for change in data["changes"]:
            lines.extend(_user_lines(change, names))
            lines.append("")
    else:
        lines.append("No changes. The live directory matches directory/.")
        lines.append("")
    unseen = unseen_notes(data)
    for note in data["write_only_notes"] + unseen:
        lines.append(f"note: {note}")
    for warning in data["warnings"]:
        lines.append(f"warning: {warning}")
    if data["unmanaged"]:
        lines.append(f"{len(data['unmanaged'])} live users in the managed departments have no file (never touched).")
        if show_unmanaged:
            lines.extend(f"  ? {u.get('name', '')} {u.get('user_id', '')}" for u in data["unmanaged"])
    for err in data["errors"]:
        lines.append(f"error: {err['path']}: {err['message']}")
    if data["write_only_notes"] or unseen or data["warnings"] or data["unmanaged"] or data["errors"]:
        lines.append("")
    lines.append(plan.summary_line())
    lines.append(f"Plan hash: {data['plan_hash']}")
    return "\n".join(visible(line) for line in lines) + "\n"


def render_json(plan: Plan, *, show_sensitive: bool = False, show_unmanaged: bool = False) -> str:
    return json.dumps(plan_data(plan, show_sensitive=show_sensitive), ensure_ascii=False, indent=2) + "\n"


def render_markdown(
    plan: Plan, *, show_sensitive: bool = False, show_unmanaged: bool = False, limit: int = MARKDOWN_LIMIT
) -> str:
    """The PR comment. Its first line is the plan identity (Plan.marker), and every user-controlled
    string (names, paths, ids, messages) is inside a code fence it cannot close, so no value can
    mention, link, embed, add a heading or imitate the identity."""
    data = plan_data(plan, show_sensitive=show_sensitive)
    s = data["summary"]
    slow = sum(1 for c in data["changes"] if c["lane"] == "1qps")
    head = [
        plan.marker(),
        "### Feishu directory plan",
        "",
        f"**{plan.summary_line()}**",
        "",
        "| to create | to change | to offboard | fields | unchanged | moves & freezes (1/s) | unmanaged | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['to_create']} | {s['to_change']} | {s['to_offboard']} | {s['fields']} | {s['unchanged']} | {slow} "
        f"| {s['unmanaged']} | {s['errors']} |",
        "",
        f"Tenant: `{_host(data['base_url'])}`{_provenance(data)} · plan hash: `{data['plan_hash']}` · "
        f"desired state: `{data['desired_digest'][:32]}`",
        "",
    ]
    notes = [f"error: {e['path']}: {e['message']}" for e in data["errors"]]
    notes += [f"warning: {w}" for w in data["warnings"]]
    notes += [f"note: {n}" for n in unseen_notes(data)]
    notes += [f"note: {n}" for n in data["write_only_notes"]]  # fields that are not sent, said in the comment too
    tail = ["</details>", ""]
    if notes:
        kept = _within(notes, (limit - len("\n".join(head + tail)) - 400) // 2, "errors and warnings")
        head.extend([*_fence(kept, "text"), ""])
    if len(data["changes"]) >= TABLE_FROM:  # a large plan: where it lands, before who
        head.extend([*_department_table(data), ""])
    picture = diagram(data)
    if picture:
        head.extend(
            [
                "**Who joins, leaves or moves** (solid: after the change; dashed: before)",
                "",
                *_fence(picture, "mermaid"),
                "",
            ]
        )
    budget = limit - len("\n".join(head + tail)) - 400  # what the per-user changes may take
    body: list[str] = []
    if data["changes"]:
        # a plan of one person is read whole: shown expanded
        opened = " open" if len(data["changes"]) == 1 else ""
        body = [f"<details{opened}><summary>Changes per user</summary>", ""]
    shown = 0
    for change in data["changes"]:
        block = [*_fence(_diff_lines(change, data["names"]), "diff"), ""]
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
            "run `reconciler plan` (or `reconciler show` on a saved plan) for all of them._"
        )
        body.append("")
    return "\n".join(head + body + (tail if data["changes"] else [])) + "\n"


def _department_table(data: dict[str, Any]) -> list[str]:
    """The per-department summary of a large plan; department names are inline code, so no name
    can format, link or mention."""
    lines = [
        "| department | joining | leaving | moving in | moving out | other changes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, *counts in department_rows(data):
        lines.append(f"| {_inline(name)} | " + " | ".join(str(c) for c in counts) + " |")
    return lines


def _inline(text: str) -> str:
    """A value as inline code in a table cell: visible, no backticks or pipes to end it early."""
    return "`" + visible(text)[:80].replace("`", "'").replace("|", "¦") + "`"


def _provenance(data: dict[str, Any]) -> str:
    """` · commit `abc1234` · planned 2026-11-30 18:00 UTC`, for what the plan knows of both."""
    out = ""
    commit = str(data.get("commit") or "")
    if commit and all(c in "0123456789abcdef" for c in commit):
        out += f" · commit `{commit[:12]}`"
    if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", str(data.get("planned_at") or "")):
        out += f" · planned {data['planned_at']}"
    return out


def _host(url: str) -> str:
    """The tenant's host, as shown in the comment: letters, digits, dots, dashes and a port only."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return host if all(c.isalnum() or c in ".-:[]" for c in host) else "(unprintable host)"


def _within(lines: list[str], budget: int, what: str) -> list[str]:
    """As many lines as fit in `budget` characters, and a line saying how many more there are."""
    kept: list[str] = []
    used = 0
    for line in lines:
        size = min(len(line), LINE_LIMIT) + 1
        if used + size > budget:
            kept.append(f"... {len(lines) - len(kept)} more {what} not shown (the comment has a size limit)")
            break
        kept.append(line)
        used += size
    return kept


RENDERERS: dict[str, Callable[..., str]] = {"text": render_text, "markdown": render_markdown, "json": render_json}


def _report_lines(report: ApplyReport) -> list[str]:
    """One line per user: mark, handle, status, message, log id."""
    lines = []
    for r in report.results:
        mark = {"applied": "✓", "applied-unverified": "?", "failed": "✗", "stale": "!", "skipped": "-"}[r.status]
        extra = f": {r.message}" if r.message else ""
        logid = f" (log id {r.log_id})" if r.log_id else ""
        lines.append(f"  {mark} @{r.handle} {r.status}{extra}{logid}")
    return lines


def render_report_text(report: ApplyReport) -> str:
    lines = [*_report_lines(report), "", report.summary_line()]
    return "\n".join(visible(line) for line in lines) + "\n"


def render_report_markdown(report: ApplyReport, limit: int = MARKDOWN_LIMIT) -> str:
    lines = [
        "### Feishu directory apply",
        "",
        f"**{report.summary_line()}**",
        "",
        f"Plan hash: `{report.plan_hash}`",
        "",
    ]
    per_user = _report_lines(report)
    if per_user:
        kept = _within(per_user, limit - 1_000, "users")
        lines.extend([*_fence(kept, "text"), ""])
    return "\n".join(lines) + "\n"


def render_invalid_markdown(issues: list[Any], limit: int = MARKDOWN_LIMIT) -> str:
    """The PR comment for a directory that failed validation: every problem, fenced."""
    errors = sum(1 for i in issues if i.severity == "error")
    lines = [
        "<!-- reconciler-plan invalid -->",
        "### Feishu directory plan",
        "",
        f":x: **The directory is invalid ({errors} errors); nothing was planned and nothing can be applied.**",
        "",
        *_fence(_within([str(i) for i in issues], limit - 1_000, "problems"), "text"),
        "",
    ]
    return "\n".join(lines) + "\n"


def render_report_json(report: ApplyReport) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"


REPORT_RENDERERS: dict[str, Callable[[ApplyReport], str]] = {
    "text": render_report_text,
    "markdown": render_report_markdown,
    "json": render_report_json,
}
