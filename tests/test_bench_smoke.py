"""The benchmarks stay runnable: their modules import and their helpers agree with the docs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_modules_import():
    sys.path.insert(0, str(ROOT))
    try:
        for name in ("bench.common", "bench.plan", "bench.apply"):
            assert importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT))


def test_quota_floor_follows_the_documented_limits():
    sys.path.insert(0, str(ROOT))
    try:
        from bench.common import quota_floor
    finally:
        sys.path.remove(str(ROOT))
    assert quota_floor({"GET batch": 50}) == 0  # one second's worth goes out at once
    assert quota_floor({"GET batch": 201}) == 4  # 50/s
    assert quota_floor({"PATCH": 2001}) == 120  # 1000/min dominates
    assert quota_floor({"PATCH": 100}, slow_lane=100) == 99  # 1 QPS lane
    assert quota_floor({"PATCH": 100}, slow_lane=100, time_scale=10) == 9.9
