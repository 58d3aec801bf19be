"""The `reconciler` command (console script and `python -m reconciler`)."""

from __future__ import annotations

import gc
import os


def main() -> None:
    # no cyclic collection while the CLI's ~300 modules load, and none later over what they
    # loaded (frozen: it lives as long as the process): the collections that allocation would
    # trigger walk every object loaded so far, and find nothing to free
    enabled = gc.isenabled()
    gc.disable()
    try:
        from .cli import main as run
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    run()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
