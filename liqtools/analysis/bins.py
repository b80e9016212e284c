"""Price bins of the heatmap and the map: round bin widths, half-open bins, default ranges."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from liqtools.errors import DataError

__all__ = ["bin_index", "make_edges", "nice_bin_size"]


def nice_bin_size(price: float, fraction: float = 0.0025) -> float:
    """A round bin width near ``fraction`` of the price: 1, 2, 2.5 or 5 times a power of ten.

    >>> nice_bin_size(73_000), nice_bin_size(2_000), nice_bin_size(0.09)
    (200.0, 5.0, 0.0002)
    """
    if not (math.isfinite(price) and price > 0):
        raise DataError(f"price must be a positive number, got {price}")
    raw = price * fraction
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(s for s in (1.0, 2.0, 2.5, 5.0, 10.0) if raw <= s * power * 1.25)
    return float(f"{step * power:.12g}")  # significant figures: exact for tiny prices too


def _default_range(prices: NDArray[np.float64], low: NDArray[np.float64], high: NDArray[np.float64], size: float) -> tuple[float, float]:
    """The levels' span within [0.5 x lowest low, 2 x highest high] (the candles' range when none is inside)."""
    lo_cap, hi_cap = 0.5 * float(low.min()), 2.0 * float(high.max())
    inside = prices[(prices >= lo_cap) & (prices <= hi_cap)]
    if len(inside):
        lo, hi = float(inside.min()), float(inside.max())
    else:
        lo, hi = float(low.min()), float(high.max())
    return math.floor(lo / size) * size, (math.floor(hi / size) + 1) * size


def bin_index(prices: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Bin of each price under half-open bins ``[edges[j], edges[j+1])``; -1 / n_bins outside the range."""
    n_bins = len(edges) - 1
    size = edges[1] - edges[0]
    j = np.floor((prices - edges[0]) / size).astype(np.int64)
    j = np.clip(j, -1, n_bins)
    # exact with respect to the edges array, whatever the rounding of the division above
    inside = (j >= 0) & (j < n_bins)
    jj = np.where(inside, j, 0)
    j = np.where(inside & (prices < edges[jj]), j - 1, j)
    jj = np.clip(j, -1, n_bins - 1)
    j = np.where((j >= 0) & (j < n_bins) & (prices >= edges[jj + 1]), j + 1, j)
    j[prices < edges[0]] = -1
    j[prices >= edges[-1]] = n_bins
    return j


def make_edges(lo: float, hi: float, size: float) -> NDArray[np.float64]:
    """Bin edges ``lo + j * size`` covering ``[lo, hi)``."""
    if not (math.isfinite(size) and size > 0):
        raise DataError(f"bin_size must be a positive number, got {size}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise DataError(f"price_range must be finite, got ({lo}, {hi})")
    if not hi > lo:
        raise DataError(f"price_range must be (low, high) with high > low, got ({lo}, {hi})")
    n_bins = max(1, math.ceil((hi - lo) / size - 1e-9))
    if n_bins > 1_000_000:
        raise DataError(f"{n_bins:,} price bins is too many; choose a larger bin_size or a narrower price_range")
    return np.asarray(lo + np.arange(n_bins + 1) * size, dtype=np.float64)
