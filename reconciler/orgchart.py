"""The reviewer's picture of a plan: who joins, leaves or moves, with their old and new leader and
department, as a Mermaid flowchart (GitHub draws ```mermaid blocks in comments), and the
per-department summary of a large plan.

Pure: it reads the plan's JSON dict (render.plan_data), writes Mermaid text. No value from a file or
the tenant reaches the diagram except through `label`, which keeps letters, digits and a few marks
and writes every other character as a Mermaid entity code (#NNN;), so no name can close a label,
add a node or edge, or close the Markdown fence around it. Node ids are generated, never taken
from data.
"""

from __future__ import annotations

from typing import Any

from .hidden import escaped
from .plan import Action, person_name

MAX_PEOPLE = 30  # people (or groups) drawn; the rest are counted in one node
GROUP_FROM = 4  # people with the same move drawn as one node with a count, not one node each
LABEL_LIMIT = 60  # characters of one label before it is cut
SAFE = frozenset(" @._-(),:")
NO_DEPARTMENT = ""
STYLES = {  # GitHub's diff colours: green joins, red leaves, grey dashed where a mover was
    "hire": "fill:#dafbe1,stroke:#1a7f37",
    "leaver": "fill:#ffebe9,stroke:#cf222e,stroke-dasharray:4 3",
    "was": "fill:#f6f8fa,stroke:#8c959f,stroke-dasharray:4 3,color:#57606a",
}


def label(text: str, limit: int = LABEL_LIMIT) -> str:
    """A Mermaid label, quotes excluded: hidden and control characters (line breaks, bidi and
    zero-width marks) as visible \\uXXXX; then letters, digits and SAFE as they are, and every other
    character (quotes, brackets, pipes, backticks, '#', '<', '&', '\\') as #code;, which Mermaid shows
    as the character but never parses."""
    # a control, format (bidi, zero-width) or unassigned character is shown as \uXXXX, as everywhere
    # else: Mermaid would decode its entity back into the character, which could reverse or hide text
    text = escaped(text)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return "".join(c if (c.isalnum() and c.isprintable()) or c in SAFE else f"#{ord(c)};" for c in text)


def is_drawn(change: dict[str, Any]) -> bool:
    """A hire, a leaver, or an update that changes a leader or a primary or set of departments."""
    placement = change.get("placement") or {}
    if change["action"] != Action.UPDATE.value:
        return bool(placement)
    before, after = placement.get("before"), placement.get("after")
    return bool(before and after) and (
        before["leader"] != after["leader"]
        or before["departments"][:1] != after["departments"][:1]
        or set(before["departments"]) != set(after["departments"])
    )


def primary(side: dict[str, Any] | None) -> str:
    """The primary department of one side of a placement (NO_DEPARTMENT: none known)."""
    return side["departments"][0] if side and side["departments"] else NO_DEPARTMENT


def _other_departments(before: dict[str, Any] | None, after: dict[str, Any] | None, names: dict[str, str]) -> str:
    """ " · +Sales (@sales) −Product (@product)": departments joined or left besides the primary one."""
    if not before or not after:
        return ""
    old, new = set(before["departments"][1:]), set(after["departments"][1:])
    old.discard(primary(after))
    new.discard(primary(before))
    changes = [f"+{names.get(d) or d}" for d in sorted(new - old)] + [
        f"−{names.get(d) or d}" for d in sorted(old - new)
    ]
    return " · " + " ".join(changes) if changes else ""


def _who(change: dict[str, Any], names: dict[str, str]) -> str:
    return names.get(change["user_id"]) or person_name(change["name"], change["handle"])


class _Chart:
    """Nodes and edges under construction; ids are p1, d1, l1 …, never data."""

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.members: dict[str, list[str]] = {}  # department id (or NO_DEPARTMENT) → node lines
        self.outside: list[str] = []  # nodes in no department: leaders, people with none
        self.edges: list[str] = []
        self.classes: dict[str, list[str]] = {}
        self.people: dict[str, str] = {}  # user id → node id of a person drawn alone
        self.leaders: dict[str, str] = {}  # user id → node id of a leader drawn only as a leader
        self.count = 0

    def node(self, text: str, department: str | None, shape: str = '["{}"]') -> str:
        self.count += 1
        node = f"n{self.count}"
        line = node + shape.format(label(text))
        if department is None:
            self.outside.append(line)
        else:
            self.members.setdefault(department, []).append(line)
        return node

    def leader(self, user_id: str) -> str:
        if user_id in self.people:
            return self.people[user_id]
        if user_id not in self.leaders:
            self.leaders[user_id] = self.node(self.names.get(user_id) or user_id, None, '(["{}"])')
        return self.leaders[user_id]

    def mark(self, node: str, css: str) -> None:
        self.classes.setdefault(css, []).append(node)

    def lines(self) -> list[str]:
        out = ["flowchart LR"]
        subgraphs = 0
        for department, members in self.members.items():
            if department == NO_DEPARTMENT:
                out.extend("  " + m for m in members)
                continue
            subgraphs += 1
            out.append(f'  subgraph d{subgraphs}["{label(self.names.get(department) or department)}"]')
            out.extend("    " + m for m in members)
            out.append("  end")
        out.extend("  " + n for n in self.outside)
        out.extend("  " + e for e in self.edges)
        for css, nodes in self.classes.items():
            out.append(f"  classDef {css} {STYLES[css]}")
            out.append(f"  class {','.join(nodes)} {css}")
        return out


def _groups(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Changes with the same action, departments and leaders, in plan order; one group per key."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for change in changes:
        placement = change["placement"]
        before, after = placement.get("before"), placement.get("after")
        key = (
            change["action"],
            primary(before),
            primary(after),
            before and before["leader"],
            after and after["leader"],
        )
        groups.setdefault(key, []).append(change)
    out: list[list[dict[str, Any]]] = []
    for members in groups.values():
        if len(members) >= GROUP_FROM:
            out.append(members)
        else:
            out.extend([m] for m in members)
    return out


def diagram(data: dict[str, Any]) -> list[str]:
    """The Mermaid flowchart of the people the plan hires, offboards or moves (no lines: nobody).

    Each is drawn in their new primary department (a leaver in their old one); a move leaves a
    dashed "was: …" node in the old department; a new leader is a solid edge, the old one dashed."""
    names = data["names"]
    drawn = [c for c in data["changes"] if is_drawn(c)]
    if not drawn:
        return []
    groups = _groups(drawn)
    chart = _Chart(names)
    # people first, then edges: a leader who is also moving is drawn once, where they go
    placed: list[tuple[list[dict[str, Any]], str, str]] = []
    for group in groups[:MAX_PEOPLE]:
        first = group[0]
        placement = first["placement"]
        before, after = placement.get("before"), placement.get("after")
        if len(group) == 1:
            text = _who(first, names) + _other_departments(before, after, names)
        else:
            handles = ", ".join("@" + c["handle"] for c in group[:3])
            text = f"{len(group)} people: {handles}" + (" …" if len(group) > 3 else "")
        action = first["action"]
        home = primary(after) if after else primary(before)
        prefix = {"create": "joins: ", "offboard": "leaves: ", "update": ""}[action]
        node = chart.node(prefix + text, home)
        if len(group) == 1 and first["user_id"]:
            chart.people[first["user_id"]] = node
        if action == Action.CREATE.value:
            chart.mark(node, "hire")
        elif action == Action.OFFBOARD.value:
            chart.mark(node, "leaver")
        placed.append((group, node, text))
    for group, node, text in placed:
        first = group[0]
        placement = first["placement"]
        before, after = placement.get("before"), placement.get("after")
        if before and after and primary(before) != primary(after):
            ghost = chart.node(f"was: {text}", primary(before), '("{}")')
            chart.mark(ghost, "was")
            chart.edges.append(f'{ghost} -. "moves" .-> {node}')
        old = before["leader"] if before else None
        new = after["leader"] if after else None
        if new and new != old:
            chart.edges.append(f'{chart.leader(new)} -- "leader" --> {node}')
        if old and new != old:
            chart.edges.append(f'{chart.leader(old)} -. "was leader" .-> {node}')
    if len(groups) > MAX_PEOPLE:
        rest = sum(len(g) for g in groups[MAX_PEOPLE:])
        chart.node(f"… and {rest} more people not drawn (see the changes below)", None)
    return chart.lines()


def department_rows(data: dict[str, Any], limit: int = 25) -> list[tuple[str, int, int, int, int, int]]:
    """Per department (by name): (department, joining, leaving, moving in, moving out, other changes),
    busiest first; beyond `limit` rows the rest are summed in one."""
    names = data["names"]
    rows: dict[str, list[int]] = {}

    def add(department: str, column: int) -> None:
        name = names.get(department) or department or "(no department)"
        rows.setdefault(name, [0, 0, 0, 0, 0])[column] += 1

    for change in data["changes"]:
        placement = change.get("placement") or {}
        before, after = placement.get("before"), placement.get("after")
        if change["action"] == Action.CREATE.value:
            add(primary(after), 0)
        elif change["action"] == Action.OFFBOARD.value:
            add(primary(before), 1)
        elif before and after and primary(before) != primary(after):
            add(primary(after), 2)
            add(primary(before), 3)
        else:
            add(primary(after or before), 4)
    ordered = sorted(rows.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    out = [(name, *counts) for name, counts in ordered[:limit]]
    if len(ordered) > limit:
        rest = [sum(c[i] for _, c in ordered[limit:]) for i in range(5)]
        out.append((f"{len(ordered) - limit} more departments", *rest))
    return out  # type: ignore[return-value]
