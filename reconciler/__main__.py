"""The `reconciler` command (console script and `python -m reconciler`): the one-shot entry point."""

from __future__ import annotations

import gc
import os


def main() -> None:
    # a one-shot process: its garbage is acyclic (modules, YAML and JSON dicts and lists, freed by
    # reference counting) while each cyclic collection walks every object loaded so far. Paused here
    # only: a library caller (demo, tests, other tools) keeps its collector.
    gc.disable()
    from .cli import main as run

    run()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
