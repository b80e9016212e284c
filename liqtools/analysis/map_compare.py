"""Modelled against measured: are the liquidation levels where the model says? (:func:`compare_maps`).

The question a map answers is *where*: "billions of shorts sit between $72.5k and $79.5k". Hourly totals of
realized liquidations (:func:`liqtools.benchmark`) can't check that; a measured set of positions with the
venue's own liquidation prices can. Both maps are cut into the same bins of ``bin_pct`` percent of the
price, out to ``reach_pct`` on each side (longs below the price, shorts above), and per side we ask:

- **share in the top quarter**: of the measured notional on that side, the share inside the quarter of
  bins where the model puts the most. A map that knows nothing scores the **chance** share (a quarter of
  the bins, so about 25%); a map that only knows "liquidations sit near the price" scores the
  **nearest-bins** share (the quarter of bins closest to the price), the naive map to beat.
- **Spearman** rank correlation of the two maps over the bins.
- **coverage**: the measured notional against the venue's open interest, when known.

What it can't say: the measured set is a sample of accounts (often the largest, from a leaderboard), not
the market; accounts at other venues, and positions without a liquidation price (well-funded cross
margin), are missing from it. A high share says the model's dense bands are where *these* accounts sit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis.levels import level_arrays
from liqtools.analysis.scoring import spearman
from liqtools.errors import DataError

__all__ = ["MapComparison", "compare_maps"]

TOP_SHARE = 0.25  # "the top quarter of bins"
SIDES = ("long", "short")


@dataclass(frozen=True)
class MapComparison:
    """What :func:`compare_maps` found (frozen).

    ``table``: one row per side (``long``, ``short``) with ``bins`` (bins on that side within reach),
    ``top_bins`` (a quarter of them, at least one; fewer where the model puts mass in fewer bins), ``share_top`` (measured notional in the modelled top
    bins over the side's measured notional), ``chance`` (``top_bins / bins``), ``share_nearest`` (the same
    share in the bins nearest the price), ``spearman`` (over the side's bins), ``modelled_usd`` and
    ``measured_usd`` (within reach). ``bins``: per bin ``side, low, high, modelled_usd, measured_usd, top,
    nearest``. NaN where a side has nothing measured (or nothing modelled) within reach.
    """

    price: float
    bin_pct: float
    reach_pct: float
    table: pd.DataFrame
    bins: pd.DataFrame
    measured_usd: float  # every measured position's notional, with or without a liquidation price
    no_price: int  # measured positions without a liquidation price (not in the bins)
    accounts: int
    open_interest_usd: float | None = None
    coverage: float = math.nan  # measured_usd / open_interest_usd
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """The comparison in plain sentences, one per side, then what the sample is."""
        lines = []
        for side in SIDES:
            r = self.table.loc[side]
            where = f"within {self.reach_pct:g}% {'below' if side == 'long' else 'above'} {price_text(self.price)}"
            name = "Longs" if side == "long" else "Shorts"
            if not r["measured_usd"] > 0:
                lines.append(f"{name}: no measured {side} liquidations {where}.")
            elif not r["modelled_usd"] > 0:
                lines.append(f"{name}: the model puts nothing {where}; measured {usd(r['measured_usd'])}.")
            else:
                lines.append(
                    f"{name}: {r['share_top']:.0%} of the measured {usd(r['measured_usd'])} {where} sits in the model's "
                    f"top quarter of bins (chance {r['chance']:.0%}, the bins nearest the price {r['share_nearest']:.0%}); "
                    f"Spearman {_fmt(r['spearman'])} over {int(r['bins'])} bins of {self.bin_pct:g}%."
                )
        sample = f"The measured set is {self.accounts:,} accounts' positions, {usd(self.measured_usd)}"
        if self.open_interest_usd:
            sample += f" ({self.coverage:.1%} of the {usd(self.open_interest_usd)} open interest)"
        lines.append(sample + ": a sample of accounts, not the market; the modelled map is an estimate.")
        if self.no_price:
            lines.append(f"{self.no_price:,} measured position(s) have no liquidation price (well-funded cross margin).")
        lines.extend(self.notes)
        return "\n".join(lines)

    def plot(self, **kwargs: Any) -> Any:
        """A bokeh figure: modelled bins up, measured bins down, on one price axis (:mod:`liqtools.plotting.compare`)."""
        from liqtools.plotting.compare import comparison_figure

        return comparison_figure(self, **kwargs)


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.2f}"


def _share(measured: np.ndarray, mask: np.ndarray) -> float:
    total = float(measured.sum())
    return float(measured[mask].sum()) / total if total > 0 else math.nan


def _side_bins(q: np.ndarray, notional: np.ndarray, is_long: np.ndarray, side: str, p: float, b: float, n: int) -> np.ndarray:
    """Notional per bin on one side: bin j spans ``j*b`` to ``(j+1)*b`` of the price away from it."""
    mine = is_long if side == "long" else ~is_long
    dist = (p - q) / p if side == "long" else (q - p) / p
    ok = mine & (dist > 0) & (dist <= n * b)
    j = np.minimum((dist[ok] / b).astype(np.int64), n - 1)
    return np.bincount(j, weights=notional[ok], minlength=n)


def compare_maps(
    modelled: pd.DataFrame,
    measured: pd.DataFrame,
    price: float,
    *,
    bin_pct: float = 1.0,
    reach_pct: float = 20.0,
    open_interest_usd: float | None = None,
) -> MapComparison:
    """Score a modelled map against a measured one at price level (see the module text for the figures).

    Parameters
    ----------
    modelled
        The model's levels (``price, notional_usd, side``: ``Heatmap.levels_at``, :func:`synthetic_levels`).
    measured
        Measured levels (:func:`liqtools.measured_levels`), or the positions frame itself (it has a
        ``liquidation_price`` column; it goes through ``measured_levels``).
    price
        The price both maps are read at.
    bin_pct, reach_pct
        Bin width and how far each side reaches, in percent of the price (``reach_pct / bin_pct`` bins a side).
    open_interest_usd
        The venue's open interest, for the coverage figure (NaN without it).

    Examples
    --------
    A model that puts its long mass in the one bin where the measured longs are (4-5% below the price) scores
    100%, against a chance of 1 bin in 8 and 0% for the bin nearest the price:

    >>> lv = pd.DataFrame({"price": [95.5, 90.5, 104.5], "notional_usd": [5.0, 1.0, 5.0], "side": ["long", "long", "short"]})
    >>> c = compare_maps(lv, lv, 100.0, bin_pct=1, reach_pct=8)
    >>> c.table.loc["long", ["share_top", "chance", "share_nearest"]].tolist()
    [1.0, 0.125, 0.0]
    """
    from liqtools.analysis.positions import measured_levels

    p = float(price)
    if not (math.isfinite(p) and p > 0):
        raise DataError(f"price must be a positive number, got {price!r}")
    for name, value in (("bin_pct", bin_pct), ("reach_pct", reach_pct)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 100):
            raise DataError(f"{name} must be a percentage in (0, 100], got {value!r}")
    n = round(reach_pct / bin_pct)
    if n < 2 or abs(n * bin_pct - reach_pct) > 1e-9 * reach_pct:
        raise DataError(f"reach_pct ({reach_pct:g}) must be a whole multiple (at least 2) of bin_pct ({bin_pct:g})")
    if open_interest_usd is not None and not (math.isfinite(open_interest_usd) and open_interest_usd > 0):
        raise DataError(f"open_interest_usd must be a positive number or None, got {open_interest_usd!r}")
    if isinstance(measured, pd.DataFrame) and "liquidation_price" in measured.columns:
        measured = measured_levels(measured)
    mq, mn, ml = level_arrays(modelled)
    rq, rn, rl = level_arrays(measured)
    b = bin_pct / 100.0
    k = max(1, math.ceil(TOP_SHARE * n))
    rows, frames = {}, []
    for side in SIDES:
        mod = _side_bins(mq, mn, ml, side, p, b, n)
        mea = _side_bins(rq, rn, rl, side, p, b, n)
        top = np.zeros(n, dtype=bool)
        top[np.argsort(-mod, kind="stable")[:k]] = True  # ties: the bin nearer the price
        top &= mod > 0  # a model with mass in fewer bins picks fewer (and chance and nearest follow)
        used = max(int(top.sum()), 1)
        nearest = np.arange(n) < used
        total = float(mea.sum())
        rows[side] = {
            "bins": n,
            "top_bins": used,
            "share_top": _share(mea, top) if mod.sum() > 0 else math.nan,
            "chance": used / n,
            "share_nearest": _share(mea, nearest),
            "spearman": spearman(mod, mea),
            "modelled_usd": float(mod.sum()),
            "measured_usd": total,
        }
        j = np.arange(n)
        lo, hi = (1 - (j + 1) * b, 1 - j * b) if side == "long" else (1 + j * b, 1 + (j + 1) * b)
        frames.append(pd.DataFrame({"side": side, "low": p * np.asarray(lo), "high": p * np.asarray(hi),
                                    "modelled_usd": mod, "measured_usd": mea, "top": top, "nearest": nearest}))
    if not any(rows[s]["measured_usd"] > 0 for s in SIDES):
        near = rq[np.argmin(np.abs(rq - p))] if len(rq) else math.nan
        raise DataError(
            f"no measured liquidation price lies within {reach_pct:g}% of the price {price_text(p)} on its side "
            f"(the nearest is {price_text(near)}): positions of another market, or another time?"
        )
    attrs = getattr(measured, "attrs", {})
    measured_usd = float(attrs.get("measured_usd", rn.sum()))
    coverage = measured_usd / open_interest_usd if open_interest_usd else math.nan
    notes: tuple[str, ...] = ()
    if open_interest_usd and coverage > 1.0:
        notes = (f"The measured notional exceeds the open interest given ({coverage:.0%}): another venue's or another time's?",)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("side")
    table["bins"] = table["bins"].astype(int)
    table["top_bins"] = table["top_bins"].astype(int)
    bins = pd.concat(frames, ignore_index=True)
    return MapComparison(
        price=p,
        bin_pct=float(bin_pct),
        reach_pct=float(reach_pct),
        table=table,
        bins=bins,
        measured_usd=measured_usd,
        no_price=int(attrs.get("no_liquidation_price", 0)),
        accounts=int(attrs.get("accounts", len(rq))),
        open_interest_usd=None if open_interest_usd is None else float(open_interest_usd),
        coverage=coverage,
        notes=notes,
    )
