"""Indicators on the market frame: velocity, relative volume, realized volatility, RSI, distance to clusters.

Every function takes a market frame (see :mod:`liqtools.schema`) and returns a Series or DataFrame on
the same index. Each value at candle t uses candles up to and including t only (no look-ahead); the
first candles, whose window is incomplete, are NaN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = [
    "BandsLike",
    "as_bands",
    "cluster_distance",
    "indicators",
    "realized_volatility",
    "rsi",
    "velocity",
    "volume_ratio",
]

BandsLike: TypeAlias = pd.DataFrame | Iterable[tuple[float, float, str]]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_bands(bands: BandsLike) -> pd.DataFrame:
    """Price bands as a ``low, high, side`` frame: a :func:`find_clusters` frame or ``(low, high, side)`` tuples.

    Raises a :class:`DataError` naming the band when ``low >= high``, a bound is not a positive finite
    number, or the side is not ``"long"``/``"short"``.

    Examples
    --------
    >>> as_bands([(70_000, 71_000, "long"), (76_000, 77_500, "short")])
         low     high   side
    0  70000.0  71000.0   long
    1  76000.0  77500.0  short
    >>> as_bands([(71_000, 70_000, "long")])
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: band 0 has low >= high (71000.0 >= 70000.0); a band is (low, high, side) with low < high
    """
    if isinstance(bands, pd.DataFrame):
        missing = [c for c in ("low", "high", "side") if c not in bands.columns]
        if missing:
            raise DataError(
                f"bands frame is missing column(s) {missing}; pass find_clusters output or (low, high, side) tuples"
            )
        frame = bands[["low", "high", "side"]].reset_index(drop=True)
    else:
        rows = []
        band: Any
        for k, band in enumerate(bands):
            try:
                low, high, side = band
            except (TypeError, ValueError) as exc:
                raise DataError(f"band {k} must be a (low, high, side) tuple, got {band!r}") from exc
            rows.append((low, high, side))
        frame = pd.DataFrame(rows, columns=["low", "high", "side"])
    if frame.empty:
        raise DataError("bands is empty: give at least one (low, high, side) band")
    try:
        low = frame["low"].to_numpy(dtype=np.float64)
        high = frame["high"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"band bounds must be numbers ({exc})") from exc
    for k in range(len(frame)):
        if not (np.isfinite(low[k]) and np.isfinite(high[k]) and low[k] > 0):
            raise DataError(f"band {k} has a bound that is not a positive finite number: low={low[k]}, high={high[k]}")
        if low[k] >= high[k]:
            raise DataError(
                f"band {k} has low >= high ({low[k]} >= {high[k]}); a band is (low, high, side) with low < high"
            )
        if frame["side"].iloc[k] not in ("long", "short"):
            raise DataError(f"band {k} has side {frame['side'].iloc[k]!r}; use 'long' or 'short'")
    return pd.DataFrame({"low": low, "high": high, "side": frame["side"].astype(str).to_numpy()})


def velocity(df: pd.DataFrame, lookback: int = 12) -> pd.Series:
    """Log-return per candle over the last ``lookback`` candles: ``log(close_t / close_{t-lookback}) / lookback``.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> v = velocity(load_sample(), 12)
    >>> int(v.isna().sum()), bool(v.abs().max() < 0.02)
    (12, True)
    """
    lookback = _positive_int(lookback, "lookback")
    close = validate_market(df)["close"]
    return (np.log(close) - np.log(close.shift(lookback))).div(lookback).rename("velocity")


def _trailing_median(volume: pd.Series, window: int) -> pd.Series:
    """Median of the ``window`` candles before t (t itself excluded)."""
    return volume.rolling(window, min_periods=window).median().shift(1)


def volume_ratio(df: pd.DataFrame, window: int = 24) -> pd.Series:
    """Volume relative to its trailing median: ``volume_t / median(volume_{t-window} .. volume_{t-1})``.

    NaN where the window is incomplete or its median is 0.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> r = volume_ratio(load_sample(), 24)
    >>> bool(0.5 < r.median() < 2)
    True
    """
    window = _positive_int(window, "window")
    volume = validate_market(df)["volume"]
    med = _trailing_median(volume, window)
    return (volume / med.where(med > 0)).rename("volume_ratio")


def realized_volatility(df: pd.DataFrame, window: int = 24) -> pd.Series:
    """Standard deviation of the last ``window`` close-to-close log returns (per candle, not annualised).

    Examples
    --------
    >>> from liqtools import load_sample
    >>> rv = realized_volatility(load_sample(), 24)
    >>> bool(0.001 < rv.median() < 0.02)
    True
    """
    window = _positive_int(window, "window")
    if window < 2:
        raise DataError(f"window must be >= 2 for a standard deviation, got {window}")
    close = validate_market(df)["close"]
    return np.log(close).diff().rolling(window, min_periods=window).std().rename("realized_volatility")


def rsi(df: pd.DataFrame, period: int = 14) -> pd.Series:
    """Wilder's relative strength index (0-100) of the close.

    Average gains and losses are Wilder's smoothing (an exponential average with ``alpha = 1/period``)
    seeded by the simple mean of the first ``period`` changes. 100 when there were no losses.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> r = rsi(load_sample())
    >>> bool(r.dropna().between(0, 100).all()), int(r.isna().sum())
    (True, 14)
    """
    period = _positive_int(period, "period")
    close = validate_market(df)["close"].to_numpy()
    n = len(close)
    out = np.full(n, np.nan)
    if n > period:
        change = np.diff(close)
        gain, loss = np.maximum(change, 0.0), np.maximum(-change, 0.0)
        avg_g, avg_l = gain[:period].mean(), loss[:period].mean()
        alpha = 1.0 / period
        values = [(avg_g, avg_l)]
        for g, lo in zip(gain[period:], loss[period:]):
            avg_g += alpha * (g - avg_g)
            avg_l += alpha * (lo - avg_l)
            values.append((avg_g, avg_l))
        ag, al = np.array(values).T
        with np.errstate(divide="ignore", invalid="ignore"):
            out[period:] = np.where(al > 0, 100.0 - 100.0 / (1.0 + ag / al), 100.0)
    return pd.Series(out, index=df.index, name="rsi")


def cluster_distance(df: pd.DataFrame, bands: BandsLike) -> pd.DataFrame:
    """Distance from each close to the nearest band of each side, in percent of the close.

    ``to_short_pct``: to the near (low) edge of the nearest short band at or above the close (>= 0;
    0 inside a band); ``to_long_pct``: to the near (high) edge of the nearest long band at or below
    the close (<= 0). NaN when that side has no band on its side of the price.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2026-01-01", periods=2, freq="h", tz="UTC")
    >>> df = pd.DataFrame({"open": 100.0, "high": [101.0, 105.0], "low": 99.0, "close": [100.0, 104.5],
    ...                    "volume": 1.0}, index=idx)
    >>> cluster_distance(df, [(104, 106, "short"), (95, 96, "long")]).round(2).to_numpy().tolist()
    [[4.0, -4.0], [0.0, -8.13]]
    """
    b = as_bands(bands)
    close = validate_market(df)["close"].to_numpy()
    out = {}
    for side, column in (("short", "to_short_pct"), ("long", "to_long_pct")):
        sel = b[b["side"] == side]
        lo = sel["low"].to_numpy()[None, :]
        hi = sel["high"].to_numpy()[None, :]
        c = close[:, None]
        if side == "short":
            ok = hi >= c
            dist = np.where(ok, np.maximum(lo - c, 0.0), np.inf).min(axis=1, initial=np.inf)
        else:
            ok = lo <= c
            dist = -np.where(ok, np.maximum(c - hi, 0.0), np.inf).min(axis=1, initial=np.inf)
        dist = np.where(np.isfinite(dist), dist / close * 100.0, np.nan)
        out[column] = dist
    return pd.DataFrame(out, index=df.index)


def indicators(
    df: pd.DataFrame,
    bands: BandsLike | None = None,
    *,
    lookback: int = 12,
    window: int = 24,
    rsi_period: int = 14,
) -> pd.DataFrame:
    """All indicators in one frame: ``velocity, volume_ratio, realized_volatility, rsi`` and, with bands,
    ``to_short_pct, to_long_pct``.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> list(indicators(load_sample(), [(80_000, 81_000, "short")]).columns)
    ['velocity', 'volume_ratio', 'realized_volatility', 'rsi', 'to_short_pct', 'to_long_pct']
    """
    df = validate_market(df)
    parts = [velocity(df, lookback), volume_ratio(df, window), realized_volatility(df, window), rsi(df, rsi_period)]
    out = pd.concat(parts, axis=1)
    if bands is not None:
        out = out.join(cluster_distance(df, bands))
    return out
