"""A generated universe: seeded synthetic market frames, and files of them that a scan can read.

For demonstrations, tests and benchmarks of :func:`~liqtools.scale.run.scan` without a network: every
market is a random walk (with volatility that drifts) and an open interest that wanders with it, so the
model has positions to open, close and liquidate. These are not real markets; the clusters found in them
mean nothing beyond showing the machinery.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["generated_market", "write_universe"]

_START = pd.Timestamp("2026-01-01", tz="UTC")
_SUB = 4  # price steps inside each candle (its high and low come from them)


def generated_market(seed: int, *, days: float = 30, freq: str = "1min", start: pd.Timestamp | str = _START) -> pd.DataFrame:
    """A seeded synthetic market frame (``open, high, low, close, volume, oi_usd``), ``days`` of ``freq`` candles.

    The price starts between $0.05 and $100k (by seed), volatility is about 60-120% a year and drifts, and
    open interest (USD) follows the price with noise of its own. The same seed gives the same frame.

    Examples
    --------
    >>> df = generated_market(7, days=1, freq="1h")
    >>> len(df), list(df.columns)
    (24, ['open', 'high', 'low', 'close', 'volume', 'oi_usd'])
    >>> bool((df["high"] >= df[["open", "close"]].max(axis=1)).all())
    True
    """
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise DataError(f"seed must be an integer >= 0, got {seed!r}")
    try:
        step = pd.Timedelta(freq)
    except ValueError:
        raise DataError(f"freq must be a candle length such as '1min' or '1h', got {freq!r}") from None
    n = int(pd.Timedelta(days=days) / step) if step > pd.Timedelta(0) else 0
    if n < 2:
        raise DataError(f"days={days} of {freq} candles make fewer than 2 candles")
    rng = np.random.default_rng(int(seed))
    per_year = pd.Timedelta(days=365) / step
    annual = rng.uniform(0.6, 1.2)
    # volatility drifts slowly (a log random walk, pulled back to its mean)
    # log volatility: an AR(1) with a memory of about five days and a standard deviation of 0.3
    phi = float(np.exp(-step / pd.Timedelta(days=5)))
    logvol = _ar1(rng.normal(0.0, 0.3 * np.sqrt(1.0 - phi * phi), n), phi)
    sigma = annual / np.sqrt(per_year) * np.exp(logvol)
    steps = rng.standard_normal((n, _SUB)) * (sigma[:, None] / np.sqrt(_SUB))
    path = np.cumsum(steps.ravel()).reshape(n, _SUB)
    first = np.exp(rng.uniform(np.log(0.05), np.log(100_000.0)))
    prev = np.r_[0.0, path[:-1, -1]]
    p = first * np.exp(np.column_stack([prev, path]))
    close = p[:, -1]
    volume = rng.lognormal(0.0, 0.5, n) * (sigma / sigma.mean()) ** 1.5 * (1e7 / first)
    ret = np.diff(np.log(close), prepend=np.log(p[0, 0]))
    oi_log = np.cumsum(rng.normal(0.0, 0.5, n) * sigma + 0.3 * ret)
    oi = rng.uniform(2e7, 5e9) * np.exp(oi_log)
    index = pd.date_range(pd.Timestamp(start), periods=n, freq=step, tz="UTC" if pd.Timestamp(start).tzinfo is None else None)
    df = pd.DataFrame(
        {"open": p[:, 0], "high": p.max(axis=1), "low": p.min(axis=1), "close": close, "volume": volume, "oi_usd": oi},
        index=index.rename("time"),
    )
    return validate_market(df)


def _ar1(shocks: np.ndarray, phi: float) -> np.ndarray:
    """``x_i = phi * x_(i-1) + shock_i`` from ``x_-1 = 0``, without a Python loop."""
    from scipy.signal import lfilter

    return np.asarray(lfilter([1.0], [1.0, -max(phi, 0.0)], shocks), dtype=np.float64)


def write_universe(folder: str | os.PathLike[str], n: int, *, days: float = 30, freq: str = "1min", first_seed: int = 0) -> pd.DataFrame:
    """Write ``n`` generated markets as parquet files into ``folder``; returns the jobs frame that scans them.

    The jobs frame has a ``path`` column (one file per market, ``gen-<seed>.parquet``) and a ``market``
    label (``gen-<seed>``). Files already there with the same name are replaced.

    Examples
    --------
    >>> import tempfile
    >>> jobs = write_universe(tempfile.mkdtemp(), 2, days=2, freq="1h")
    >>> jobs["market"].tolist()
    ['gen-0', 'gen-1']
    """
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise DataError(f"n must be a positive number of markets, got {n!r}")
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder: create it first")
    rows = []
    for seed in range(int(first_seed), int(first_seed) + int(n)):
        path = root / f"gen-{seed}.parquet"
        generated_market(seed, days=days, freq=freq).to_parquet(path)
        rows.append({"market": f"gen-{seed}", "path": str(path)})
    return pd.DataFrame(rows, columns=["market", "path"])
