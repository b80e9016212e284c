"""Heatmap.extend: one new 1-minute candle on a 30-day 1-minute state (issue 15; target < 5 ms).

    python benchmarks/bench_extend.py            # 30 days of minutes, 300 new candles one at a time
    python benchmarks/bench_extend.py --quick    # 3 days, 60 candles (smoke run)

Builds the default heatmap (hourly snapshots, $100 bins over $20k-$200k) on 43,200 one-minute candles,
then feeds new candles one by one. Prints the first extension (it copies the state into growable
buffers once), the steady per-candle times (median, 95th percentile, max; a candle that completes an
hourly snapshot bins the map too) beside a full recomputation of the same frame, the ratio, and checks
the grown heatmap equals the batch one.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_heatmap import OPTS, synthetic_minutes

from liqtools import liquidation_heatmap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    days, new = (3, 60) if args.quick else (30, 300)
    n = days * 1440
    df = synthetic_minutes(n + new, seed=4)
    hm = liquidation_heatmap(df.iloc[:n], **OPTS)
    t0 = time.perf_counter()
    hm = hm.extend(df.iloc[n : n + 1])
    first = time.perf_counter() - t0
    times = []
    for i in range(n + 1, n + new):
        candle = df.iloc[i : i + 1]
        t0 = time.perf_counter()
        hm = hm.extend(candle)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    batch = liquidation_heatmap(df, **OPTS)
    full = time.perf_counter() - t0
    same = np.allclose(hm.long, batch.long, rtol=1e-9, atol=1e-3) and np.allclose(hm.flows.to_numpy(), batch.flows.to_numpy(), rtol=1e-9, atol=1e-3)
    ms = np.array(times) * 1e3
    print(f"state: {n:,} one-minute candles ({days} days), {len(hm._levels.created):,} levels, hourly snapshots x {len(hm.edges) - 1:,} bins")
    print(f"first extension (copies the state into growable buffers): {first * 1e3:.1f} ms")
    print(f"one new candle, {len(ms)} candles: median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms   (target < 5 ms)")
    print(f"full recomputation of the {n + new:,} candles: {full * 1e3:.0f} ms   -> extend is {full * 1e3 / np.median(ms):.0f}x faster per candle")
    print(f"grown heatmap equals the batch one: {same}")


if __name__ == "__main__":
    main()
