"""The heatmap's numeric core: first-crossing search and span sums with decay (checked wrappers of the compiled loops).

Private: the public face is :func:`liqtools.analysis.liquidation_heatmap`.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from liqtools.analysis._build import Levels

from liqtools.analysis._kernels import bins as bins_kernel
from liqtools.analysis._kernels import finish_rows, first_at_or_below_sorted, span_scatter
from liqtools.analysis._kernels import liquidated_per_candle as liquidated_kernel
from liqtools.analysis._memory import big_zeros

# Exponents of exp() stay within this many nats inside one epoch (exp(600) ~ 1e260 < float64 max).
_EPOCH_NATS = 600.0
# From this many levels on, independent compiled passes run on two threads (below, a thread costs more
# than it saves, and scans on a cluster keep one thread per task).
PARALLEL_LEVELS = 1 << 20


def in_parallel(n_levels: int, *calls: Callable[[], Any], spare: Callable[[], Any] | None = None) -> list[Any]:
    """The calls' results, in order; on threads from :data:`PARALLEL_LEVELS` levels on (the compiled loops
    release the GIL), unless the process is meant to use one thread: one core, or ``OMP_NUM_THREADS=1`` as
    Dask's worker processes have it (a cluster already keeps every core busy). Each call writes only its
    own arrays, so the results are the same either way.

    ``spare``: work that needs none of the calls, run once by the thread that finishes its call first
    (which side's work is the longer depends on the market), its result appended to the list.

    >>> in_parallel(PARALLEL_LEVELS, lambda: 1, lambda: 2)
    [1, 2]
    >>> in_parallel(PARALLEL_LEVELS, lambda: 1, lambda: 2, spare=lambda: 3)
    [1, 2, 3]
    """
    if spare is not None:
        taken, done = threading.Lock(), []

        def then(call: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                out = call()
                if taken.acquire(blocking=False):  # the first thread here takes the spare work
                    done.append(spare())
                return out

            return run

        return [*in_parallel(n_levels, *map(then, calls)), *done]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    one_thread = os.environ.get("OMP_NUM_THREADS", "").strip() == "1" or cores < 2
    if n_levels < PARALLEL_LEVELS or len(calls) < 2 or one_thread:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls) - 1, thread_name_prefix="liqtools") as pool:
        rest = [pool.submit(call) for call in calls[1:]]
        return [calls[0](), *(f.result() for f in rest)]


def first_at_or_below(x: NDArray[np.float64], start: NDArray[np.int64], threshold: NDArray[np.float64], *, above: bool = False, offset: int = 0, out: NDArray[np.int64] | None = None, period: int = 1) -> NDArray[np.int64]:
    """For each query k, the first index ``j >= start[k] + offset`` with ``x[j] <= threshold[k]`` (``>=`` when
    ``above``); ``len(x)`` if none. ``x`` holds no NaN (validated prices). Written into ``out`` when given (an
    int64 array of the queries' length). ``period``: how many queries each start has, when they come in
    groups of the same tiers (the levels of a leverage profile): only the speed depends on it.

    One compiled pass from the end (:func:`~liqtools.analysis._kernels.first_at_or_below_sorted`): O(n +
    queries * log(how far each answer lies from its hint)) with no table in memory. Queries whose starts are
    not in order are sorted first.

    >>> first_at_or_below(np.array([5.0, 3.0, 4.0, 1.0]), np.array([0, 2, 3]), np.array([3.5, 3.5, 0.5]))
    array([1, 3, 4])
    >>> first_at_or_below(np.array([5.0, 3.0, 4.0, 1.0]), np.array([0, 0]), np.array([3.5, 6.0]), above=True, offset=1)
    array([2, 4])
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    pos = np.ascontiguousarray(start, dtype=np.int64)
    thr = np.ascontiguousarray(threshold, dtype=np.float64)
    if out is None:
        out = np.empty(len(pos), dtype=np.int64)
    elif out.shape != pos.shape or out.dtype != np.int64:
        raise ValueError(f"out must be int64 of shape {pos.shape}, got {out.dtype} {out.shape}")
    sign = -1.0 if above else 1.0
    if not first_at_or_below_sorted(x, pos, thr, out, sign, int(offset), int(period)):
        order = np.argsort(pos, kind="stable")
        first_at_or_below_sorted(x, pos[order], thr[order], out, sign, int(offset), int(period))
        out[order] = out.copy()
    return out


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


def span_sum(
    start: NDArray[np.int64],
    stop: NDArray[np.int64],
    col: NDArray[np.int32],
    is_long: NDArray[np.bool_],
    value: NDArray[np.float64],
    created: NDArray[np.int64],
    log_j: NDArray[np.float64],
    row_log: NDArray[np.float64],
    n_cols: int,
    *,
    every: int = 1,
    cls: NDArray[np.int64] | None = None,
    j: int = -1,
    breaks: NDArray[np.int64] | None = None,
    price: NDArray[np.float64] | None = None,
    edges: NDArray[np.float64] | None = None,
    into: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """``out[s, r, c] = sum of value * exp(row_log[r] - log_j[created])`` over the pieces of side ``s`` (0 long,
    1 short) with ``col == c`` (every piece when ``col`` has length 1) and ``start // every <= r < stop //
    every`` (only those of class ``j`` when ``cls`` is given).

    ``row_log`` must be non-increasing (the class's cumulative log closing factor at each row). Difference
    arrays and one cumulative sum per epoch make this O(pieces + rows * n_cols), each a compiled pass
    (:mod:`liqtools.analysis._kernels`). A cell that all its pieces have left holds a rounding residue of
    order 1e-16 times the notional that passed through it (clipped at 0), except after a row in ``breaks``
    (rows where every earlier piece has ended), where the sums restart. With ``edges``, a piece's column is
    its ``price``'s bin (:func:`bins`, computed in the same pass; ``col`` is not read). With ``into`` (of the
    result's shape) the sums are added to it (a mix of classes, class by class, without a second result).
    """
    out = np.zeros((2, len(row_log), n_cols))
    if into is not None and into.shape != out.shape:
        raise ValueError(f"into must have shape {out.shape}, got {into.shape}")
    if len(value) == 0:
        return out if into is None else into
    which = np.zeros(1, dtype=np.int64) if cls is None else cls
    if (edges is None) != (price is None):
        raise ValueError("span_sum bins prices with both price= and edges=, or neither")
    if edges is None or price is None:
        price, edges = np.zeros(0), np.zeros(0)
    else:
        price, edges = np.ascontiguousarray(price, dtype=np.float64), np.ascontiguousarray(edges, dtype=np.float64)
        if len(edges) != n_cols + 1 or len(price) != len(value):
            raise ValueError(f"edges must bound the {n_cols} columns and price hold one value per piece")
    starts = set() if breaks is None else {int(b) for b in breaks}
    none = np.zeros((0, n_cols))
    for e0, e1 in _epochs(row_log, breaks):
        base = float(row_log[e0])
        part = out[:, e0:e1]
        # the pieces in rows e0..e1-1 were created before candle e1 * every, and after e0 * every when a
        # complete closing starts the epoch (the kernel computes any other piece's factor itself)
        c0, c1 = (e0 * every if e0 in starts else 0), min(len(log_j), e1 * every)
        scale = np.exp(base - log_j[c0:c1])
        # each row's written columns, so the cumulative pass skips the cells that stay 0 (most of a wide grid)
        lo = np.full((2, e1 - e0 if n_cols > 1 else 0), n_cols, dtype=np.int64)
        hi = np.zeros_like(lo)
        span_scatter(part, e0, every, start, stop, col, is_long, value, created, which, j if cls is not None else -1, log_j, base, scale, c0, price, edges, lo, hi)
        factor = np.exp(row_log[e0:e1] - base)
        for s, matrix in enumerate(part):
            finish_rows(matrix, factor, none if into is None else into[s, e0:e1], lo[s], hi[s])
    return out if into is None else into


def bins(price: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int32]:
    """Bin of each price under half-open bins ``[edges[j], edges[j+1])`` of equal width (from
    :func:`~liqtools.analysis.bins.make_edges`), -1 below and ``n_bins`` above the range, as
    :func:`~liqtools.analysis.bins.bin_index` gives them, in one compiled pass and 32-bit.

    >>> bins(np.array([5.0, 15.0, 25.0, 35.0]), np.array([10.0, 20.0, 30.0]))
    array([-1,  0,  1,  2], dtype=int32)
    """
    out = np.empty(len(price), dtype=np.int32)
    return bins_kernel(np.ascontiguousarray(price, dtype=np.float64), np.ascontiguousarray(edges, dtype=np.float64), out)


def liquidated_per_candle(lv: Levels, log_factor: NDArray[np.float64], n_tiers: int = 0) -> NDArray[np.float64]:
    """USD liquidated per candle ``(2, n)``, longs then shorts, or per candle and tier ``(2, n, n_tiers)`` from
    ``lv.tier``: each liquidated level at its value before its consumption candle's closing step
    (:meth:`Levels.liquidated_value`, summed in one compiled pass)."""
    one = np.zeros(1, dtype=np.int64)
    if n_tiers and lv.tier is None:
        raise ValueError("per-tier sums need levels made with_tier")
    out = big_zeros((2, lv.n_candles, max(n_tiers, 1)))
    one_class, one_tier = log_factor.shape[0] == 1, not n_tiers
    cls = one if one_class else lv.cls
    tier = one if one_tier or lv.tier is None else lv.tier
    cut = lv.cut_at if lv.cut_at is not None else np.zeros(0, dtype=np.int64)
    liquidated_kernel(
        lv.created, lv.consumed, lv.end, lv.notional, lv.is_long, cls, tier, one_class, one_tier,
        np.ascontiguousarray(log_factor), cut, float(lv.cut_share), out,
    )
    return out if n_tiers else out[:, :, 0]
