"""The truth (issue 10): the benchmark scorecard on the three bundled markets, and how long it takes.

    python benchmarks/bench_truth.py            # all three markets, full tables
    python benchmarks/bench_truth.py eth-2024   # one market
    python benchmarks/bench_truth.py --extra turnover=0.1   # also search an option beyond the grid

Runs ``liqtools benchmark --sample NAME`` in a fresh process per market (imports included, as a user
would run it), prints its wall time against the 60 s target and its full output: the plain-words
summary, the averages per side and method, and the fold-by-fold table. These are the figures of the
closing note; nothing here is tuned to them.
"""

from __future__ import annotations

import subprocess
import sys
import time

MARKETS = ("eth-2024", "sol-2024", "btc")
TARGET_S = 60.0


def run(name: str, extra: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "liqtools", "benchmark", "--sample", name, *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t, out.stdout


def main(argv: list[str]) -> None:
    extra, names = [], []
    it = iter(argv)
    for arg in it:
        if arg == "--extra":
            extra += ["--extra", next(it)]
        else:
            names.append(arg)
    times = {}
    for name in names or MARKETS:
        wall, text = run(name, extra)
        times[name] = wall
        shown = " ".join(["liqtools benchmark --sample", name, *extra])
        print(f"=== {shown}: {wall:.1f} s wall (target < {TARGET_S:.0f} s) ===")
        print(text)
    print("Wall times: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))
    slow = [k for k, v in times.items() if v >= TARGET_S]
    print("All under target." if not slow else f"Over target: {', '.join(slow)}")


if __name__ == "__main__":
    main(sys.argv[1:])
