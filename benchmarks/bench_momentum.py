"""Event-study speed (issue 4): one year of 1-minute candles, 50 bands, under 2 s.

    python benchmarks/bench_momentum.py            # one year (525,600 candles)
    python benchmarks/bench_momentum.py --quick    # one month, for a smoke run

The bands are 50 windows 0.5% wide spread over the year's price range (so that price enters them often);
controls="auto" adds one thin control band each. statsmodels is imported before the clock starts (its
import alone takes about a second, once per process).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def synthetic_minutes(n: int, seed: int = 0) -> pd.DataFrame:
    """A BTC-like random walk: 0.08% per minute, log-normal volume."""
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.concatenate([[60_000.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.0005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.0005, n)))
    index = pd.date_range("2025-01-01", periods=n, freq="min", tz="UTC")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.lognormal(0, 1, n)}, index=index
    )


def bands_for(df: pd.DataFrame, k: int = 50) -> list[tuple[float, float, str]]:
    last = float(df["close"].iloc[-1])
    centres = np.quantile(df["close"].to_numpy(), np.linspace(0.02, 0.98, k))
    return [(c * 0.9975, c * 1.0025, "short" if c > last else "long") for c in centres]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import statsmodels.api  # noqa: F401  (import cost kept out of the timing)

    from liqtools import event_study

    n = 43_200 if args.quick else 525_600
    df = synthetic_minutes(n)
    bands = bands_for(df)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        study = event_study(df, bands)
        times.append(time.perf_counter() - t)
    print(
        f"{n:,} one-minute candles, {len(bands)} bands (+{len(study.control_bands)} control bands), horizons 1,4,12,24"
    )
    print(f"  events {len(study.events):,}, control events {len(study.controls):,}")
    print(
        f"  event_study: best {min(times):.2f} s, median {np.median(times):.2f} s of {len(times)} runs (target < 2 s)"
    )


if __name__ == "__main__":
    main()
