"""Compiled checks behind :func:`liqtools.schema.validate_market` (numba): whether a column, or a candle's
open, high, low and close, hold only acceptable values, in one pass without a branch per value.

They answer only yes or no, in about a quarter of numpy's time on a year of 1-minute candles (a dozen
whole-column passes are one); when the answer is no, the schema's numpy checks find the first offending
row and name it.
"""

from __future__ import annotations

import numpy as np

from liqtools._jit import jit


@jit
def column_fine(x, nullable, floor, strict, max_abs):  # type: ignore[no-untyped-def]
    """Every value within ``max_abs`` in magnitude (no infinity; NaN only when ``nullable``) and at least
    ``floor`` (above it when ``strict``; NaN is not below anything)."""
    big = nan = low = 0
    for i in range(len(x)):
        v = x[i]
        big += abs(v) > max_abs
        nan += np.isnan(v)
        low += (v <= floor) if strict else (v < floor)
    return big == 0 and (nullable or nan == 0) and low == 0


@jit
def candles_fine(open_, high, low, close):  # type: ignore[no-untyped-def]
    """No high below its low, no open or close outside ``[low, high]``."""
    bad = 0
    for i in range(len(high)):
        h, lo = high[i], low[i]
        bad += (h < lo) + (open_[i] > h) + (open_[i] < lo) + (close[i] > h) + (close[i] < lo)
    return bad == 0


@jit
def times_fine(t):  # type: ignore[no-untyped-def]
    """Nanosecond times (``DatetimeIndex.asi8``) rising strictly, none of them NaT (the lowest int64)."""
    bad = 0
    nat = np.iinfo(np.int64).min
    for i in range(len(t)):
        bad += t[i] == nat
        if i > 0:
            bad += t[i] <= t[i - 1]
    return bad == 0


@jit
def none_above(x, y, factor):  # type: ignore[no-untyped-def]
    """No ``x[i] > y[i] * factor`` (a NaN on either side is not above)."""
    bad = 0
    for i in range(len(x)):
        bad += x[i] > y[i] * factor
    return bad == 0
