"""Compiled loops over the candles (numba): open interest carried forward, the candles that open positions,
and the flows' accounting, each in one pass into arrays aligned for huge pages.

On a year of 1-minute candles every numpy temporary here is 4 MB of memory the process may have to fault
in anew, which on this project's VM cost more than the arithmetic (docs/speed.md). Each loop does what
the numpy expression in its docstring does, operation for operation, so the results are the same bit for
bit (tests/test_per_candle.py).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from liqtools._jit import jit as _jit
from liqtools.analysis._memory import big_empty


@_jit
def _carry(oi, d_oi, carried):  # type: ignore[no-untyped-def]
    last = np.nan
    carried[0] = last
    for i in range(len(oi)):
        if not np.isnan(oi[i]):
            last = oi[i]
        carried[i + 1] = last
        d = last - carried[i]
        d_oi[i] = d if abs(d) < np.inf else 0.0
    return d_oi


def carry_oi(oi: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``d_oi, prev, cur``: ``cur`` = ``oi`` carried forward over NaN (``pd.Series.ffill``), ``prev`` = ``cur``
    one candle later (NaN first), ``d_oi = cur - prev`` with 0 where that is not finite. ``prev`` and ``cur``
    are two read-only views of one array, one element apart.

    >>> d, prev, cur = carry_oi(np.array([np.nan, 5.0, np.nan, 7.0]))
    >>> d.tolist(), prev.tolist()[1:], cur.tolist()[1:]
    ([0.0, 0.0, 0.0, 2.0], [nan, 5.0, 5.0], [5.0, 5.0, 7.0])
    """
    oi = np.ascontiguousarray(oi, dtype=np.float64)
    n = len(oi)
    d_oi, carried = big_empty(n), big_empty(n + 1)
    _carry(oi, d_oi, carried)
    prev, cur = carried[:n], carried[1:]
    prev.flags.writeable = cur.flags.writeable = False  # a write to one would change the other
    return d_oi, prev, cur


@_jit
def _positive_at(x, out):  # type: ignore[no-untyped-def]
    j = 0
    for i in range(len(x)):  # without a branch: half the candles open positions, at random
        out[j] = i
        j += x[i] > 0
    return j


def positive_at(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """``np.flatnonzero(x > 0)``.

    >>> positive_at(np.array([0.0, 2.0, np.nan, -1.0, 3.0])).tolist()
    [1, 4]
    """
    out = big_empty(len(x), dtype=np.int64)  # only the pages written are touched (index j <= i)
    return out[: _positive_at(np.ascontiguousarray(x, dtype=np.float64), out)]


@_jit
def flows_of_side(new_oi, share, liq, active, opened, closed):  # type: ignore[no-untyped-def]
    """One side's opened and closed USD per candle: ``opened = new_oi * share``; ``closed`` = the active
    notional before the candle (0 for the first) ``+ opened - liq - active``, clipped at 0 (a NaN stays
    NaN)."""
    before = 0.0
    for i in range(len(new_oi)):
        o = new_oi[i] * share[i]
        c = before + o
        c -= liq[i]
        c -= active[i]
        opened[i] = o
        closed[i] = c if (c > 0.0 or np.isnan(c)) else 0.0
        before = active[i]
    return closed
