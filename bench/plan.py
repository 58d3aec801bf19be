"""Benchmark `reconciler plan` on an org of N users against the emulator on loopback.

    python bench/plan.py --users 10000                 # quotas off: CPU-bound figures
    python bench/plan.py --users 10000 --quotas        # documented quotas on: wall vs quota floor
    python bench/plan.py --users 1000 --users 100000   # linearity of the CPU cost per user
    python bench/plan.py --users 10000 --quotas --rtt-ms 0 --rtt-ms 50 --rtt-ms 100 --rtt-ms 200
                                                       # a real tenant's round trips, ±20% jitter

Prints wall time, API calls, rate-limit rejections, peak memory, the quota floor and wall/floor,
and the CPU part of plan per user next to a bare yaml.load(CSafeLoader) of the same files.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    bare_yaml_load,
    endpoint_counts,
    quota_floor,
    report,
    run_cli,
    start_emulator,
)
from reconciler.emulator import generate_directory


def bench_plan(
    n: int,
    quotas: bool,
    drift: float,
    work: Path,
    repeat: int,
    flags: tuple[str, ...] = (),
    rtt_ms: float = 0.0,
    jitter: float = 0.2,
) -> dict[str, float | int]:
    # quotas off: tell the client too (reconciler.yaml), or it paces itself at the documented limits
    unlimited = "" if quotas else "quotas: {per_second: 10000, per_minute: 600000, slow_lane_per_second: 1000}\n"
    directory = generate_directory(n, work, drift=drift, settings=unlimited)
    network = ["--rtt-ms", str(rtt_ms), "--jitter", str(jitter)] if rtt_ms else []
    emulator = start_emulator(n, *(["--quotas"] if quotas else []), *network)
    runs, logs, bares = [], [], []
    try:
        for _ in range(repeat):  # the median of interleaved runs: this VM's speed drifts
            emulator.clear()
            if quotas:  # each run starts with empty quota windows, as after a quiet minute
                emulator.quotas(enabled=True)
            runs.append(run_cli(emulator.url, "plan", "--dir", str(directory), "--detailed-exitcode", *flags))
            logs.append(emulator.requests())
            bares.append(bare_yaml_load(directory))
        rejections = emulator.quotas()["rejections"]  # over all runs
    finally:
        emulator.stop()
    if any(r.exit_code not in (0, 2) for r in runs):
        raise SystemExit("a plan run failed (its stderr is above): no figures from a failed run")
    median = sorted(range(repeat), key=lambda i: runs[i].wall)[repeat // 2]
    run, log = runs[median], logs[median]  # every figure below from the same run
    bare_wall = statistics.median(b[0] for b in bares)
    bare_parse = statistics.median(b[1] for b in bares)
    counts = endpoint_counts(log)
    # the floor at this round trip: the quota floor, plus the token's round trip and the last answer's
    floor = quota_floor({k: v for k, v in counts.items() if "auth" not in k}) + 2 * rtt_ms / 1000
    times = sorted(r["time"] for r in log if "auth" not in r["path"])
    read_phase = times[-1] - times[0] if times else 0.0
    first_read = times[0] - run.started if times else 0.0
    changed = sum(1 for line in run.stdout.splitlines() if line.startswith("  ~ @"))
    return {
        "users": n,
        "runs (median shown)": repeat,
        "users changed": changed,
        "exit code": run.exit_code,
        "wall s": run.wall,
        "API calls": len(log),
        "expected API calls ceil(N/50)+1": math.ceil(n / 50) + 1,
        "rate-limit rejections": rejections,
        "peak RSS MB": run.peak_mb,
        "quota floor s": floor,
        "wall / quota floor": run.wall / floor if floor else float("nan"),
        "start-up s (start → first read)": first_read,
        "read phase s (first→last read)": read_phase,
        "read phase / quota floor": read_phase / floor if floor else float("nan"),
        "finish s (last read → exit)": run.wall - first_read - read_phase,
        "CPU s (plan process)": run.cpu,
        "CPU ms per user": 1000 * run.cpu / n,
        "bare yaml.load process wall s": bare_wall,
        "bare yaml.load parse s": bare_parse,
        "wall / bare yaml.load wall": run.wall / bare_wall,
        "CPU per user / bare parse per user": run.cpu / bare_parse,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, action="append", help="org size (repeatable); default 10000")
    parser.add_argument("--quotas", action="store_true", help="emulator enforces the documented quotas")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is reported")
    parser.add_argument("--drift", type=float, default=0.01, help="share of users with a changed field")
    parser.add_argument(
        "--rtt-ms", type=float, action="append", help="network round trip the emulator adds (repeatable); default 0"
    )
    parser.add_argument("--jitter", type=float, default=0.2, help="± share of each half of the round trip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.users or [10000]:
            for rtt in args.rtt_ms or [0.0]:
                figures = bench_plan(n, args.quotas, args.drift, Path(tmp), args.repeat, (), rtt, args.jitter)
                mode = f", round trip {rtt:g} ms ±{args.jitter:.0%}" if rtt else ""
                report(f"plan, {n} users, quotas {'on' if args.quotas else 'off'}{mode}", figures)


if __name__ == "__main__":
    main()
