"""The `reconciler` command (console script and `python -m reconciler`)."""

from __future__ import annotations

import os

from . import cyclic_gc_paused


def main() -> None:
    with cyclic_gc_paused():  # the collections that loading ~300 modules would trigger free nothing
        from .cli import main as run
    run()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
