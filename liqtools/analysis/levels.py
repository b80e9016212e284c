"""The liquidation map at one moment, teaching-mode levels, and clusters (docs/model.md sections 4-5)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np
import pandas as pd

from liqtools.analysis.heatmap import bin_index, make_edges, nice_bin_size
from liqtools.analysis.profile import LeverageProfile, as_profile
from liqtools.errors import DataError

__all__ = ["LEVEL_COLUMNS", "find_clusters", "level_arrays", "liquidation_map", "liquidation_map_arrays", "synthetic_levels"]

LEVEL_COLUMNS = ("price", "notional_usd", "side")
#: Most entry prices :func:`synthetic_levels` spreads open interest over (each gets every tier, both sides).
MAX_ENTRIES = 1_000_000
MAP_COLUMNS = ("low", "high", "long_usd", "short_usd", "cum_long_usd", "cum_short_usd")


def level_arrays(levels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a ``price, notional_usd, side`` frame (as ``Heatmap.levels_at`` returns).

    Returns float arrays of price and notional and a boolean array that is True for longs.
    """
    if not isinstance(levels, pd.DataFrame):
        raise DataError(f"levels must be a DataFrame with columns {list(LEVEL_COLUMNS)}, got {type(levels).__name__}")
    missing = [c for c in LEVEL_COLUMNS if c not in levels.columns]
    if missing:
        raise DataError(f"levels frame is missing column(s) {missing}")
    arrays = []
    for name in ("price", "notional_usd"):
        try:
            arrays.append(pd.to_numeric(levels[name], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan))
        except (TypeError, ValueError) as exc:
            raise DataError(f"levels column {name!r} is not numeric ({exc})") from exc
    price, notional = arrays
    _check_values(price, notional)
    side = levels["side"]
    is_long = (side == "long").to_numpy(dtype=bool, na_value=False)
    bad_side = ~(is_long | (side == "short").to_numpy(dtype=bool, na_value=False))
    if bad_side.any():
        pos = int(np.flatnonzero(bad_side)[0])
        raise DataError(f"levels column 'side' must be 'long' or 'short', got {side.iloc[pos]!r} at row {pos}")
    return price, notional, is_long


def _check_values(price: np.ndarray, notional: np.ndarray) -> None:
    """Finite prices, finite notional >= 0; the error names the first offending row."""
    for name, values in (("price", price), ("notional_usd", notional)):
        bad = ~np.isfinite(values)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"levels column {name!r} has a non-finite value {values[pos]} at row {pos}")
    if (notional < 0).any():
        pos = int(np.flatnonzero(notional < 0)[0])
        raise DataError(f"levels column 'notional_usd' must be >= 0, got {notional[pos]} at row {pos}")


def _check_price(price: float) -> float:
    p = float(price)
    if not (math.isfinite(p) and p > 0):
        raise DataError(f"price must be a positive number, got {price}")
    return p


def liquidation_map(
    levels: pd.DataFrame,
    price: float,
    *,
    bin_size: float | None = None,
    price_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Bin levels by price and add the cumulative curves a reader asks for (docs/model.md section 4).

    Columns per bin ``[low, high)``: ``long_usd``, ``short_usd`` (all levels in the bin), and the
    cumulative curves of docs/model.md section 4 read at the bin's outer edge, computed from the levels
    themselves: ``cum_short_usd`` = short notional with ``price < q <= high`` (bins reaching above the
    price, 0 below) and ``cum_long_usd`` = long notional with ``low <= q < price`` (bins reaching below
    the price, 0 above). A short exactly at a bin's upper edge is thus in the curve of that bin (docs/model.md's
    ``q <= p``) but in the ``short_usd`` of the next one (bins are ``[low, high)``). "Shorts worth $X sit between $a and $b" is the difference of ``cum_short_usd``
    between the bins ending at b and at a.

    Parameters
    ----------
    levels
        ``price, notional_usd, side`` frame (``Heatmap.levels_at``, :func:`synthetic_levels`).
    price
        The current price P.
    bin_size
        Bin width; default a round number near 0.25% of the price.
    price_range
        ``(low, high)``; default the levels' span (within 0.2x to 5x the price) and the price itself.

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [95.0, 97.0, 103.0], "notional_usd": [1.0, 2.0, 4.0],
    ...                    "side": ["long", "long", "short"]})
    >>> m = liquidation_map(lv, 100.0, bin_size=2.0)
    >>> m.loc[m["low"] == 94.0, "cum_long_usd"].item(), float(m["cum_short_usd"].max())
    (3.0, 4.0)
    """
    return _map(*level_arrays(levels), price, bin_size, price_range)


def liquidation_map_arrays(
    level_price: np.ndarray,
    notional_usd: np.ndarray,
    is_long: np.ndarray,
    price: float,
    *,
    bin_size: float | None = None,
    price_range: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """:func:`liquidation_map` of levels given as three arrays (``Heatmap.level_arrays_at``): the same
    numbers, bit for bit, for the levels in the same order, without building and parsing a frame (a
    widget's refresh reads one per slider step).

    >>> lv = pd.DataFrame({"price": [95.0, 97.0, 103.0], "notional_usd": [1.0, 2.0, 4.0], "side": ["long", "long", "short"]})
    >>> a = liquidation_map_arrays(lv["price"].to_numpy(), lv["notional_usd"].to_numpy(), (lv["side"] == "long").to_numpy(), 100.0, bin_size=2.0)
    >>> a.equals(liquidation_map(lv, 100.0, bin_size=2.0))
    True
    """
    q = np.asarray(level_price, dtype=np.float64)
    notional = np.asarray(notional_usd, dtype=np.float64)
    long_side = np.asarray(is_long, dtype=bool)
    if not (q.ndim == notional.ndim == long_side.ndim == 1 and len(q) == len(notional) == len(long_side)):
        raise DataError(f"level prices, notional and sides must be 1-d arrays of one length, got shapes {q.shape}, {notional.shape}, {long_side.shape}")
    _check_values(q, notional)
    return _map(q, notional, long_side, price, bin_size, price_range)


def _map(q: np.ndarray, notional: np.ndarray, is_long: np.ndarray, price: float, bin_size: float | None, price_range: tuple[float, float] | None) -> pd.DataFrame:
    p = _check_price(price)
    if bin_size is None:
        bin_size = nice_bin_size(p)
    size = float(bin_size)
    if price_range is None:
        inside = q[(q >= 0.2 * p) & (q <= 5.0 * p)]
        lo = min(float(inside.min()) if len(inside) else p, p)
        hi = max(float(inside.max()) if len(inside) else p, p)
        price_range = (math.floor(lo / size) * size, (math.floor(hi / size) + 1) * size)
    edges = make_edges(float(price_range[0]), float(price_range[1]), size)
    n_bins = len(edges) - 1
    col = bin_index(q, edges)
    ok = (col >= 0) & (col < n_bins)
    long_usd = np.bincount(col[ok & is_long], weights=notional[ok & is_long], minlength=n_bins)
    short_usd = np.bincount(col[ok & ~is_long], weights=notional[ok & ~is_long], minlength=n_bins)

    # exact cumulative curves from sorted levels: searchsorted + prefix sums
    def prefix(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(q[mask], kind="stable")
        return q[mask][order], np.concatenate([[0.0], np.cumsum(notional[mask][order])])

    sq, s_cum = prefix(~is_long)
    lq, l_cum = prefix(is_long)
    upper, lower = edges[1:], edges[:-1]
    above = upper > p
    cum_short = np.where(
        above,
        s_cum[np.searchsorted(sq, upper, side="right")] - s_cum[np.searchsorted(sq, p, side="right")],
        0.0,
    )
    below = lower <= p
    cum_long = np.where(
        below,
        l_cum[np.searchsorted(lq, p, side="left")] - l_cum[np.searchsorted(lq, lower, side="left")],
        0.0,
    )
    if not (np.isfinite(s_cum[-1]) and np.isfinite(l_cum[-1])):
        raise DataError("the levels' notional_usd overflows when summed (more than 1.8e308 USD): rescale it")
    return pd.DataFrame(
        {
            "low": lower,
            "high": upper,
            "long_usd": long_usd,
            "short_usd": short_usd,
            "cum_long_usd": np.maximum(cum_long, 0.0),
            "cum_short_usd": np.maximum(cum_short, 0.0),
        },
        index=pd.Index(0.5 * (lower + upper), name="price"),
    )


def synthetic_levels(
    price: float,
    open_interest_usd: float,
    *,
    leverage: LeverageProfile | Mapping[float, float] | float | None = None,
    split: float | str = "both",
    spread: float = 0.02,
    n_entries: int = 101,
) -> pd.DataFrame:
    """Levels without data, for teaching: open interest spread over entries around the price (docs/model.md section 4).

    Entry prices are the ``n_entries`` midpoint quantiles of a log-normal centred on ``price`` with
    log-width ``spread``, each holding an equal share of ``open_interest_usd``; each entry then gets
    section 3's tiers and split (``"both"``: every contract has a long and a short holder, or a long
    share in [0, 1]). Deterministic: no random draws.

    Examples
    --------
    >>> lv = synthetic_levels(100_000, 1e9, leverage=10, spread=0.0, n_entries=1)
    >>> lv.round(1).to_dict("list")
    {'price': [90361.4, 109561.8], 'notional_usd': [1000000000.0, 1000000000.0], 'side': ['long', 'short']}
    """
    p = _check_price(price)
    oi = float(open_interest_usd)
    if not (math.isfinite(oi) and oi >= 0):
        raise DataError(f"open_interest_usd must be >= 0, got {open_interest_usd}")
    if not (math.isfinite(spread) and spread >= 0):
        raise DataError(f"spread must be >= 0, got {spread}")
    if not 1 <= int(n_entries) <= MAX_ENTRIES:
        raise DataError(f"n_entries must be in 1..{MAX_ENTRIES:,}, got {n_entries}")
    if not math.isfinite(2.0 * oi):
        raise DataError(f"open_interest_usd {oi:g} overflows when both sides are summed: rescale it")
    if split == "both":
        a = b = 1.0
    elif isinstance(split, str):
        raise DataError(f"teaching mode takes split='both' or a long share in [0, 1], got {split!r}")
    else:
        a = float(split)
        if not 0.0 <= a <= 1.0:
            raise DataError(f"split must be in [0, 1], got {split}")
        b = 1.0 - a
    profile = as_profile(leverage)
    n = int(n_entries)
    z = np.array([NormalDist().inv_cdf((k + 0.5) / n) for k in range(n)])
    entries = p * np.exp(spread * z)
    per_entry = oi / n
    w = profile.weights_array
    frames = []
    for side, share in (("long", a), ("short", b)):
        q = profile.liquidation_prices(entries, side).ravel()
        notional = np.broadcast_to(per_entry * share * w, (n, len(w))).ravel()
        keep = notional > 0
        frames.append(pd.DataFrame({"price": q[keep], "notional_usd": notional[keep], "side": side}))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values("price", kind="stable").reset_index(drop=True)


def find_clusters(
    map_df: pd.DataFrame,
    price: float,
    *,
    threshold: float = 1.0,
    gap: int = 1,
    max_distance_pct: float | None = None,
    min_share: float = 0.0,
    top: int | None = None,
) -> pd.DataFrame:
    """Runs of dense bins on each side of the price (docs/model.md section 5), sorted by notional.

    Each side uses only its own levels beyond the price (shorts above, longs below), read from the
    exact cumulative curves of :func:`liquidation_map`. A bin is *dense* when its notional is at least
    ``threshold`` times the mean notional of that side's non-empty bins (within ``max_distance_pct`` of the
    price when given); dense bins separated by at most ``gap`` thin bins form one cluster. The last three
    parameters are presentation filters beyond docs/model.md, off by default (the CLI uses 25% and 5 per side).

    Parameters
    ----------
    map_df
        Output of :func:`liquidation_map`.
    price
        The current price P (the one the map was built with).
    threshold
        Density multiple of the side's mean bin notional (1.0: above-average bins).
    gap
        Thin bins tolerated inside one cluster.
    max_distance_pct
        Only bins within this distance (percent of P) count; None (default) for all.
    min_share
        Drop clusters holding less than this share of their side's notional (default 0: keep all).
    top
        Keep at most this many clusters per side (default None: all).

    Returns
    -------
    DataFrame
        ``side, low, high, notional_usd, distance_pct, share``: distance from the price to the cluster's
        near edge in percent (positive above, negative below); share of that side's total notional.

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [101.2, 101.5, 110.5], "notional_usd": [5.0, 5.0, 1.0],
    ...                    "side": "short"})
    >>> find_clusters(liquidation_map(lv, 100.0, bin_size=1.0), 100.0)[["side", "low", "high", "notional_usd"]]
        side    low   high  notional_usd
    0  short  101.0  102.0          10.0
    """
    p = _check_price(price)
    missing = [c for c in MAP_COLUMNS if c not in map_df.columns]
    if missing:
        raise DataError(f"map_df is missing column(s) {missing}; pass the output of liquidation_map")
    if not (threshold > 0 and math.isfinite(threshold)):
        raise DataError(f"threshold must be a finite number > 0, got {threshold}")
    if not (isinstance(gap, (int, np.integer)) and gap >= 0):
        raise DataError(f"gap must be an integer >= 0, got {gap!r}")
    if max_distance_pct is not None and not (max_distance_pct >= 0):
        raise DataError(f"max_distance_pct must be >= 0 (percent) or None, got {max_distance_pct}")
    if not 0.0 <= min_share <= 1.0:
        raise DataError(f"min_share must be in [0, 1], got {min_share}")
    if top is not None and not (isinstance(top, (int, np.integer)) and top >= 0):
        raise DataError(f"top must be an integer >= 0 or None, got {top!r}")
    low = map_df["low"].to_numpy(dtype=np.float64)
    high = map_df["high"].to_numpy(dtype=np.float64)
    if len(low) == 0 or not low[0] <= p < high[-1]:
        raise DataError(
            f"the map's bins must contain the price {p:g} (they span {low[0] if len(low) else 'nothing'} to "
            f"{high[-1] if len(high) else 'nothing'}): build it with a price_range that includes the price"
        )
    cum_short = map_df["cum_short_usd"].to_numpy(dtype=np.float64)
    cum_long = map_df["cum_long_usd"].to_numpy(dtype=np.float64)
    # per-bin notional on the right side of the price, recovered exactly from the cumulative curves
    short_side = np.diff(np.concatenate([[0.0], cum_short]))
    long_side = -np.diff(np.concatenate([cum_long, [0.0]]))
    rows = []
    for side, values, mid_ok in (
        ("short", np.maximum(short_side, 0.0), high > p),
        ("long", np.maximum(long_side, 0.0), low <= p),
    ):
        use = mid_ok & (values > 0)
        side_total = float(values[use].sum())
        if max_distance_pct is not None:
            dist = (np.maximum(low, p) - p if side == "short" else p - np.minimum(high, p)) / p * 100.0
            use &= dist <= max_distance_pct
        if side_total <= 0 or not use.any():
            continue
        mean = float(values[use].sum()) / int(use.sum())
        dense = use & (values >= threshold * mean)
        idx = np.flatnonzero(dense)
        if len(idx) == 0:
            continue
        # group dense bins whose index gap is at most gap + 1
        breaks = np.flatnonzero(np.diff(idx) > gap + 1)
        starts = np.concatenate([[0], breaks + 1])
        stops = np.concatenate([breaks, [len(idx) - 1]])
        for s, e in zip(starts, stops):
            j0, j1 = idx[s], idx[e]
            notional = float(values[j0 : j1 + 1][use[j0 : j1 + 1]].sum())
            lo, hi = float(low[j0]), float(high[j1])
            distance = (max(lo, p) - p) / p * 100.0 if side == "short" else (min(hi, p) - p) / p * 100.0
            rows.append((side, lo, hi, notional, distance, notional / side_total))
    out = pd.DataFrame(rows, columns=["side", "low", "high", "notional_usd", "distance_pct", "share"])
    out = out[out["share"] >= min_share]
    out = out.sort_values("notional_usd", ascending=False, kind="stable")
    if top is not None:
        out = out.groupby("side", sort=False).head(int(top))
    return out.reset_index(drop=True)
