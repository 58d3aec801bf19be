"""Benchmark `reconciler apply` of N changed users at the documented quotas, time-scaled.

    python bench/apply.py --users 1000 --moves 100 --time-scale 10
    python bench/apply.py --users 1000 --moves 100 --time-scale 10 --rtt-ms 100   # a real round trip ±20%

The emulator enforces 50/s and 1000/min per API and 1 QPS for PATCHes carrying department_ids,
with time running `--time-scale` times faster; the client is given the same scaled quotas in
reconciler.yaml. Prints wall time, calls, rate-limit rejections, the quota floor of the PATCHes
and wall / floor, and the tightest spacing of department moves (must stay ≥ 1 scaled second).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import endpoint_counts, quota_floor, report, run_cli, start_emulator
from reconciler.emulator import generate_directory


def bench_apply(
    n: int, moves: int, scale: float, work: Path, rtt_ms: float = 0.0, jitter: float = 0.2
) -> dict[str, float | int]:
    quotas = f"quotas: {{time_scale: {scale}}}\n"  # the documented limits, on the emulator's clock
    directory = generate_directory(n, work, drift=1.0, moves=moves, settings=quotas)
    network = ["--rtt-ms", str(rtt_ms), "--jitter", str(jitter)] if rtt_ms else []
    emulator = start_emulator(n, "--quotas", "--time-scale", str(scale), *network)
    try:
        emulator.clear()
        run = run_cli(emulator.url, "apply", "--dir", str(directory), "--auto-approve", "--format", "json")
        log = emulator.requests()
        rejections = emulator.quotas()["rejections"]
        emulator.clear()
        again = run_cli(emulator.url, "plan", "--dir", str(directory), "--detailed-exitcode")
    finally:
        emulator.stop()
    attempts = [r for r in log if r["method"] == "PATCH"]
    patches = [r for r in attempts if r["code"] == 0]
    slow = sorted(r["time"] for r in patches if "department_ids" in (r["body"] or {}) and r["code"] == 0)
    gaps = [b - a for a, b in itertools.pairwise(slow)]
    # the quota floor of the writes, plus the round trips the writes cannot overlap: the token, the last answer
    floor = quota_floor({"PATCH": len(patches)}, slow_lane=len(slow), time_scale=scale) + 2 * rtt_ms / 1000
    patch_phase = max(r["time"] for r in patches) - min(r["time"] for r in patches) if patches else 0.0
    return {
        "users changed": n,
        "department moves (accepted)": len(slow),
        "time scale": scale,
        "round trip ms (±jitter)": f"{rtt_ms:g} (±{jitter:.0%})",
        "exit code": run.exit_code,
        "wall s (whole apply command)": run.wall,
        "API calls": len(log),
        "calls by endpoint": str(endpoint_counts(log)),
        "rate-limit rejections": rejections,
        "  of them department moves": sum(
            1 for r in attempts if r["code"] == 99991400 and "department_ids" in (r["body"] or {})
        ),
        "PATCHes accepted / sent": f"{len(patches)} / {len(attempts)}",
        "floor s (PATCH quota floor + 2 round trips)": floor,
        "PATCH phase s (first→last PATCH)": patch_phase,
        "PATCH phase / quota floor": patch_phase / floor if floor else float("nan"),
        "wall / quota floor": run.wall / floor if floor else float("nan"),
        "tightest department-move gap (scaled s)": min(gaps) * scale if gaps else float("nan"),
        "peak RSS MB": run.peak_mb,
        "plan after apply exit code (0 = converged)": again.exit_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--moves", type=int, default=100, help="how many of them also change department")
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="network round trip the emulator adds")
    parser.add_argument("--jitter", type=float, default=0.2, help="± share of each half of the round trip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_apply(args.users, args.moves, args.time_scale, Path(tmp), args.rtt_ms, args.jitter)
        network = f", round trip {args.rtt_ms:g} ms ±{args.jitter:.0%}" if args.rtt_ms else ""
        report(f"apply, {args.users} users ({args.moves} moves), quotas on x{args.time_scale}{network}", figures)


if __name__ == "__main__":
    main()
