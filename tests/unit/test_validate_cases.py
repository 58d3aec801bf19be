"""Data-driven validation: tests/cases/invalid/*.yaml must fail with exactly the messages their
`# expect:` lines give; tests/cases/valid/*.yaml must pass (with the `# warn:` lines, if any).

A case file is dropped into a copy of the example directory as users/<case>.yaml; further YAML
documents (after `---`) become users/<case>-2.yaml, -3, ... In messages, {file} and {file2} stand
for those paths. Rewrite expectations after a deliberate change with REWRITE_CASES=1.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from reconciler import bundled
from reconciler.desired import load_directory
from reconciler.validate import validate

CASES = Path(__file__).resolve().parent.parent / "cases"


def _split(text: str) -> tuple[list[str], list[str]]:
    expect = [m for m in re.findall(r"^# (?:expect|warn): (.*)$", text, re.M)]
    body = "\n".join(line for line in text.splitlines() if not re.match(r"^# (expect|warn): ", line))
    docs = re.split(r"^---$", body, flags=re.M)
    return expect, [d.lstrip("\n") for d in docs]


def _run(case: Path, tmp_path: Path) -> tuple[list[str], list[str]]:
    directory = tmp_path / "directory"
    shutil.copytree(bundled("example"), directory)
    _, docs = _split(case.read_text("utf-8"))
    paths = []
    for i, doc in enumerate(docs):
        name = case.stem if i == 0 else f"{case.stem}-{i + 1}"
        path = directory / "users" / f"{name}.yaml"
        path.write_bytes(
            doc.encode("utf-8")
            if i
            else case.read_bytes().split(b"\n---\n")[0]
            if b"\n---\n" in case.read_bytes()
            else case.read_bytes()
        )
        paths.append(str(path))
    issues = validate(load_directory(directory)).issues
    lines = [str(i) for i in issues]
    for n, p in sorted(enumerate(paths), key=lambda x: -len(x[1])):
        lines = [line.replace(p, "{file}" if n == 0 else f"{{file{n + 1}}}") for line in lines]
    lines = [line.replace(str(directory), "{dir}") for line in lines]
    errors = [line for line, i in zip(lines, issues) if i.severity == "error"]
    warnings = [line for line, i in zip(lines, issues) if i.severity == "warning"]
    return errors, warnings


def _rewrite(case: Path, found: list[str]) -> None:
    text = case.read_text("utf-8")
    kept = "".join(line for line in text.splitlines(keepends=True) if not re.match(r"^# (expect|warn): ", line))
    word = "expect" if case.parent.name == "invalid" else "warn"
    case.write_text("".join(f"# {word}: {f}\n" for f in found) + kept, "utf-8")


def _checked(case: Path, tmp_path: Path) -> tuple[list[str], list[str], list[str]]:
    """(errors, warnings, the case's expected lines); REWRITE_CASES=1 first records what was found."""
    errors, warnings = _run(case, tmp_path)
    if os.environ.get("REWRITE_CASES"):
        _rewrite(case, errors if case.parent.name == "invalid" else warnings)
    expect, _ = _split(case.read_text("utf-8"))
    return errors, warnings, expect


@pytest.mark.parametrize("case", sorted((CASES / "invalid").glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_case_fails_with_exactly_its_messages(case: Path, tmp_path: Path):
    errors, _, expect = _checked(case, tmp_path)
    assert errors, "an invalid case must produce an error"
    assert errors == expect


@pytest.mark.parametrize("case", sorted((CASES / "valid").glob("*.yaml")), ids=lambda p: p.stem)
def test_valid_case_passes(case: Path, tmp_path: Path):
    errors, warnings, expect = _checked(case, tmp_path)
    assert errors == []
    assert warnings == expect
