"""Feishu/Lark org directory as code: plan and apply contact v3 users from YAML in git."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent
# Installed wheels carry schemas/ inside the package (see pyproject.toml); a source checkout has it
# beside the package. The example org always lives in the package: the repository's directory/ is
# the user's own org (a copy of the example until they import theirs), which no test or demo reads.
_BUNDLED = {"schemas": "schemas"}


def bundled(kind: str) -> Path:
    """Folder of data shipped with the tool: 'schemas' or 'example' (the example org)."""
    inside = _HERE / kind
    if inside.is_dir() or kind not in _BUNDLED:
        return inside
    return _HERE.parent / _BUNDLED[kind]
