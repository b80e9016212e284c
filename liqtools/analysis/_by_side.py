"""The heatmap's second phase in one pass over each side's levels, when the model allows it.

:func:`liquidation_heatmap` needs three sums over the levels: the snapshot matrices, the active notional
per candle and the liquidated USD per candle. In general each is its own compiled pass over all levels.
When every closing class's logs stay within one epoch and nothing closes completely (docs/model.md's
default, and most options: mixes and near-liquidation cuts included), the three are one pass over each
side's levels of each class (:func:`~liqtools.analysis._side_kernels.side_pass`), the longs on one thread and
the shorts on the other: the level arrays are read once instead of three times. The pictures are kept by
column, each price bin from its first level on (:class:`~liqtools.analysis.snapshots.ColumnSpans`), so
the cells no level reaches are never written nor faulted in. The pictures and the active notional are the
general passes' own sums, bit for bit; the liquidated notional takes one exp per candle where the general
pass takes one per level (:mod:`liqtools.analysis._side_kernels`), so it may differ from theirs in the
last digits: within 1e-12 of them (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqtools.analysis._build import Levels
from liqtools.analysis._memory import big_empty, big_zeros
from liqtools.analysis._numeric import _epochs, in_parallel
from liqtools.analysis._side_kernels import finish_candles, finish_spans, side_pass
from liqtools.analysis.snapshots import ColumnSpans


def _exp_diff(a: NDArray[np.float64] | float, b: NDArray[np.float64] | float) -> NDArray[np.float64]:
    """``exp(a - b)`` in one array of its own (a per-candle array on a year is 4 MB of fresh memory: aligned
    for huge pages, and no temporary)."""
    out = big_empty(np.broadcast_shapes(np.shape(a), np.shape(b)))
    np.subtract(a, b, out=out)
    return np.exp(out, out=out)


def _class_sides(lv: Levels, n_classes: int) -> list[tuple[slice, slice]] | None:
    """Per closing class, the slices of its longs and of its shorts; None unless the levels come class by
    class, longs before shorts (as model_levels makes them)."""
    if n_classes == 1:
        bounds = [0, len(lv.cls)]
    else:
        if np.any(lv.cls[1:] < lv.cls[:-1]):
            return None
        bounds = np.searchsorted(lv.cls, np.arange(n_classes + 1)).tolist()
    out = []
    for j in range(n_classes):
        b0, b1 = bounds[j], bounds[j + 1]
        mid = b0 + int(np.count_nonzero(lv.is_long[b0:b1]))
        if lv.is_long[mid:b1].any():
            return None
        out.append((slice(b0, mid), slice(mid, b1)))
    return out


def sides_at_once(lv: Levels, log_factor: NDArray[np.float64], edges: NDArray[np.float64], snap_candles: NDArray[np.int64], every: int, liq: NDArray[np.float64], active: NDArray[np.float64], scratch: tuple[NDArray[np.float64], NDArray[np.float64]], spare: Callable[[], Any], after: Callable[[int], None]) -> tuple[list[ColumnSpans], Any] | None:
    """The snapshot matrices of the longs and of the shorts, as column spans, with the liquidated and active
    USD per candle written into ``liq`` and ``active`` (each ``(2, n)``, zeros; ``scratch``: two more such
    arrays, zeros, left with the passes' sums for ``after`` to overwrite), and what ``spare()`` gives
    (run by the side done first: see :func:`~liqtools.analysis._numeric.in_parallel`); ``after(s)`` runs on
    side ``s``'s thread once its sums are written. None when the model needs the general passes."""
    n_classes = log_factor.shape[0]
    row_logs = log_factor[:, snap_candles]
    if any(len(r) for r in lv.resets) or any(len(_epochs(log_factor[j])) != 1 or len(_epochs(row_logs[j])) != 1 for j in range(n_classes)):
        return None  # complete closings or logs past one epoch (no snapshot rows: no epoch either)
    parts = _class_sides(lv, n_classes)
    if parts is None:
        return None
    n_snap, n_bins = len(snap_candles), len(edges) - 1
    scales = [  # per class: the exp factors of the picture and the per-candle column, entering and finishing
        (_exp_diff(r[0], lj[: n_snap * every]), _exp_diff(lj[0], lj), np.exp(r - r[0]), _exp_diff(lj, lj[0]))
        for lj, r in zip(log_factor, row_logs)
    ]
    if not all(np.isfinite(f_pic).all() for _, _, f_pic, _ in scales):
        return None  # within one epoch they are; the spans leave out cells that 0 times inf would make NaN
    cut_at = lv.cut_at if lv.cut_at is not None else np.zeros(0, dtype=np.int64)
    no_cells = np.zeros(0)

    def side(s: int) -> ColumnSpans | None:
        # the cells of every column from its first row on, in the order the columns are met: zeros that are
        # never written are never touched, so only the used front of this allocation costs memory
        vals = big_zeros(n_snap * n_bins)
        first, start = np.full(n_bins, n_snap, dtype=np.int64), np.zeros(n_bins, dtype=np.int64)
        used = np.zeros(1, dtype=np.int64)
        for j, (scale_pic, scale_act, f_pic, f_act) in enumerate(scales):
            part = parts[j][s]
            # the first class is summed in place; each later one apart, then added as it is finished
            pic = vals if j == 0 else big_zeros(n_snap * n_bins)
            act, due = scratch[0][s], scratch[1][s]  # per candle: the active notional's differences, the liquidated
            if j > 0:
                act[:], due[:] = 0.0, 0.0
            hi = np.zeros(n_bins, dtype=np.int64)
            if not side_pass(
                pic, first, start, hi, used, every, lv.created[part], lv.end[part], lv.consumed[part], lv.notional[part],
                lv.price[part], edges, scale_pic, scale_act, act, due, liq[s], cut_at[part] if len(cut_at) else cut_at, float(lv.cut_share),
            ):
                return None
            finish_spans(pic, first, start, hi, f_pic, no_cells if j == 0 else vals)
            finish_candles(act, due, f_act, active[s], liq[s], j > 0)
        after(s)
        return ColumnSpans(first, start, vals[: used[0]], n_snap)

    long, short, done = in_parallel(len(lv.created), lambda: side(0), lambda: side(1), spare=spare)
    return None if long is None or short is None else ([long, short], done)
