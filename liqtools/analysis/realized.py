"""Realized liquidations: checking them and lining them up with the candles, period by period.

Realized data come per period (an hour, a UTC day), in USD or in coin. :func:`check_realized` checks the
frame itself; :func:`realized_periods` lines it up with a market frame's candles: it refuses a realized
index off the candle grid, keeps the periods the candles cover completely, converts coin amounts to USD,
and gives the per-period figures every score is built on (:class:`Periods`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from liqtools.errors import DataError

__all__ = ["Periods", "Units", "check_realized", "check_units", "realized_periods"]

Units = Literal["usd", "coin"]


def check_units(units: object) -> Units:
    """``"usd"`` or ``"coin"``, else a DataError.

    >>> check_units("coin")
    'coin'
    >>> check_units("btc")
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: units must be 'usd' or 'coin' (base-coin amounts, converted with each candle's close), got 'btc'
    """
    if units not in ("usd", "coin"):
        raise DataError(
            f"units must be 'usd' or 'coin' (base-coin amounts, converted with each candle's close), got {units!r}"
        )
    return units  # type: ignore[return-value]


def check_realized(
    realized: pd.DataFrame, period: str | pd.Timedelta | None = None
) -> tuple[pd.DataFrame, pd.Timedelta]:
    """Validate realized liquidations (``long_usd, short_usd`` per period, a UTC index of period starts)
    and return them as floats with the period length (given, or the most common spacing of the index).

    The columns are named ``*_usd`` whatever the units; :func:`realized_periods` converts coin amounts.

    Examples
    --------
    >>> from liqtools import load_sample_liquidations
    >>> real, period = check_realized(load_sample_liquidations())
    >>> list(real.columns), str(period)
    (['long_usd', 'short_usd'], '1 days 00:00:00')
    """
    if not isinstance(realized, pd.DataFrame):
        raise DataError(f"realized must be a DataFrame with columns long_usd, short_usd, got {type(realized).__name__}")
    missing = [c for c in ("long_usd", "short_usd") if c not in realized.columns]
    if missing:
        raise DataError(
            f"realized liquidations are missing column(s) {missing}; they need long_usd and short_usd per period"
        )
    if len(realized) == 0:
        raise DataError("realized liquidations are empty")
    index = realized.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("realized liquidations need a UTC DatetimeIndex of period starts")
    index = index.tz_convert("UTC")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise DataError("realized liquidations' index must be sorted and unique")
    out = pd.DataFrame(index=index)
    for col in ("long_usd", "short_usd"):
        values = pd.to_numeric(realized[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"realized column {col!r} must be finite and >= 0, got {values[pos]} at {index[pos]}")
        out[col] = values
    if period is None:
        inferred = candle_step(index)  # the most common spacing of the realized index
        if inferred is None:
            raise DataError("cannot infer the period of a single realized row; pass period='1D' (or the right length)")
        period_td = inferred
    else:
        try:
            period_td = pd.Timedelta(period)
        except (TypeError, ValueError) as exc:
            raise DataError(f"period must be a time length such as '1D', got {period!r}") from exc
    if not period_td > pd.Timedelta(0):
        raise DataError(f"period must be positive, got {period_td}")
    return out, period_td


def candle_step(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The most common spacing of the candles (None for a single candle)."""
    if len(index) < 2:
        return None
    step = pd.Series(np.diff(index.asi8)).mode().iloc[0]
    return pd.Timedelta(int(step), unit=index.unit)


def _check_grid(idx: pd.DatetimeIndex, real_idx: pd.DatetimeIndex, period: pd.Timedelta) -> pd.Timedelta:
    """The candle length, after checking that the realized periods sit on the candle grid."""
    candle = candle_step(idx)
    if candle is None:
        return period
    ratio = period / candle
    if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9:
        raise DataError(
            f"realized period {period} is not a whole number of candles ({candle} each); resample the realized "
            "data to the candles' period or a multiple of it"
        )
    real_ns = real_idx.as_unit("ns").asi8
    off = (real_ns - idx.as_unit("ns").asi8[0]) % int(candle.value)
    if off.any():
        pos = int(np.flatnonzero(off)[0])
        raise DataError(
            f"realized period start {real_idx[pos]} (row {pos}) is not on the candle grid ({candle} candles from "
            f"{idx[0]}); realized periods must start at a candle's open"
        )
    gaps = np.diff(real_ns) % int(period.value)
    if gaps.any():
        pos = int(np.flatnonzero(gaps)[0]) + 1
        raise DataError(
            f"realized row {pos} ({real_idx[pos]}) is not a whole number of {period} periods after the previous "
            "row; the realized index must be regular (missing periods may be absent)"
        )
    return candle


@dataclass(frozen=True, eq=False)
class Periods:
    """Candles grouped into the realized periods they fully cover.

    Attributes
    ----------
    code
        Per candle: row of the kept period it belongs to, or -1.
    starts
        Start of every kept period.
    realized
        ``long_usd, short_usd`` of the kept periods, in USD (converted when the input was in coin).
    period
        Length of a period.
    units
        Units of the input: ``"usd"`` or ``"coin"``.
    """

    code: np.ndarray
    starts: pd.DatetimeIndex
    realized: pd.DataFrame
    period: pd.Timedelta
    units: Units
    first: np.ndarray  # first candle of each kept period
    last: np.ndarray  # last candle of each kept period

    def __len__(self) -> int:
        return len(self.starts)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per kept period of a per-candle array ``(n,)`` or ``(n, k)``."""
        ok = self.code >= 0
        p = len(self.starts)
        if values.ndim == 1:
            return np.bincount(self.code[ok], weights=values[ok], minlength=p)
        return np.stack(
            [np.bincount(self.code[ok], weights=values[ok, j], minlength=p) for j in range(values.shape[1])], axis=1
        )

    def adverse(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The period's adverse ranges ``log(open/low)`` (longs) and ``log(high/open)`` (shorts)."""
        ok = self.code >= 0
        code = self.code[ok]
        open_ = df["open"].to_numpy()[self.first]
        low = pd.Series(df["low"].to_numpy()[ok]).groupby(code).min().to_numpy()
        high = pd.Series(df["high"].to_numpy()[ok]).groupby(code).max().to_numpy()
        return np.log(open_ / low), np.log(high / open_)

    def frame(self, df: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
        """Per period: realized and predicted USD per side and the adverse ranges."""
        adv_long, adv_short = self.adverse(df)
        return pd.DataFrame(
            {
                "realized_long_usd": self.realized["long_usd"].to_numpy(),
                "realized_short_usd": self.realized["short_usd"].to_numpy(),
                "predicted_long_usd": self.sum(predicted["long_usd"].to_numpy()),
                "predicted_short_usd": self.sum(predicted["short_usd"].to_numpy()),
                "adverse_long": adv_long,
                "adverse_short": adv_short,
            },
            index=pd.DatetimeIndex(self.starts, name="period"),
        )


def realized_periods(
    df: pd.DataFrame,
    realized: pd.DataFrame,
    period: str | pd.Timedelta | None = None,
    *,
    units: Units = "usd",
) -> Periods:
    """Line realized liquidations up with the candles of ``df`` (a validated market frame).

    A realized period is kept when the candles cover it completely. Realized amounts in ``units="coin"``
    are converted to USD with the close: for periods of one candle, that candle's close; for longer
    periods (the coin total is all there is), the mean close of the period's candles.

    Raises
    ------
    DataError
        for bad realized data (:func:`check_realized`), bad units, a period that is not a whole number of
        candles, a period start off the candle grid, an irregular realized index, or no fully covered period.

    Examples
    --------
    >>> from liqtools import load_sample, load_sample_liquidations
    >>> per = realized_periods(load_sample(), load_sample_liquidations())
    >>> len(per), str(per.starts[0].date()), per.units
    (49, '2025-12-08', 'usd')
    """
    units = check_units(units)
    real, period_td = check_realized(realized, period)
    idx = df.index
    real_idx = real.index
    candle = _check_grid(idx, real_idx, period_td)
    pos = real_idx.searchsorted(idx, side="right") - 1
    inside = (pos >= 0) & (idx < real_idx[np.maximum(pos, 0)] + period_td)
    pos = np.where(inside, pos, -1)
    expected = max(round(period_td / candle), 1)
    counts = np.bincount(pos[pos >= 0], minlength=len(real_idx))
    full = counts >= expected
    if not full.any():
        raise DataError(
            f"realized liquidations ({real_idx[0]} .. {real_idx[-1]} + {period_td}) do not overlap the candles "
            f"({idx[0]} .. {idx[-1]}) in any fully covered period; they must cover the same time"
        )
    keep = np.flatnonzero(full)
    new_code = np.full(len(real_idx), -1)
    new_code[keep] = np.arange(len(keep))
    code = np.where(pos >= 0, new_code[np.maximum(pos, 0)], -1)
    ok = np.flatnonzero(code >= 0)
    first = np.full(len(keep), -1)
    last = np.full(len(keep), -1)
    first[code[ok][::-1]] = ok[::-1]
    last[code[ok]] = ok
    kept = real.iloc[keep].copy()
    if units == "coin":
        close = df["close"].to_numpy()
        price = np.bincount(code[ok], weights=close[ok], minlength=len(keep)) / np.bincount(code[ok], minlength=len(keep))
        kept = kept.mul(price, axis=0)
    return Periods(code, real_idx[keep], kept, period_td, units, first, last)
