"""The time heatmap of liquidation levels from open-interest changes (docs/model.md section 3).

The model, per candle i in time order, with entry price e_i = (high + low + close) / 3 and
dOI_i = oi_i - oi_{i-1}:

1. consumed: active long levels with q >= low_i and short levels with q <= high_i are liquidated;
2. closed: if dOI_i < 0 every remaining level shrinks by oi_i / oi_{i-1};
3. opened: if dOI_i > 0 each tier k adds a long level (notional dOI_i * a_i * w_k) and a short level
   (dOI_i * b_i * w_k) at its liquidation prices;
4. snapshot: active levels binned by price.

The implementation never steps the model candle by candle: a level's whole life is known when it is
created (its consumption candle is the first crossing after it, found in one pass over the candles with a
stack of running extremes) and closing is a cumulative product, so the snapshots are difference arrays
summed once. The passes over levels and snapshot cells are compiled loops (numba,
:mod:`liqtools.analysis._kernels`).

Options beyond docs/model.md, all off by default (the defaults are docs/model.md exactly; their precise order
within a candle is in :mod:`liqtools.analysis.ingredients`): ``half_life`` and ``half_life_mix``
(voluntary closing by age: one exponential, or fast and slow traders), ``near_cut`` (a share of a
position is cut when price first comes near its liquidation price), ``turnover`` (a share of volume
opens and closes positions within the candle), ``crowding`` (leverage moves with funding, the long/short
ratio or taker imbalance), ``consume_margin`` (a level is liquidated only when the move passes it by a
margin), ``split="accounts"``, ``entry="path"`` (new open interest enters along the candle's assumed path,
and the rest of that path can liquidate it inside its own candle), and continuous leverage distributions
(:meth:`LeverageProfile.lognormal`, many tiers).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from liqtools.analysis._build import Levels, model_levels
from liqtools.analysis._by_side import sides_at_once
from liqtools.analysis._memory import big_zeros
from liqtools.analysis._numeric import in_parallel, liquidated_per_candle, span_sum
from liqtools.analysis._per_candle import flows_of_side
from liqtools.analysis.bins import _default_range, bin_index, make_edges, nice_bin_size
from liqtools.analysis.heatmap_extend import make_tail
from liqtools.analysis.heatmap_result import Heatmap, TimeLike
from liqtools.analysis.ingredients import Crowding, Entry, HalfLife, ModelOptions, NearCut, Split, oi_changes
from liqtools.analysis.profile import LeverageProfile, as_profile
from liqtools.analysis.snapshots import ColumnSpans
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = [
    "Crowding", "Entry", "HalfLife", "Heatmap", "Split", "TimeLike", "bin_index", "liquidated_by_tier",
    "liquidation_heatmap", "make_edges", "nice_bin_size", "oi_changes",
]


def _spans(lv: Levels) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64] | None]:
    """Each level's life as value pieces ``start, stop, notional, level`` (alive after candles start..stop-1);
    ``level`` is None when the pieces are the levels themselves (no ``near_cut``).

    A level cut at candle w by ``near_cut`` is two pieces: ``notional * (1 - share)`` over its whole life
    and ``notional * share`` until w.
    """
    if lv.cut_at is None:
        return lv.created, lv.end, lv.notional, None
    idx = np.arange(len(lv.created))
    cut = lv.cut_at < lv.end
    c = lv.cut_share
    rest = np.where(cut, lv.notional * (1.0 - c), lv.notional)
    return (
        np.concatenate([lv.created, lv.created[cut]]),
        np.concatenate([lv.end, lv.cut_at[cut]]),
        np.concatenate([rest, lv.notional[cut] * c]),
        np.concatenate([idx, idx[cut]]),
    )


def _span_sums(lv: Levels, log_factor: NDArray[np.float64], edges: NDArray[np.float64] | None, rows: NDArray[np.int64] | None, every: int) -> NDArray[np.float64]:
    """Summed value per side (0 long, 1 short), row and bin of the pieces of :func:`_spans` (rows: snapshot
    candles, or every candle); pieces outside the bins of ``edges`` are left out; without ``edges`` all in one
    column."""
    start, stop, value, which = _spans(lv)
    cls, created, is_long = (lv.cls, lv.created, lv.is_long) if which is None else (lv.cls[which], lv.created[which], lv.is_long[which])
    price = None if edges is None else (lv.price if which is None else lv.price[which])
    n_cols = 1 if edges is None else len(edges) - 1
    col = np.zeros(1, dtype=np.int32)
    n_classes = log_factor.shape[0]
    out = None
    for j in range(n_classes):
        row_log = log_factor[j] if rows is None else log_factor[j, rows]
        breaks = lv.resets[j] // every  # the row of a complete closing has nothing older left in it
        out = span_sum(  # a mix of classes: the later classes' sums are added to the first's as they finish
            start, stop, col, is_long, value, created, log_factor[j], row_log, n_cols,
            every=every, cls=cls if n_classes > 1 else None, j=j, breaks=breaks, price=price, edges=edges, into=out,
        )
    assert out is not None
    return out


_FLOWS = [
    "opened_long_usd", "opened_short_usd", "closed_long_usd", "closed_short_usd",
    "liquidated_long_usd", "liquidated_short_usd", "active_long_usd", "active_short_usd",
]


def _model_options(**kwargs: object) -> ModelOptions:
    return ModelOptions.build(**kwargs)


def liquidated_by_tier(
    df: pd.DataFrame,
    leverages: NDArray[np.float64],
    *,
    mmr: float = 0.004,
    split: Split = "both",
    price: Literal["last", "mark"] = "last",
    half_life: HalfLife = None,
    entry: Entry = "typical",
    turnover: float = 0.0,
    half_life_mix: Sequence[tuple[float, HalfLife]] | None = None,
    near_cut: NearCut | None = None,
    crowding: Crowding | None = None,
    consume_margin: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Predicted liquidations per candle of each single tier with weight 1: ``(long, short)``, each ``(n, k)``.

    The model is linear in the tier weights (each tier's levels live independently, with every option
    here), so the heatmap's ``liquidated`` for weights ``w`` is ``long @ w, short @ w``. Used by
    calibration. The options are :func:`liquidation_heatmap`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from liqtools import load_sample, liquidation_heatmap
    >>> df = load_sample()
    >>> long, short = liquidated_by_tier(df, np.array([10.0, 50.0]), turnover=0.01)
    >>> hm = liquidation_heatmap(df, leverage={10: 0.3, 50: 0.7}, turnover=0.01, every=len(df))
    >>> bool(np.allclose(long @ [0.3, 0.7], hm.liquidated["long_usd"]))
    True
    """
    opts = _model_options(
        split=split, price=price, half_life=half_life, entry=entry, turnover=turnover,
        half_life_mix=half_life_mix, near_cut=near_cut, crowding=crowding, consume_margin=consume_margin,
    )
    df = validate_market(df, require=("oi_usd",), copy=False)  # nothing of it is kept
    lev = np.asarray(leverages, dtype=np.float64)
    k = len(lev)
    profile = LeverageProfile({float(x): 1.0 / k for x in lev}, mmr)
    order = np.argsort(np.argsort(lev))  # profile tiers are sorted; map back to the caller's order
    levels, log_factor, _ = model_levels(df, profile, opts, with_tier=True)
    out = liquidated_per_candle(levels, log_factor, k) * k  # each tier's weight in the profile is 1/k
    return out[0][:, order], out[1][:, order]


def liquidation_heatmap(
    df: pd.DataFrame,
    *,
    leverage: LeverageProfile | Mapping[float, float] | float | None = None,
    split: Split = "both",
    bin_size: float | None = None,
    price_range: tuple[float, float] | None = None,
    every: int = 1,
    price: Literal["last", "mark"] = "last",
    half_life: HalfLife = None,
    entry: Entry = "typical",
    turnover: float = 0.0,
    half_life_mix: Sequence[tuple[float, HalfLife]] | None = None,
    near_cut: NearCut | None = None,
    crowding: Crowding | None = None,
    consume_margin: float = 0.0,
) -> Heatmap:
    """Estimate where liquidation levels sit over time from candles and open-interest changes.

    This is a model, not an observation: exchanges do not publish positions. It assumes every increase
    in open interest opens positions at the candle's typical price with the given leverage profile and
    side split, that decreases close all positions in proportion, and that a level is liquidated when
    the candle's range crosses it (docs/model.md section 3, implemented exactly with the default options).
    The options marked *beyond docs/model.md* are all off by default; :mod:`liqtools.analysis.ingredients`
    states their exact order within a candle.

    Parameters
    ----------
    df
        Market frame with ``high, low, close`` and ``oi_usd`` (see :mod:`liqtools.schema`).
    leverage
        :class:`LeverageProfile`, ``{leverage: weight}``, one leverage, or None for the default profile.
        :meth:`LeverageProfile.lognormal` gives a continuous leverage distribution (many tiers).
    split
        How new open interest splits into longs and shorts: ``"both"`` (each contract has a long and a
        short holder), ``"taker"`` (taker buy share), ``"candle"`` (candle direction), a long share, or
        (beyond docs/model.md) ``"accounts"``: the long share of accounts from ``long_short_ratio``.
    bin_size
        Price bin width; default a round number near 0.25% of the median close.
    price_range
        ``(low, high)`` of the binned range; default the span of all levels (within 0.5x the lowest low
        and 2x the highest high), on a grid of multiples of ``bin_size``. Levels outside stay in the model.
    every
        Keep a snapshot after candles ``every-1, 2*every-1, ...`` (``len(df) // every`` of them);
        consumption and closing still run on every candle.
    price
        ``"last"`` consumes on the candles' high/low; ``"mark"`` on ``mark_high``/``mark_low`` (or
        ``mark_close`` when only closes are given), as exchanges liquidate on the mark price.
    half_life
        **Beyond docs/model.md.** Positions also close voluntarily over time: at every candle's closing step
        each active level shrinks by ``2 ** (-dt / half_life)`` on top of the open-interest ratio. A
        number is in candles; a time (``"7D"``, a Timedelta) uses the time between candles.
    entry
        **Beyond docs/model.md.** ``"typical"`` (default, docs/model.md): new open interest enters at
        ``(high + low + close) / 3``. ``"path"``: it enters in four equal parts at the candle's open,
        first extreme, second extreme and close (a rising candle visits its low first, a falling one its
        high first), and a level the rest of that path crosses is liquidated within its own candle.
        Needs ``price="last"``.
    turnover
        **Beyond docs/model.md.** Gross turnover ``g``: within each candle ``G = g * volume * typical price``
        USD of new positions open (on top of the net OI increase) and the same amount of old ones close
        pro rata, capped at ``min(oi_{i-1}, oi_i)`` so closes never exceed the open interest (at the cap
        every old position closes). Flat open interest with heavy trading still refreshes the map.
    half_life_mix
        **Beyond docs/model.md.** Age-dependent voluntary closing as a mixture of exponentials:
        ``[(share, half_life), ...]`` (shares summing to 1; half_life None = no extra decay), e.g.
        ``[(0.5, "6h"), (0.5, None)]`` for fast and slow traders. Every new level is split by share.
    near_cut
        **Beyond docs/model.md.** ``(distance, share)``: the first time a later candle's range comes within
        ``distance`` (a fraction of the liquidation price) of a level without reaching it, ``share`` of
        that level closes voluntarily (cut or re-margined away) in that candle's closing step.
    crowding
        **Beyond docs/model.md.** A :class:`~liqtools.analysis.ingredients.Crowding`: new positions' leverage
        moves with a crowding score (funding, long/short ratio or taker imbalance).
    consume_margin
        **Beyond docs/model.md.** A level is liquidated only when the range passes it by this fraction of its
        price (``low <= q * (1 - margin)`` for longs, ``high >= q * (1 + margin)`` for shorts).

    Returns
    -------
    Heatmap

    Examples
    --------
    >>> from liqtools import load_sample, liquidation_heatmap
    >>> hm = liquidation_heatmap(load_sample(), bin_size=500)
    >>> hm.long.shape == (len(hm.times), len(hm.edges) - 1)
    True
    >>> float(hm.liquidated["long_usd"].sum()) > 0
    True
    >>> decayed = liquidation_heatmap(load_sample(), bin_size=500, half_life="7D")
    >>> bool(decayed.flows["active_long_usd"].iloc[-1] < hm.flows["active_long_usd"].iloc[-1])
    True
    >>> mixed = liquidation_heatmap(load_sample(), bin_size=500, half_life_mix=[(0.5, "12h"), (0.5, None)])
    >>> bool(mixed.flows["active_long_usd"].iloc[-1] < hm.flows["active_long_usd"].iloc[-1])
    True
    """
    opts = _model_options(
        split=split, price=price, half_life=half_life, entry=entry, turnover=turnover,
        half_life_mix=half_life_mix, near_cut=near_cut, crowding=crowding, consume_margin=consume_margin,
    )
    df = validate_market(df, require=("oi_usd",), copy=False)  # its closes are copied where they are kept
    profile = as_profile(leverage)
    if not isinstance(every, (int, np.integer)) or every < 1:
        raise DataError(f"every must be a positive integer, got {every!r}")
    every = int(every)
    if df["oi_usd"].isna().all():
        warnings.warn("column 'oi_usd' has no values: the model opens no positions, so the heatmap is empty", stacklevel=2)

    n = len(df)
    low, high, close = df["low"].to_numpy(), df["high"].to_numpy(), df["close"].to_numpy()
    levels, log_factor, series = model_levels(df, profile, opts)

    # the picture's grid: snapshot rows after candles every-1, 2*every-1, ...
    if bin_size is None:
        bin_size = nice_bin_size(float(np.median(close)))
    if price_range is None:
        price_range = _default_range(levels.price, low, high, float(bin_size))
    edges = make_edges(float(price_range[0]), float(price_range[1]), float(bin_size))
    n_bins = len(edges) - 1
    n_snap = n // every
    if n_snap * n_bins > 200_000_000:  # two float64 matrices of this many cells would need over 3 GB
        raise DataError(
            f"{n_snap:,} snapshots x {n_bins:,} bins is too large for the snapshot matrices; "
            f"raise every= (e.g. every={max(2, -(-n_snap * n_bins // 50_000_000) * every)}) or bin_size="
        )
    snap_candles = np.arange(1, n_snap + 1) * every - 1

    def picture() -> NDArray[np.float64]:
        return _span_sums(levels, log_factor, edges, snap_candles, every)

    def per_candle() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        # liquidated: value at the consumption candle, before its closing step; active: 1 column per side
        liq = liquidated_per_candle(levels, log_factor)
        return liq, _span_sums(levels, log_factor, None, None, 1)[:, :, 0]

    block = big_zeros((8, n))  # the flows, one row each: the frame's own block (pandas keeps columns as rows)
    opened, closed, liq, active = block[0:2], block[2:4], block[4:6], block[6:8]

    def spare() -> tuple[pd.DatetimeIndex, NDArray[np.float64], pd.DataFrame]:  # needs none of the sums
        return df.index[snap_candles], close.copy(), make_tail(df, opts)  # the closes kept: not the caller's buffer

    def side_flows(side: int) -> None:  # closed = active before the candle + opened - liquidated - active after
        flows_of_side(series["new_oi"], series["a" if side == 0 else "b"], liq[side], active[side], opened[side], closed[side])

    matrices: Sequence[NDArray[np.float64] | ColumnSpans]
    fast = sides_at_once(levels, log_factor, edges, snap_candles, every, liq, active, (opened, closed), spare, side_flows)
    if fast is not None:
        matrices, (times, closes, tail) = fast
    else:  # the general passes: the picture beside the per-candle sums
        matrices, (liq[:], active[:]), (times, closes, tail) = in_parallel(len(levels.created), picture, per_candle, spare=spare)
        side_flows(0)
        side_flows(1)
    flows = pd.DataFrame(block.T, index=df.index, columns=_FLOWS, copy=False)
    # two of its columns, renamed: a lazy copy (copy on write keeps a write to either from reaching the other)
    liquidated = flows[["liquidated_long_usd", "liquidated_short_usd"]].set_axis(["long_usd", "short_usd"], axis=1)
    return Heatmap(
        times=times,
        edges=edges,
        _long=matrices[0],
        _short=matrices[1],
        liquidated=liquidated,
        flows=flows,
        profile=profile,
        split=split,
        every=every,
        price=price,
        _levels=levels,
        _log_factor=log_factor,
        _index=df.index,
        _close=closes,
        options=opts,
        _tail=tail,
    )
