"""The time heatmap of liquidation levels from open-interest changes (MODEL.md section 3).

The model, per candle i in time order, with entry price e_i = (high + low + close) / 3 and
dOI_i = oi_i - oi_{i-1}:

1. consumed: active long levels with q >= low_i and short levels with q <= high_i are liquidated;
2. closed: if dOI_i < 0 every remaining level shrinks by oi_i / oi_{i-1};
3. opened: if dOI_i > 0 each tier k adds a long level (notional dOI_i * a_i * w_k) and a short level
   (dOI_i * b_i * w_k) at its liquidation prices;
4. snapshot: active levels binned by price.

The implementation never loops over candles: a level's whole life is known when it is created (its
consumption candle is the first crossing after it, found with a sparse table of running extremes) and
closing is a cumulative product, so the snapshots are difference arrays summed once.

Options beyond MODEL.md, all off by default (the defaults are MODEL.md exactly): ``half_life`` (positions
also close voluntarily, a decay folded into the closing product), ``entry="path"`` (new open interest
enters along the candle's assumed path, and the rest of that path can liquidate it inside its own candle),
and continuous leverage distributions (:meth:`LeverageProfile.lognormal`, many tiers).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from liqtools.analysis._numeric import first_at_or_below, sparse_table_buffer, span_sum
from liqtools.analysis.profile import LeverageProfile, as_profile
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["Heatmap", "liquidation_heatmap", "nice_bin_size", "Split", "Entry", "HalfLife"]

Split = Literal["both", "taker", "candle"] | float
Entry = Literal["typical", "path"]
HalfLife = float | str | pd.Timedelta | None
TimeLike = int | str | pd.Timestamp | np.datetime64


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


def split_fractions(df: pd.DataFrame, split: Split) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The per-candle long and short shares (a_i, b_i) of new open interest (MODEL.md section 3)."""
    n = len(df)
    if isinstance(split, str):
        if split == "both":
            return np.ones(n), np.ones(n)
        if split == "taker":
            if "taker_buy_volume" not in df:
                raise DataError("split='taker' needs a 'taker_buy_volume' column; use 'both', 'candle' or a number")
            vol = df["volume"].to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                a = np.where(vol > 0, df["taker_buy_volume"].to_numpy() / vol, 0.5)
            return a, 1.0 - a
        if split == "candle":
            up = df["close"].to_numpy() >= df["open"].to_numpy()
            return up.astype(np.float64), (~up).astype(np.float64)
        raise DataError(f"split must be 'both', 'taker', 'candle' or a number in [0, 1], got {split!r}")
    s = float(split)
    if not 0.0 <= s <= 1.0:
        raise DataError(f"split must be in [0, 1], got {s}")
    return np.full(n, s), np.full(n, 1.0 - s)


def decay_log_factor(index: pd.DatetimeIndex, half_life: HalfLife) -> NDArray[np.float64]:
    """Per-candle log of the voluntary-closing decay (beyond MODEL.md): 0 at candle 0, then
    ``-ln 2 * dt / half_life`` where dt is one candle (a numeric half-life, in candles) or the time
    since the previous candle (a time half-life such as ``"7D"``)."""
    n = len(index)
    out = np.zeros(n)
    if n < 2:
        return out
    if isinstance(half_life, (int, float, np.integer, np.floating)) and not isinstance(half_life, bool):
        hl = float(half_life)
        if not (math.isfinite(hl) and hl > 0):
            raise DataError(f"half_life must be > 0 (candles) or a positive time such as '7D', got {half_life!r}")
        out[1:] = -math.log(2.0) / hl
        return out
    try:
        hl_td = pd.Timedelta(half_life)
    except (TypeError, ValueError) as exc:
        raise DataError(f"half_life must be None, a number of candles or a time such as '7D', got {half_life!r}") from exc
    if not hl_td > pd.Timedelta(0):
        raise DataError(f"half_life must be positive, got {half_life!r}")
    dt = np.diff(index.tz_convert(None).to_numpy().astype("datetime64[ns]")).astype(np.float64)
    out[1:] = -math.log(2.0) * dt / float(hl_td.to_timedelta64().astype("timedelta64[ns]").astype(np.int64))
    return out


def path_points(df: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The assumed intra-candle path (beyond MODEL.md) and what remains of it after each point.

    Points: open, first extreme, second extreme, close; a rising candle (close >= open) is taken to
    visit its low first, a falling one its high first. Returns ``points, rest_min, rest_max``, each
    ``(n, 4)``: the minimum / maximum of the path after point k (``+inf`` / ``-inf`` after the close).
    """
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    up = c >= o
    pts = np.stack([o, np.where(up, lo, h), np.where(up, h, lo), c], axis=1)
    rest_min = np.full(pts.shape, np.inf)
    rest_max = np.full(pts.shape, -np.inf)
    for k in range(2, -1, -1):
        rest_min[:, k] = np.minimum(rest_min[:, k + 1], pts[:, k + 1])
        rest_max[:, k] = np.maximum(rest_max[:, k + 1], pts[:, k + 1])
    return pts, rest_min, rest_max


def oi_changes(oi: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """dOI per candle (missing values carried forward, none at the first known value) and the closing factor."""
    filled = pd.Series(oi).ffill().to_numpy()
    prev = np.concatenate([[np.nan], filled[:-1]])
    d_oi = filled - prev
    d_oi[~np.isfinite(d_oi)] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(d_oi < 0, filled / prev, 1.0)
    return d_oi, factor


@dataclass(frozen=True, eq=False)
class _Levels:
    """Every level the model ever created, one entry each (private storage of a Heatmap)."""

    created: NDArray[np.int64]  # candle that opened it
    consumed: NDArray[np.int64]  # candle that liquidated it, or n if never
    price: NDArray[np.float64]
    notional: NDArray[np.float64]  # at creation, USD
    is_long: NDArray[np.bool_]
    tier: NDArray[np.int64] | None = None  # tier of the profile (only when asked for)


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
        Arrays ``(len(times), n_bins)`` of active long / short liquidation notional, USD.
    liquidated
        Per candle (indexed like the input) the model's predicted liquidations ``long_usd, short_usd``.
    flows
        Per candle: ``opened_*``, ``closed_*``, ``liquidated_*`` and ``active_*`` USD for each side; at
        every candle the cumulative opened notional equals active + cumulative liquidated + closed.
    profile, split, every, price, half_life, entry
        The options the heatmap was built with.
    """

    times: pd.DatetimeIndex
    edges: NDArray[np.float64]
    long: NDArray[np.float64]
    short: NDArray[np.float64]
    liquidated: pd.DataFrame
    flows: pd.DataFrame
    profile: LeverageProfile
    split: Split
    every: int
    price: Literal["last", "mark"]
    _levels: _Levels = field(repr=False)
    _log_factor: NDArray[np.float64] = field(repr=False)
    _index: pd.DatetimeIndex = field(repr=False)
    _close: NDArray[np.float64] = field(repr=False)
    half_life: HalfLife = None
    entry: Entry = "typical"

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
        n = len(self._index)
        if isinstance(t, (int, np.integer)):
            pos = int(t) + (n if t < 0 else 0)
            if not 0 <= pos < n:
                raise DataError(f"candle position {t} is outside 0..{n - 1}")
            return pos
        ts = pd.Timestamp(t)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        pos = int(self._index.searchsorted(ts, side="right")) - 1
        if pos < 0:
            raise DataError(f"time {ts} is before the first candle {self._index[0]}")
        return pos

    def levels_at(self, t: TimeLike) -> pd.DataFrame:
        """Active levels after candle ``t`` (any candle, not only snapshot times): ``price, notional_usd, side``.

        Sorted by price; notional is after closing at candle t.
        """
        pos = self.candle_position(t)
        lv = self._levels
        alive = (lv.created <= pos) & (lv.consumed > pos)
        value = lv.notional[alive] * np.exp(self._log_factor[pos] - self._log_factor[lv.created[alive]])
        out = pd.DataFrame(
            {
                "price": lv.price[alive],
                "notional_usd": value,
                "side": np.where(lv.is_long[alive], "long", "short"),
            }
        )
        return out.sort_values("price", kind="stable").reset_index(drop=True)

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
                "long_usd": self.long[row],
                "short_usd": self.short[row],
            },
            index=pd.Index(self.centers, name="price"),
        )


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
    n_bins = max(1, int(math.ceil((hi - lo) / size - 1e-9)))
    if n_bins > 1_000_000:
        raise DataError(f"{n_bins:,} price bins is too many; choose a larger bin_size or a narrower price_range")
    return lo + np.arange(n_bins + 1) * size


def _model_levels(
    df: pd.DataFrame,
    profile: LeverageProfile,
    split: Split,
    price: Literal["last", "mark"],
    half_life: HalfLife,
    entry: Entry,
    *,
    with_tier: bool = False,
) -> tuple[_Levels, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Create every level and find its consumption candle: ``levels, log_factor, factor, d_oi, a, b``.

    ``df`` is already validated. The default options (``half_life=None, entry="typical"``) run exactly
    MODEL.md section 3.
    """
    if price not in ("last", "mark"):
        raise DataError(f"price must be 'last' or 'mark', got {price!r}")
    if entry not in ("typical", "path"):
        raise DataError(f"entry must be 'typical' or 'path', got {entry!r}")
    high = df["high"].to_numpy()
    low = df["low"].to_numpy()
    close = df["close"].to_numpy()
    if price == "mark":
        if entry == "path":
            raise DataError("entry='path' follows the last-price path; use it with price='last'")
        if "mark_high" in df and "mark_low" in df:
            trig_high, trig_low = df["mark_high"].to_numpy(), df["mark_low"].to_numpy()
        elif "mark_close" in df:
            trig_high = trig_low = df["mark_close"].to_numpy()
        else:
            raise DataError("price='mark' needs 'mark_high'/'mark_low' or 'mark_close' columns")
    else:
        trig_high, trig_low = high, low

    if df["oi_usd"].isna().all():
        warnings.warn("column 'oi_usd' has no values: the model opens no positions, so the heatmap is empty", stacklevel=2)
    d_oi, factor = oi_changes(df["oi_usd"].to_numpy())
    if half_life is not None:
        # beyond MODEL.md: positions also close voluntarily, exp(-ln2 * dt / half_life) per candle
        factor = factor * np.exp(decay_log_factor(df.index, half_life))
    log_factor = np.cumsum(np.log(factor))
    a, b = split_fractions(df, split)

    opened = np.flatnonzero(d_oi > 0)
    lev_w = profile.weights_array
    n_tiers = len(lev_w)
    if entry == "typical":
        entry_price = (high + low + close) / 3.0
        n_points = 1
        points = entry_price[opened][:, None]
        point_w = np.ones(1)
    else:
        # beyond MODEL.md: new open interest enters in equal parts at the four points of the candle's path
        pts, rest_min, rest_max = path_points(df)
        n_points = 4
        points = pts[opened]
        point_w = np.full(4, 0.25)
    per_candle = n_points * n_tiers
    created = np.repeat(opened, per_candle)
    parts = []
    for side, share in (("long", a), ("short", b)):
        if n_points == 1:
            q = profile.liquidation_prices(points[:, 0], side).ravel()
        else:
            q = profile.liquidation_prices(points, side).ravel()
        if n_points == 1:
            notional = (d_oi[opened] * share[opened])[:, None] * lev_w[None, :]
        else:
            notional = (d_oi[opened] * share[opened])[:, None, None] * point_w[None, :, None] * lev_w[None, None, :]
        parts.append((q, notional.ravel(), side == "long"))
    price_all = np.concatenate([parts[0][0], parts[1][0]])
    notional_all = np.concatenate([parts[0][1], parts[1][1]])
    is_long = np.concatenate([np.ones(len(created), bool), np.zeros(len(created), bool)])
    created_all = np.concatenate([created, created])
    keep = notional_all > 0
    tier = None
    if with_tier:
        tier = np.tile(np.arange(n_tiers, dtype=np.int64), 2 * len(opened) * n_points)[keep]
    if entry == "path":
        # the rest of the path after each entry point, per level (same layout as price_all)
        r_min = np.repeat(rest_min[opened].ravel(), n_tiers)
        r_max = np.repeat(rest_max[opened].ravel(), n_tiers)
        same = np.concatenate([r_min <= parts[0][0], r_max >= parts[1][0]])[keep]
    n_long = int(keep[: len(keep) // 2].sum())  # longs fill the first half, shorts the second
    if not keep.all():
        price_all, notional_all, is_long, created_all = price_all[keep], notional_all[keep], is_long[keep], created_all[keep]

    # first crossing after creation; one sparse-table buffer serves both sides
    consumed = np.empty(len(price_all), dtype=np.int64)
    table = sparse_table_buffer(len(trig_low))
    consumed[:n_long] = first_at_or_below(trig_low, created_all[:n_long] + 1, price_all[:n_long], table=table)
    consumed[n_long:] = first_at_or_below(-trig_high, created_all[n_long:] + 1, -price_all[n_long:], table=table)
    del table
    if entry == "path":
        # beyond MODEL.md: a level the rest of its own candle's path crosses is liquidated in that candle
        consumed[same] = created_all[same]
    levels = _Levels(created_all, consumed, price_all, notional_all, is_long, tier)
    return levels, log_factor, factor, d_oi, a, b


def _liquidated_value(levels: _Levels, log_factor: NDArray[np.float64], hit: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Notional of the hit levels at their consumption candle, before that candle's closing step."""
    c, k = levels.consumed[hit], levels.created[hit]
    later = c > k
    if later.all():
        return levels.notional[hit] * np.exp(log_factor[c - 1] - log_factor[k])
    # levels liquidated inside their own candle (entry="path") keep their opening notional
    expo = np.zeros(len(c))
    expo[later] = log_factor[c[later] - 1] - log_factor[k[later]]
    return levels.notional[hit] * np.exp(expo)


def liquidated_by_tier(
    df: pd.DataFrame,
    leverages: NDArray[np.float64],
    *,
    mmr: float = 0.004,
    split: Split = "both",
    price: Literal["last", "mark"] = "last",
    half_life: HalfLife = None,
    entry: Entry = "typical",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Predicted liquidations per candle of each single tier with weight 1: ``(long, short)``, each ``(n, k)``.

    The model is linear in the tier weights (each tier's levels live independently), so the heatmap's
    ``liquidated`` for weights ``w`` is ``long @ w, short @ w``. Used by calibration.
    """
    df = validate_market(df, require=("oi_usd",))
    lev = np.asarray(leverages, dtype=np.float64)
    k = len(lev)
    profile = LeverageProfile({float(x): 1.0 / k for x in lev}, mmr)
    order = np.argsort(np.argsort(lev))  # profile tiers are sorted; map back to the caller's order
    levels, log_factor, _, _, _, _ = _model_levels(df, profile, split, price, half_life, entry, with_tier=True)
    n = len(df)
    hit = levels.consumed < n
    value = _liquidated_value(levels, log_factor, hit) * k
    tier = levels.tier[hit]  # type: ignore[index]
    cell = levels.consumed[hit] * k + tier
    out = []
    for side in (levels.is_long[hit], ~levels.is_long[hit]):
        m = np.bincount(cell[side], weights=value[side], minlength=n * k).reshape(n, k)
        out.append(m[:, order])
    return out[0], out[1]


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
) -> Heatmap:
    """Estimate where liquidation levels sit over time from candles and open-interest changes.

    This is a model, not an observation: exchanges do not publish positions. It assumes every increase
    in open interest opens positions at the candle's typical price with the given leverage profile and
    side split, that decreases close all positions in proportion, and that a level is liquidated when
    the candle's range crosses it (MODEL.md section 3, implemented exactly with the default options).

    Parameters
    ----------
    df
        Market frame with ``high, low, close`` and ``oi_usd`` (see :mod:`liqtools.schema`).
    leverage
        :class:`LeverageProfile`, ``{leverage: weight}``, one leverage, or None for the default profile.
        :meth:`LeverageProfile.lognormal` gives a continuous leverage distribution (many tiers).
    split
        How new open interest splits into longs and shorts: ``"both"`` (each contract has a long and a
        short holder), ``"taker"`` (taker buy share), ``"candle"`` (candle direction) or a long share.
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
        **Beyond MODEL.md, off by default.** Positions also close voluntarily over time: at every
        candle's closing step each active level shrinks by ``2 ** (-dt / half_life)`` on top of the
        open-interest ratio. A number is in candles; a time (``"7D"``, a Timedelta) uses the time between
        candles. The ``closed_*`` flows then include this decay. None (default): no decay.
    entry
        **Beyond MODEL.md.** ``"typical"`` (default, MODEL.md): new open interest enters at
        ``(high + low + close) / 3``. ``"path"``: it enters in four equal parts at the candle's open,
        first extreme, second extreme and close (a rising candle visits its low first, a falling one its
        high first), and a level the rest of that path crosses is liquidated within its own candle, so
        coarse candles also see intra-candle liquidations. Needs ``price="last"``.

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
    """
    df = validate_market(df, require=("oi_usd",))
    profile = as_profile(leverage)
    if not isinstance(every, (int, np.integer)) or every < 1:
        raise DataError(f"every must be a positive integer, got {every!r}")
    every = int(every)

    n = len(df)
    low = df["low"].to_numpy()
    high = df["high"].to_numpy()
    close = df["close"].to_numpy()
    levels, log_factor, factor, d_oi, a, b = _model_levels(df, profile, split, price, half_life, entry)
    created_all, consumed, price_all = levels.created, levels.consumed, levels.price
    notional_all, is_long = levels.notional, levels.is_long

    # liquidated per candle: value at the consumption candle, before its closing step
    hit = consumed < n
    value_hit = _liquidated_value(levels, log_factor, hit)
    liq_long = np.bincount(consumed[hit][is_long[hit]], weights=value_hit[is_long[hit]], minlength=n)[:n]
    liq_short = np.bincount(consumed[hit][~is_long[hit]], weights=value_hit[~is_long[hit]], minlength=n)[:n]
    liquidated = pd.DataFrame({"long_usd": liq_long, "short_usd": liq_short}, index=df.index)

    # active notional per candle (1 column per side), then closed = active * (1/f - 1) where OI fell
    active = span_sum(created_all, consumed, (~is_long).astype(np.int64), notional_all, log_factor[created_all], log_factor, 2)
    shrink = np.where(factor < 1.0, 1.0 / factor - 1.0, 0.0)
    before_close = active
    if half_life is not None:
        # with decay a candle can both close and open: only levels older than the candle were closed
        new = consumed > created_all
        fresh = np.stack(
            [np.bincount(created_all[new & side], weights=notional_all[new & side], minlength=n) for side in (is_long, ~is_long)],
            axis=1,
        )
        before_close = active - fresh
    flows = pd.DataFrame(
        {
            "opened_long_usd": np.where(d_oi > 0, d_oi * a, 0.0),
            "opened_short_usd": np.where(d_oi > 0, d_oi * b, 0.0),
            "closed_long_usd": before_close[:, 0] * shrink,
            "closed_short_usd": before_close[:, 1] * shrink,
            "liquidated_long_usd": liq_long,
            "liquidated_short_usd": liq_short,
            "active_long_usd": active[:, 0],
            "active_short_usd": active[:, 1],
        },
        index=df.index,
    )

    # the picture: snapshot rows after candles every-1, 2*every-1, ...
    if bin_size is None:
        bin_size = nice_bin_size(float(np.median(close)))
    if price_range is None:
        price_range = _default_range(price_all, low, high, float(bin_size))
    edges = make_edges(float(price_range[0]), float(price_range[1]), float(bin_size))
    n_bins = len(edges) - 1
    n_snap = n // every
    if n_snap * n_bins > 200_000_000:  # two float64 matrices of this many cells would need over 3 GB
        raise DataError(
            f"{n_snap:,} snapshots x {n_bins:,} bins is too large for the snapshot matrices; "
            f"raise every= (e.g. every={max(2, -(-n_snap * n_bins // 50_000_000) * every)}) or bin_size="
        )
    snap_candles = np.arange(1, n_snap + 1) * every - 1
    col = bin_index(price_all, edges)
    in_range = (col >= 0) & (col < n_bins)
    row_a = created_all // every
    row_b = consumed // every
    matrices = []
    for side_mask in (is_long, ~is_long):
        m = in_range & side_mask
        matrices.append(
            span_sum(row_a[m], row_b[m], col[m], notional_all[m], log_factor[created_all[m]], log_factor[snap_candles], n_bins)
        )
    return Heatmap(
        times=df.index[snap_candles],
        edges=edges,
        long=matrices[0],
        short=matrices[1],
        liquidated=liquidated,
        flows=flows,
        profile=profile,
        split=split,
        every=every,
        price=price,
        _levels=levels,
        _log_factor=log_factor,
        _index=df.index,
        _close=close,
        half_life=half_life,
        entry=entry,
    )
