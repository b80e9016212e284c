"""One call from a market frame to the clusters at a moment: heatmap, levels, map, clusters, sentences."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis.heatmap import Heatmap, Split, TimeLike, liquidation_heatmap
from liqtools.analysis.levels import find_clusters, liquidation_map
from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = ["ClusterView", "clusters_at", "describe_clusters"]


def describe_clusters(clusters: pd.DataFrame, price: float) -> list[str]:
    """One plain sentence per side about its largest cluster.

    >>> c = pd.DataFrame({"side": ["short"], "low": [73_600.0], "high": [76_600.0], "notional_usd": [2.706e8],
    ...                   "distance_pct": [0.27], "share": [0.5]})
    >>> describe_clusters(c, 73_400.0)
    ['Shorts: $270.6M between $73,600 and $76,600, 0.27% above $73,400.', 'Longs: no cluster found.']
    """
    out = []
    for side, word, where in (("short", "Shorts", "above"), ("long", "Longs", "below")):
        rows = clusters[clusters["side"] == side]
        if rows.empty:
            out.append(f"{word}: no cluster found.")
            continue
        r = rows.iloc[0]
        out.append(
            f"{word}: {usd(r.notional_usd)} between {price_text(r.low)} and {price_text(r.high)}, "
            f"{abs(r.distance_pct):.2f}% {where} {price_text(price)}."
        )
    return out


@dataclass(frozen=True)
class ClusterView:
    """The liquidation map and its clusters at one candle, with the heatmap they come from."""

    heatmap: Heatmap
    time: pd.Timestamp
    price: float
    levels: pd.DataFrame
    map: pd.DataFrame
    clusters: pd.DataFrame

    def sentences(self) -> list[str]:
        """One plain sentence per side about its largest cluster (see :func:`describe_clusters`)."""
        return describe_clusters(self.clusters, self.price)

    def summary(self) -> str:
        """Sentences, the time and price, and the model's caveat, as plain text."""
        head = f"Estimated liquidation clusters at {self.time:%Y-%m-%d %H:%M} UTC, price {price_text(self.price)}"
        return "\n".join([head, *self.sentences()])


def clusters_at(
    df: pd.DataFrame,
    at: TimeLike | None = None,
    *,
    leverage: LeverageProfile | Mapping[float, float] | float | None = None,
    split: Split = "both",
    bin_size: float | None = None,
    cluster_options: Mapping[str, Any] | None = None,
    **heatmap_options: Any,
) -> ClusterView:
    """Run the heatmap model on ``df`` and read the map and clusters after candle ``at`` (default: the last).

    ``cluster_options`` go to :func:`find_clusters`, ``heatmap_options`` to :func:`liquidation_heatmap`.
    A time ``at`` must fall inside the data: from the first candle to the end of the last one (its start
    plus the typical candle length); later, earlier, ``NaT`` or text that is not a time is a ``DataError``.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> view = clusters_at(load_sample())
    >>> view.sentences()[0].startswith("Shorts: $")
    True
    """
    hm = liquidation_heatmap(df, leverage=leverage, split=split, bin_size=bin_size, **heatmap_options)
    pos = hm.candle_position(-1 if at is None else _check_time(at, hm._index))
    price = hm.close_at(pos)
    levels = hm.levels_at(pos)
    map_df = liquidation_map(levels, price, bin_size=hm.bin_size)
    clusters = find_clusters(map_df, price, **dict(cluster_options or {}))
    return ClusterView(hm, hm._index[pos], price, levels, map_df, clusters)


def _check_time(at: TimeLike, index: pd.DatetimeIndex) -> TimeLike:
    """``at`` unchanged when it is a candle position or a time inside the data; a DataError otherwise."""
    if isinstance(at, (int, np.integer)) and not isinstance(at, bool):
        return at
    try:
        ts = pd.Timestamp(at)  # type: ignore[arg-type]
        if pd.isna(ts):
            raise DataError(f"{at!r} is not a time: give a time inside the data or a candle position")
        ts = (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).as_unit("ns")
    except (ValueError, TypeError, OverflowError) as exc:  # DataError is a ValueError: keep its message
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{at!r} is not a time between the years 1677 and 2262 (write it like 2026-02-01T12:00)") from exc
    step = index[1:] - index[:-1]
    length = pd.Series(step).median() if len(step) else pd.Timedelta(0)
    end = index[-1] + length
    if ts >= end and ts != index[-1]:
        raise DataError(
            f"time {ts:%Y-%m-%d %H:%M} UTC is after the last candle {index[-1]:%Y-%m-%d %H:%M} UTC "
            f"(the data end at {end:%Y-%m-%d %H:%M} UTC)"
        )
    return ts
