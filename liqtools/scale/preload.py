"""Dask worker preload for :func:`liqtools.scale.local_cluster`: a worker loads the heatmap's compiled
loops when it starts, not inside the first job it runs.

numba keeps the compiled loops on disk; a process still spends about 0.3 s loading them (numba's own
imports) at its first heatmap. A scan's workers pay that once each at start-up, beside importing liqtools.
"""

from __future__ import annotations

from typing import Any


def warm() -> None:
    """Load the compiled loops now: a heatmap of the bundled sample's first 50 candles (they go through the
    same loops as any default heatmap).

    >>> warm()
    """
    from liqtools import liquidation_heatmap, load_sample

    liquidation_heatmap(load_sample().iloc[:50])


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, called once when a worker starts."""
    warm()
