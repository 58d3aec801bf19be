"""The PR comment's picture is Mermaid that Mermaid itself accepts, and no name can break it.

The diagrams are parsed by Mermaid's own parser (the npm package GitHub's renderer is built on,
pinned in tests/mermaid/package-lock.json) in Node.js, installed once per lock file into a cache
folder. Node.js 20 and npm are required: without them these tests fail, they do not skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from reconciler.orgchart import LABEL_LIMIT, diagram
from reconciler.plan import Action, FieldChange, Plan, UserChange
from reconciler.render import plan_data, render_markdown

HERE = Path(__file__).resolve().parent.parent
PACKAGE = HERE / "mermaid"
GOLDEN = HERE / "golden"


@pytest.fixture(scope="session")
def mermaid_parser() -> Path:
    """A folder with Mermaid installed (npm ci of tests/mermaid's lock file), reused while the lock is the same."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("these tests need Node.js 20+ and npm on PATH (Debian: apt-get install nodejs npm)")
    lock = (PACKAGE / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "feishu-reconciler-tests" / f"mermaid-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (folder / "node_modules" / "mermaid" / "package.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(PACKAGE / name, folder / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm ci of tests/mermaid failed:\n{done.stderr[-2000:]}"
    shutil.copy(PACKAGE / "parse.mjs", folder / "parse.mjs")
    return folder


def parse(folder: Path, texts: list[str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(folder / "parse.mjs")],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def mermaid_blocks(markdown: str) -> list[str]:
    """The text of each ```mermaid block, as GitHub finds it: up to the next line that is the same fence."""
    blocks, lines = [], markdown.split("\n")
    for i, line in enumerate(lines):
        match = re.fullmatch(r"(`{3,})mermaid", line)
        if match:
            end = next(j for j in range(i + 1, len(lines)) if lines[j] == match.group(1))
            blocks.append("\n".join(lines[i + 1 : end]))
    return blocks


def test_every_golden_comment_diagram_is_accepted_by_mermaid(mermaid_parser: Path):
    texts = [b for f in sorted(GOLDEN.glob("*/plan.md")) for b in mermaid_blocks(f.read_text("utf-8"))]
    assert len(texts) >= 6  # leader change, move, hire, leaver, refusals, large
    for text, result in zip(texts, parse(mermaid_parser, texts), strict=True):
        assert result["ok"], f"{result.get('error')}\n{text}"
        assert result["type"] == "flowchart-v2"


HOSTILE = [
    'Robert"] --> X["pwned',
    "a\nb\r\nsubgraph evil",
    "```\n# Heading @everyone",
    "end",
    "%% comment",
    "click n1 call alert(1)",
    "A|B|C [x] {y} (z) <script>alert(1)</script>",
    "semi; colon: hash #35; amp & quot #quot;",
    "\u202eevil\u200b\x1b[31m",
    "李" * 200,
]


def _hostile_plan() -> Plan:
    """Every hostile string as a person's, a leader's and a department's name, in one moving change each."""
    plan = Plan("https://open.feishu.cn", "open_id", "open_department_id", "0" * 64)
    for i, name in enumerate(HOSTILE):
        uid, old_leader, new_leader = f"ou_p{i}", f"ou_old{i}", f"ou_new{i}"
        before = {"leader": old_leader, "departments": [f"od-a{i}"]}
        after = {"leader": new_leader, "departments": [f"od-b{i}"]}
        plan.changes.append(
            UserChange(
                handle=f"h{i}",
                user_id=uid,
                name=name,
                path=f"users/h{i}.yaml",
                changes=[FieldChange("leader_user_id", old_leader, new_leader)],
                body={"leader_user_id": new_leader, "department_ids": [f"od-b{i}"]},
                lane="1qps",
                fingerprint="",
                compared=[],
                action=Action.UPDATE.value,
                placement={"before": before, "after": after},
            )
        )
        plan.names.update({uid: name, old_leader: name, new_leader: name, f"od-a{i}": name, f"od-b{i}": name})
    return plan


def _shown(name: str) -> str:
    """A label as Mermaid shows it: hidden and control characters as \\uXXXX, cut at LABEL_LIMIT."""
    for hidden in "\n\r\u202e\u200b\x1b":  # the ones in HOSTILE
        name = name.replace(hidden, f"\\u{ord(hidden):04x}")
    return name if len(name) <= LABEL_LIMIT else name[: LABEL_LIMIT - 1] + "…"


def test_a_hostile_name_adds_no_node_edge_or_subgraph_and_is_shown_as_written(mermaid_parser: Path):
    plan = _hostile_plan()
    text = "\n".join(diagram(plan_data(plan)))
    (result,) = parse(mermaid_parser, [text])
    assert result["ok"], result.get("error")
    n = len(HOSTILE)
    # per change: the person, the "was" node, the new and the old leader; two departments
    assert len(result["nodes"]) == 4 * n
    assert len(result["subgraphs"]) == 2 * n
    assert sorted(e[2] for e in result["edges"]) == sorted(["leader", "was leader", "moves"] * n)
    labels = set(result["nodes"].values()) | {title for title, _ in result["subgraphs"].values()}
    for name in HOSTILE:
        assert _shown(name) in labels
        assert _shown("was: " + name) in labels
    # nothing Mermaid draws can reverse, hide or break the text around it
    assert not [c for text in labels for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]


def test_a_hostile_name_cannot_end_the_comment_s_mermaid_block(mermaid_parser: Path):
    plan = _hostile_plan()
    markdown = render_markdown(plan)
    (block,) = mermaid_blocks(markdown)
    assert block == "\n".join(diagram(plan_data(plan)))
    (result,) = parse(mermaid_parser, [block])
    assert result["ok"], result.get("error")
