"""Vectorised kernels behind the heatmap: first-crossing search and span sums with decay.

Private: the public face is :func:`liqtools.analysis.liquidation_heatmap`.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

# Exponents of exp() stay within this many nats inside one epoch (exp(600) ~ 1e260 < float64 max).
_EPOCH_NATS = 600.0
# Matrices of at least this many cells (32 MB of float64) are finished row by row (_finish_rows).
_ROW_LOOP_CELLS = 1 << 22


def sparse_table_buffer(n: int) -> NDArray[np.float64]:
    """Memory for :func:`first_at_or_below`'s table over ``n`` values (reusable across calls)."""
    return np.empty((max(int(np.log2(n)) + 1, 1) if n else 1, n + 1))


def first_at_or_below(
    x: NDArray[np.float64],
    start: NDArray[np.int64],
    threshold: NDArray[np.float64],
    *,
    table: NDArray[np.float64] | None = None,
) -> NDArray[np.int64]:
    """For each query k, the first index ``j >= start[k]`` with ``x[j] <= threshold[k]``; ``len(x)`` if none.

    A sparse table of window minima (``table[k][p] = min x[p : p + 2**k]``) lets every query descend
    the powers of two once: O((n + queries) log n) work, all in numpy, instead of rescanning candles.
    ``table`` may be a buffer from :func:`sparse_table_buffer` to reuse between calls.
    """
    n = len(x)
    pos = np.minimum(np.asarray(start, dtype=np.int64), n)
    if n == 0 or len(pos) == 0:
        return np.full(len(pos), n, dtype=np.int64)
    levels = int(np.log2(n)) + 1
    if table is None or table.shape != (levels, n + 1):
        table = sparse_table_buffer(n)
    table[0, :n] = x
    table[:, n] = np.inf
    for k in range(1, levels):
        half = 1 << (k - 1)
        prev, cur = table[k - 1], table[k]
        np.minimum(prev[: n + 1 - half], prev[half:], out=cur[: n + 1 - half])
        cur[n + 1 - half :] = prev[n + 1 - half :]  # windows running past the end
    thr = np.asarray(threshold, dtype=np.float64)
    for k in range(levels - 1, -1, -1):
        no_hit = table[k].take(pos) > thr
        pos += no_hit.astype(np.int64) << k
        np.minimum(pos, n, out=pos)
    return pos


def _epochs(row_log: NDArray[np.float64], breaks: NDArray[np.int64] | None = None) -> list[tuple[int, int]]:
    """Split rows into runs over which the (non-increasing) log factor falls by at most _EPOCH_NATS, and
    at every row in ``breaks`` (where everything alive before has gone: the sums restart clean)."""
    bounds = [0]
    n = len(row_log)
    while bounds[-1] < n:
        base = row_log[bounds[-1]]
        # first row whose log factor is more than _EPOCH_NATS below the epoch's base
        nxt = int(np.searchsorted(-row_log, -(base - _EPOCH_NATS), side="right"))
        bounds.append(max(nxt, bounds[-1] + 1) if nxt < n else n)
    if breaks is not None and len(breaks):
        bounds = sorted(set(bounds) | {int(b) for b in breaks if 0 < b < n})
    return list(itertools.pairwise(bounds))


def _finish_rows(m: NDArray[np.float64], factor: NDArray[np.float64]) -> None:
    """In place: cumulative sums down the rows, each row times its ``factor``, clipped at 0 (a cell emptied by
    exits keeps at most a rounding residue >= 0). Large wide arrays go row by row with the running sum kept
    apart, so the matrix is read and written once (the row loop beats three whole-matrix passes and
    np.cumsum(axis=0) once the matrix outgrows the caches); small ones (a widget's picture) in three passes,
    without a Python loop over rows. The arithmetic is the same either way."""
    if m.shape[1] < 64 or m.size < _ROW_LOOP_CELLS:
        np.cumsum(m, axis=0, out=m)
        m *= factor[:, None]
        np.maximum(m, 0.0, out=m)
        return
    carry = m[0].copy()
    for r in range(m.shape[0]):
        if r:
            np.add(carry, m[r], out=carry)
        np.multiply(carry, factor[r], out=m[r])
        np.maximum(m[r], 0.0, out=m[r])


def span_sum(
    row_a: NDArray[np.int64],
    row_b: NDArray[np.int64],
    col: NDArray[np.int64],
    n0: NDArray[np.float64],
    log_created: NDArray[np.float64],
    row_log: NDArray[np.float64],
    n_cols: int,
    breaks: NDArray[np.int64] | None = None,
) -> NDArray[np.float64]:
    """``out[r, c] = sum of n0 * exp(row_log[r] - log_created)`` over items with ``row_a <= r < row_b``, ``col == c``.

    ``row_log`` must be non-increasing (log of the cumulative closing factor). Difference arrays and one
    cumulative sum per epoch make this O(items + rows * n_cols). A cell that all its items have left
    holds a rounding residue of order 1e-16 times the notional that passed through it (clipped at 0),
    except after a row in ``breaks`` (rows where every earlier item has ended), where the sums restart.
    """
    n_rows = len(row_log)
    live = row_a < row_b
    if not live.any() or n_rows == 0:
        return np.zeros((n_rows, n_cols))
    if not live.all():
        row_a, row_b, col = row_a[live], row_b[live], col[live]
        n0, log_created = n0[live], log_created[live]
    pieces = []
    for e0, e1 in _epochs(row_log, breaks):
        sel = (row_a < e1) & (row_b > e0)
        if not sel.any():  # nothing alive in this epoch (e.g. after open interest collapsed)
            pieces.append(np.zeros((e1 - e0, n_cols)))
            continue
        if not sel.all():
            a, b, c, w0, lc = row_a[sel], row_b[sel], col[sel], n0[sel], log_created[sel]
        else:
            a, b, c, w0, lc = row_a, row_b, col, n0, log_created
        base = row_log[e0]
        rows = e1 - e0
        size = rows * n_cols
        w = w0 * np.exp(base - lc)
        start = (np.maximum(a, e0) - e0) * n_cols + c
        ends = b < e1
        stop = (b[ends] - e0) * n_cols + c[ends]
        counts = np.bincount(np.concatenate([start, stop]), weights=np.concatenate([w, -w[ends]]), minlength=size)
        acc: NDArray[np.float64] = counts.astype(np.float64, copy=False).reshape(rows, n_cols)
        _finish_rows(acc, np.exp(row_log[e0:e1] - base))
        pieces.append(acc)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
