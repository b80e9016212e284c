"""Compiled loops behind the closing logs (numba): each per-candle array in one pass and in place.

numpy needs a dozen passes and as many per-candle temporaries for these, and on a year of 1-minute candles
each temporary is 4 MB of memory the process may have to fault in anew (docs/speed.md). The logarithm
itself stays numpy's, so the logs are the same bit for bit. :func:`liqtools.analysis._build.class_steps`
calls these; they trust its inputs.
"""

from __future__ import annotations

import numpy as np

from liqtools._jit import jit as _jit


@_jit
def closing_ratio(prev, cur, turnover, out):  # type: ignore[no-untyped-def]
    """``out[i] = (fmin(prev, cur) - turnover) / prev`` (``np.fmin``: the number when one is NaN); returns how
    many ratios are at or below 1e-300, whose log is taken apart, from ``keep`` and ``prev`` (a NaN ratio,
    where open interest is unknown, is not counted: its log is NaN either way)."""
    tiny = 0
    for i in range(len(out)):
        p, c = prev[i], cur[i]
        keep = p if (p <= c or np.isnan(c)) else c  # np.fmin, operation for operation
        r = (keep - turnover[i]) / p
        if r <= 1e-300:
            tiny += 1
        out[i] = r
    return tiny


@_jit
def keep_steps(step, prev, cur, turnover):  # type: ignore[no-untyped-def]
    """``step[i] = 0`` where open interest is unknown, and where it rose without turnover (in place)."""
    inf = np.inf
    for i in range(len(step)):
        p, c = prev[i], cur[i]
        unknown = not (abs(p) < inf and abs(c) < inf)
        if unknown or (c >= p and not turnover[i] > 0):
            step[i] = 0.0
    return step


@_jit
def settle_row(row, reset_nats, cumulative, resets):  # type: ignore[no-untyped-def]
    """One class's steps, in place: NaN becomes -inf, a step at or below ``-reset_nats`` (a complete closing)
    becomes 0 and its candle goes into ``resets``; then, when ``cumulative``, the running sum (as np.cumsum
    adds, from the first element on). Returns the number of resets written."""
    n_reset = 0
    acc = 0.0
    for i in range(len(row)):
        v = row[i]
        if np.isnan(v):
            v = -np.inf
        if v <= -reset_nats:
            v = 0.0
            resets[n_reset] = i
            n_reset += 1
        if cumulative:
            acc = v if i == 0 else acc + v
            v = acc
        row[i] = v
    return n_reset
