"""Large arrays the kernel can back with 2 MB pages.

numpy asks Linux for transparent huge pages on every allocation of 4 MB or more, but only the 2 MB-aligned
stretches inside an allocation can get them: the rest, up to 2 MB at its head and at its tail, is faulted
in 4 KB at a time, and so is every smaller array. On this project's VM a 4 KB page fault costs 2-6
microseconds, so each array of a year's levels paid about a millisecond of system time at its edges
(docs/speed.md). These helpers return arrays of 2 MB or more that start on a 2 MB boundary and whose last
page is whole, from an allocation of at least 4 MB (so numpy asks for huge pages) whose unused pages are
never touched.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike, NDArray

HUGE_PAGE = 2 << 20
_SMALL = HUGE_PAGE  # smaller arrays: numpy's own (a huge page would be mostly unused)


def _raw(shape: int | tuple[int, ...], dtype: DTypeLike, zero: bool) -> NDArray:  # type: ignore[type-arg]
    dt = np.dtype(dtype)
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = math.prod(dims) * dt.itemsize
    if nbytes < _SMALL:
        return (np.zeros if zero else np.empty)(dims, dtype=dt)
    padded = -(-nbytes // HUGE_PAGE) * HUGE_PAGE
    raw = (np.zeros if zero else np.empty)(padded + HUGE_PAGE, dtype=np.uint8)
    off = -raw.ctypes.data % HUGE_PAGE
    return raw[off : off + nbytes].view(dt).reshape(dims)


def big_empty(shape: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> NDArray:  # type: ignore[type-arg]
    """``np.empty``, on huge pages when it is 2 MB or more.

    >>> a = big_empty(1_000_000)
    >>> a.shape, a.dtype, a.ctypes.data % HUGE_PAGE
    ((1000000,), dtype('float64'), 0)
    """
    return _raw(shape, dtype, zero=False)


def big_zeros(shape: int | tuple[int, ...], dtype: DTypeLike = np.float64) -> NDArray:  # type: ignore[type-arg]
    """``np.zeros``, on huge pages when it is 2 MB or more (pages never written are never touched).

    >>> z = big_zeros((8, 100_000))
    >>> z.shape, float(z.sum()), z.flags.c_contiguous
    ((8, 100000), 0.0, True)
    """
    return _raw(shape, dtype, zero=True)
