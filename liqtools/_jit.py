"""How liqtools compiles its loops (numba): nopython mode, without the GIL, cached on disk, numpy's division."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba


def jit(fn: Callable[..., Any]) -> Any:
    """Compile ``fn`` in nopython mode without the GIL, cached on disk; where numba finds no writable cache
    location (next to the module, or the user's cache folder, or ``NUMBA_CACHE_DIR``), each process compiles
    it anew instead of failing at import. Floating-point division follows numpy (``x / 0`` is inf or NaN, as
    in the numpy expressions the loops replace), not Python (``ZeroDivisionError``)."""
    try:
        return numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, error_model="numpy")(fn)
