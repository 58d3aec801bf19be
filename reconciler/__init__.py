"""Feishu/Lark org directory as code: plan and apply contact v3 users from YAML in git."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection inside, and what is still alive at the end frozen: kept out of every
    later collection, for what the tool loads lives as long as the process. Its garbage is
    acyclic (modules, YAML and JSON dicts and lists, freed by reference counting), while each
    collection walks every object loaded so far."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
