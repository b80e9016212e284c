"""How liqtools compiles its loops (numba): nopython mode, without the GIL, cached on disk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba


def jit(fn: Callable[..., Any]) -> Any:
    """Compile ``fn`` in nopython mode without the GIL, cached on disk; where numba finds no writable cache
    location (next to the module, or the user's cache folder, or ``NUMBA_CACHE_DIR``), each process compiles
    it anew instead of failing at import."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)
