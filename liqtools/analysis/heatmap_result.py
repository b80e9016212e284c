"""The result of :func:`~liqtools.analysis.heatmap.liquidation_heatmap`: snapshots, flows and the levels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from liqtools.analysis._build import Levels
from liqtools.analysis.ingredients import ModelOptions, Split
from liqtools.analysis.profile import LeverageProfile
from liqtools.analysis.snapshots import ColumnSpans
from liqtools.errors import DataError

__all__ = ["Heatmap", "TimeLike", "candle_position"]

TimeLike: TypeAlias = int | str | pd.Timestamp | np.datetime64


def candle_position(index: pd.DatetimeIndex, t: TimeLike) -> int:
    """Position of candle ``t`` in ``index``: an int is a position (negative counts from the end); a time
    picks the last candle at or before it."""
    n = len(index)
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
        pos = int(t) + (n if t < 0 else 0)
        if not 0 <= pos < n:
            raise DataError(f"candle position {t} is outside 0..{n - 1}")
        return pos
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    pos = int(index.searchsorted(ts, side="right")) - 1
    if pos < 0:
        raise DataError(f"time {ts} is before the first candle {index[0]}")
    return pos


def _row(m: NDArray[np.float64] | ColumnSpans, r: int) -> NDArray[np.float64]:
    return m.row(r) if isinstance(m, ColumnSpans) else m[r]


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Result of :func:`liquidation_heatmap`: snapshots of active liquidation levels over time.

    Attributes
    ----------
    times
        Snapshot times (the candle after which each snapshot is taken).
    edges
        Price bin edges, ``len(edges) == n_bins + 1``; bin j is ``[edges[j], edges[j+1])``.
    long, short
        Arrays ``(len(times), n_bins)`` of active long / short liquidation notional, USD. Built on first use
        from the stored columns (:mod:`~liqtools.analysis.snapshots`: each bin from its first level on),
        which they then replace; :meth:`snapshot` reads one row without building them.
    liquidated
        Per candle (indexed like the input) the model's predicted liquidations ``long_usd, short_usd``.
    flows
        Per candle: ``opened_*``, ``closed_*``, ``liquidated_*`` and ``active_*`` USD for each side; at
        every candle the cumulative opened notional equals active + cumulative liquidated + closed.
    profile, split, every, price
        The options the heatmap was built with.
    options
        Every model option (:class:`~liqtools.analysis.ingredients.ModelOptions`); ``half_life``,
        ``entry``, ``turnover``, ``half_life_mix``, ``near_cut``, ``crowding`` and ``consume_margin``
        read it.
    """

    times: pd.DatetimeIndex
    edges: NDArray[np.float64]
    _long: NDArray[np.float64] | ColumnSpans = field(repr=False)
    _short: NDArray[np.float64] | ColumnSpans = field(repr=False)
    liquidated: pd.DataFrame
    flows: pd.DataFrame
    profile: LeverageProfile
    split: Split
    every: int
    price: Literal["last", "mark"]
    _levels: Levels = field(repr=False)
    _log_factor: NDArray[np.float64] = field(repr=False)  # (classes, candles)
    _index: pd.DatetimeIndex = field(repr=False)
    _close: NDArray[np.float64] = field(repr=False)
    options: ModelOptions = field(default_factory=ModelOptions)
    _tail: pd.DataFrame | None = field(default=None, repr=False)  # the last candles, for :meth:`extend`
    _store: Any = field(default=None, repr=False)  # growable buffers shared along a chain of extensions
    _token: int = field(default=0, repr=False)

    # the options beyond docs/model.md, as built (all of them are in ``options``)
    half_life = property(lambda self: self.options.half_life)
    entry = property(lambda self: self.options.entry)
    turnover = property(lambda self: self.options.turnover)
    half_life_mix = property(lambda self: self.options.half_life_mix)
    near_cut = property(lambda self: self.options.near_cut)
    crowding = property(lambda self: self.options.crowding)
    consume_margin = property(lambda self: self.options.consume_margin)

    @property
    def long(self) -> NDArray[np.float64]:
        return self._dense("_long")

    @property
    def short(self) -> NDArray[np.float64]:
        return self._dense("_short")

    def _dense(self, name: str) -> NDArray[np.float64]:
        """The whole matrix of side ``name``, built once from the stored columns, which it then replaces (so a
        write to it shows in :meth:`snapshot` and :meth:`extend`, and the columns are not kept beside it)."""
        m = getattr(self, name)
        if isinstance(m, ColumnSpans):
            m = m.dense()
            object.__setattr__(self, name, m)
        return m

    @property
    def centers(self) -> NDArray[np.float64]:
        """Bin centres (price)."""
        return 0.5 * (self.edges[:-1] + self.edges[1:])

    @property
    def bin_size(self) -> float:
        return float(self.edges[1] - self.edges[0])

    def candle_position(self, t: TimeLike) -> int:
        """Position of candle ``t``: an int is a position (negative counts from the end); a time picks the
        last candle at or before it."""
        return candle_position(self._index, t)

    def extend(self, new_candles: pd.DataFrame) -> Heatmap:
        """This heatmap followed by ``new_candles``, without recomputing its history.

        Gives what :func:`liquidation_heatmap` gives on the longer frame with the same options, the same
        ``bin_size`` and ``price_range`` (the bins stay those of this heatmap) and the same ``every``,
        to floating-point rounding. ``new_candles`` is a market frame starting after the last candle, with
        the columns this heatmap was built from. The live monitor calls it once per new candle; extending a
        heatmap that was already extended (a branch) works too, at the cost of one copy.

        Examples
        --------
        >>> from liqtools import load_sample, liquidation_heatmap
        >>> df = load_sample()
        >>> full = liquidation_heatmap(df, bin_size=500, price_range=(40_000, 140_000), every=24)
        >>> part = liquidation_heatmap(df.iloc[:-30], bin_size=500, price_range=(40_000, 140_000), every=24)
        >>> grown = part.extend(df.iloc[-30:])
        >>> bool(np.allclose(grown.long, full.long, rtol=1e-9, atol=1e-6)), len(grown.times) == len(full.times)
        (True, True)
        """
        from liqtools.analysis.heatmap_extend import extend_heatmap

        return extend_heatmap(self, new_candles)

    def levels_at(self, t: TimeLike) -> pd.DataFrame:
        """Active levels after candle ``t`` (any candle, not only snapshot times): ``price, notional_usd, side``.

        Sorted by price; notional is after closing at candle t. With ``half_life_mix`` a level appears once
        per closing class (same price, its class's share); levels closed completely are gone.
        """
        price, notional, is_long = self.level_arrays_at(t)
        return pd.DataFrame({"price": price, "notional_usd": notional, "side": np.where(is_long, "long", "short")})

    def level_arrays_at(self, t: TimeLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """:meth:`levels_at` as three arrays, price, notional and is-long, in the same order (by price, ties
        in creation order): what :func:`~liqtools.analysis.levels.liquidation_map_arrays` reads."""
        pos = self.candle_position(t)
        lv = self._levels
        alive = (lv.created <= pos) & (lv.end > pos)
        price, value = lv.price[alive], lv.notional[alive] * lv.value_factor(pos, alive, self._log_factor)
        order = np.argsort(price, kind="stable")
        return price[order], value[order], lv.is_long[alive][order]

    def close_at(self, t: TimeLike) -> float:
        """Close of candle ``t`` (the price a map at that moment is read against)."""
        return float(self._close[self.candle_position(t)])

    def snapshot(self, t: TimeLike) -> pd.DataFrame:
        """One snapshot row as a table per bin: ``low, high, long_usd, short_usd``, indexed by bin centre.

        ``t`` is a snapshot row (int) or a time (the last snapshot at or before it).
        """
        if len(self.times) == 0:
            raise DataError("this heatmap has no snapshots (fewer candles than 'every')")
        if isinstance(t, (int, np.integer)):
            row = int(t) + (len(self.times) if t < 0 else 0)
            if not 0 <= row < len(self.times):
                raise DataError(f"snapshot row {t} is outside 0..{len(self.times) - 1}")
        else:
            ts = pd.Timestamp(t)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            row = int(self.times.searchsorted(ts, side="right")) - 1
            if row < 0:
                raise DataError(f"time {ts} is before the first snapshot {self.times[0]}")
        return pd.DataFrame(
            {
                "low": self.edges[:-1],
                "high": self.edges[1:],
                "long_usd": _row(self._long, row),
                "short_usd": _row(self._short, row),
            },
            index=pd.Index(self.centers, name="price"),
        )
