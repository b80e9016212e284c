"""The heatmap's second phase in one pass over each side's levels, when the model allows it.

:func:`liquidation_heatmap` needs three sums over the levels: the snapshot matrices, the active notional
per candle and the liquidated USD per candle. In general each is its own compiled pass (a mix of closing
classes, near-liquidation cuts and many epochs each change what a pass adds). For one closing class
without cuts whose logs stay within one epoch (docs/model.md's default, and most single options), the
three are one pass over each side's levels (:func:`~liqtools.analysis._kernels.side_pass`), the longs on
one thread and the shorts on the other: the level arrays are read once instead of three times. The sums
are the general passes' own, bit for bit (tested).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from liqtools.analysis._build import Levels
from liqtools.analysis._kernels import finish_rows, side_pass
from liqtools.analysis._numeric import _epochs, in_parallel


def sides_at_once(lv: Levels, log_factor: NDArray[np.float64], edges: NDArray[np.float64], snap_candles: NDArray[np.int64], every: int, liq: NDArray[np.float64], active: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """The snapshot matrices ``(2, rows, bins)``, with the liquidated and active USD per candle written into
    ``liq`` and ``active`` (each ``(2, n)``, zeros); None when the model needs the general passes."""
    n_long = int(np.count_nonzero(lv.is_long))
    one_class = log_factor.shape[0] == 1 and not len(lv.resets[0])
    if not one_class or lv.cut_at is not None or lv.is_long[n_long:].any():  # longs first, then shorts
        return None
    log_j, row_log = log_factor[0], log_factor[0, snap_candles]
    if len(_epochs(log_j)) != 1 or len(_epochs(row_log)) != 1:  # (no snapshot rows: no epoch)
        return None
    n_snap, n_bins = len(snap_candles), len(edges) - 1
    out = np.zeros((2, n_snap, n_bins))
    scale_pic = np.exp(row_log[0] - log_j[: n_snap * every])
    scale_act = np.exp(log_j[0] - log_j)
    f_pic = np.exp(row_log - row_log[0])
    f_act = np.exp(log_j - log_j[0])
    no_rows, no_band = np.zeros((0, n_bins)), np.zeros(0, dtype=np.int64)

    def side(s: int) -> None:
        part = slice(0, n_long) if s == 0 else slice(n_long, None)
        lo, hi = np.full(n_snap, n_bins, dtype=np.int64), np.zeros(n_snap, dtype=np.int64)
        side_pass(
            out[s], lo, hi, every, lv.created[part], lv.end[part], lv.consumed[part], lv.notional[part],
            lv.price[part], edges, scale_pic, scale_act, active[s], liq[s], log_j,
        )
        finish_rows(out[s], f_pic, no_rows, lo, hi)
        finish_rows(active[s].reshape(-1, 1), f_act, no_rows[:, :1], no_band, no_band)

    in_parallel(len(lv.created), lambda: side(0), lambda: side(1))
    return out
