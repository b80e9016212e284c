"""One side's snapshot matrix stored by column, from each column's first non-zero-able row on.

A year of 1-minute candles with hourly snapshots and $100 bins is 8,760 x 1,800 cells a side, and about
four in five of them are 0: a bin holds nothing until the first level enters it (most bins of a wide
price range never see one). :func:`~liqtools.analysis.heatmap.liquidation_heatmap` keeps, per column, only
the rows from that first entry to the last snapshot (a quarter of the cells on that year), so it writes
and keeps a quarter of the memory; ``Heatmap.long`` / ``Heatmap.short`` build the whole matrix on first
use. The numbers are the same, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["ColumnSpans"]


@dataclass(frozen=True, eq=False)
class ColumnSpans:
    """A ``(n_rows, n_cols)`` matrix whose column ``c`` is 0 above row ``first[c]`` and holds
    ``values[start[c] : start[c] + n_rows - first[c]]`` from there down (``first[c] == n_rows``: all 0).

    >>> m = ColumnSpans(np.array([1, 3, 0]), np.array([0, 0, 2]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 3)
    >>> m.dense()
    array([[0., 0., 3.],
           [1., 0., 4.],
           [2., 0., 5.]])
    >>> m.row(1)
    array([1., 0., 4.])
    """

    first: NDArray[np.int64]
    start: NDArray[np.int64]
    values: NDArray[np.float64]
    n_rows: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, len(self.first)

    def dense(self) -> NDArray[np.float64]:
        """The whole matrix, ``(n_rows, n_cols)`` in Fortran order (a column's rows are contiguous, so its
        transpose, bins by time as an image is drawn, is C-contiguous)."""
        out = np.zeros(self.shape, order="F")
        for c in np.flatnonzero(self.first < self.n_rows):
            r0, s = int(self.first[c]), int(self.start[c])
            out[r0:, c] = self.values[s : s + self.n_rows - r0]
        return out

    def row(self, r: int) -> NDArray[np.float64]:
        """Row ``r`` (``0 <= r < n_rows``) without building the matrix."""
        out = np.zeros(len(self.first))
        on = self.first <= r
        out[on] = self.values[self.start[on] + (r - self.first[on])]
        return out
