"""The `reconciler` command (console script and `python -m reconciler`)."""

from __future__ import annotations

import os

from . import cyclic_gc_paused


def main() -> None:
    # one-shot process: cyclic collections over the modules, YAML and JSON it loads free nothing (their
    # garbage is acyclic) and would stall the read threads; a library caller keeps its collector
    with cyclic_gc_paused():
        from .cli import main as run

        run()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
