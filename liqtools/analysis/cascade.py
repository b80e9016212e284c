"""The cascade simulator: the domino chain of forced orders (docs/model.md section 6).

A shock moves the price from P0 to p_0 = P0 (1 + d). Every short level with P0 < q <= p_k (for an up
move) is liquidated with market buys; the cumulative forced flow Q_k moves the price by the impact
law m(Q) from the shocked price, p_{k+1} = P0 (1 + d) exp(m(Q_k)), which may reach more levels; the
chain stops when no new level is reached. A down move mirrors it with long levels.

Depth D is the USD of market orders that move the price by 1%. The default impact law is the square root,
m(Q) = 0.01 sqrt(Q / D) (the square-root law of market impact); linear impact m(Q) = 0.01 Q / D is an
option (both log-returns). D should be a documented figure for the market in hand:
:func:`liqtools.data.depth.market_depth` gives one per market with its band, venues, date and source, and
passing that record as ``depth_usd`` uses its asks for an up shock (forced buys) and its bids for a down
shock (forced sells). Real books thin out during a cascade and the simulator holds D constant, so its
moves are a lower bound for a given set of levels; the levels themselves are estimates. Results far
outside any measured range (forced flow many times the depth, a move beyond +-50%) are flagged as
*runaway* (:attr:`CascadeResult.runaway`): read them as "the book cannot absorb this", not as a price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis._cascade_book import Impact, _Book
from liqtools.data.depth import Depth, side_for
from liqtools.errors import DataError

__all__ = ["RUNAWAY_FLOW", "RUNAWAY_MOVE_PCT", "CascadeResult", "Impact", "asymmetry", "simulate_cascade", "tipping_point"]

#: A cascade whose final move exceeds this (percent, either way) is flagged as runaway.
RUNAWAY_MOVE_PCT = 50.0
#: ... and so is one whose forced flow exceeds this multiple of the depth (square root: a forced move of 10%
#: or more; linear: of 10% or more, where linear impact no longer describes real books).
RUNAWAY_FLOW: dict[str, float] = {"sqrt": 100.0, "linear": 10.0}


@dataclass(frozen=True)
class CascadeResult:
    """One simulated cascade.

    Attributes
    ----------
    steps
        One row per domino: ``step`` (0 is the shock itself), ``price`` (the price that reached the
        step's levels), ``liquidated_usd`` (newly liquidated notional), ``cumulative_usd``.
    final_price
        Where the chain stops: P0 (1 + d) exp(m(total_usd)).
    total_usd
        Total forced flow.
    direction
        ``"up"`` (short squeeze, positive shock) or ``"down"`` (long flush).
    start_price, shock, depth_usd, impact
        The inputs (``depth_usd`` is the number used: the record's asks for an up shock, bids for a down one).
    depth
        The documented depth record the number came from, or None when a plain number was given.
    """

    steps: pd.DataFrame
    final_price: float
    total_usd: float
    direction: Literal["up", "down"]
    start_price: float
    shock: float
    depth_usd: float
    impact: Impact
    depth: Depth | None = None

    @property
    def move_pct(self) -> float:
        """Final move from the start price, percent."""
        return (self.final_price / self.start_price - 1.0) * 100.0

    @property
    def n_steps(self) -> int:
        """Dominoes that liquidated something (the shock's own step counts when it reached levels)."""
        return int((self.steps["liquidated_usd"] > 0).sum())

    @property
    def runaway(self) -> bool:
        """True when the result lies far outside any measured range (see :attr:`runaway_reason`)."""
        return self.runaway_reason is not None

    @property
    def runaway_reason(self) -> str | None:
        """Why the result is runaway, in a few words (None when it is not): the forced flow is more than
        :data:`RUNAWAY_FLOW` times the depth, or the final move is beyond +-:data:`RUNAWAY_MOVE_PCT` percent."""
        reasons = []
        ratio = self.total_usd / self.depth_usd
        if ratio > RUNAWAY_FLOW[self.impact]:
            reasons.append(f"forced flow {ratio:,.0f}x the depth")
        if abs(self.move_pct) > RUNAWAY_MOVE_PCT:
            reasons.append(f"a move of {self.move_pct:+.0f}%")
        return " and ".join(reasons) if reasons else None

    def summary(self) -> str:
        """A few plain lines: the shock, the chain, where it stops, the depth assumed, a runaway flag."""
        kind = "short squeeze" if self.direction == "up" else "long flush"
        book = " of asks" if self.direction == "up" else " of bids"
        lines = [
            (
                f"{kind}: shock {self.shock:+.2%} from {price_text(self.start_price)} with depth {usd(self.depth_usd)} "
                f"per 1%{book} ({self.impact} impact)"
            ),
            (
                f"  {self.n_steps} step(s) liquidated {usd(self.total_usd)}; final price {price_text(self.final_price)} "
                f"({self.move_pct:+.2f}%, of which {self.move_pct - self.shock * 100:+.2f} points forced)."
            ),
            "  Estimate: depth held constant (real books thin out), levels modelled, not observed.",
        ]
        if self.depth is not None:
            lines.append(f"  Depth assumed: {self.depth.describe(side_for(self.shock))}.")
        reason = self.runaway_reason
        if reason is not None:
            advice = (
                "linear impact is far outside the range where it describes real books; the square-root law "
                "(impact='sqrt', the default) is the usual choice there"
                if self.impact == "linear"
                else "the book could not absorb this flow at this depth: read it as a warning, not as a price"
            )
            lines.append(f"  RUNAWAY ({reason}): {advice}.")
        return "\n".join(lines)


def _depth_number(depth_usd: float | Depth, shock: float) -> float:
    """The number a cascade after ``shock`` uses: a plain number as given, a record's asks (up) or bids (down)."""
    if isinstance(depth_usd, Depth):
        return depth_usd.for_shock(shock)
    try:
        return float(depth_usd)
    except (TypeError, ValueError):
        raise DataError(
            f"depth_usd must be a number (USD of market orders that move the price by 1%) or a market_depth() record, got {depth_usd!r}"
        ) from None


def _check(price: float, shock: float, depth_usd: float | Depth, impact: str) -> tuple[float, float, float]:
    p = float(price)
    if not (math.isfinite(p) and p > 0):
        raise DataError(f"price must be a positive number, got {price}")
    d = float(shock)
    if not math.isfinite(d) or d <= -1.0:
        raise DataError(f"shock must be a fraction > -1 (e.g. 0.01 for +1%), got {shock}")
    depth = _depth_number(depth_usd, d)
    if not (math.isfinite(depth) and depth > 0):
        raise DataError(f"depth_usd must be > 0 (USD of market orders that move the price by 1%), got {depth_usd}")
    if impact not in ("linear", "sqrt"):
        raise DataError(f"impact must be 'linear' or 'sqrt', got {impact!r}")
    return p, d, depth


def simulate_cascade(
    levels: pd.DataFrame,
    price: float,
    shock: float,
    *,
    depth_usd: float | Depth,
    impact: Impact = "sqrt",
) -> CascadeResult:
    """Simulate the liquidation cascade that a price shock sets off (docs/model.md section 6).

    Parameters
    ----------
    levels
        ``price, notional_usd, side`` frame (``Heatmap.levels_at``, :func:`synthetic_levels`).
    price
        Start price P0.
    shock
        Fraction: positive moves up (short squeeze), negative down (long flush); must be > -1.
    depth_usd
        USD of market orders that move the price by 1%, or a :func:`~liqtools.data.depth.market_depth`
        record (its asks for an up shock, its bids for a down one; the summary then names its source).
    impact
        ``"sqrt"`` (default, m = 0.01 sqrt(Q / D)) or ``"linear"`` (m = 0.01 Q / D).

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [101.0, 102.0, 110.0], "notional_usd": [1e6, 2e6, 1e6], "side": "short"})
    >>> r = simulate_cascade(lv, 100.0, 0.01, depth_usd=1e6)
    >>> r.steps[["step", "liquidated_usd"]].to_dict("list")
    {'step': [0, 1], 'liquidated_usd': [1000000.0, 2000000.0]}
    >>> round(r.final_price, 4)  # 101 * exp(0.01 * sqrt(3)): 110 is out of reach
    102.7646
    >>> round(simulate_cascade(lv, 100.0, 0.01, depth_usd=1e6, impact="linear").final_price, 4)  # 101 * exp(0.03)
    104.0759
    """
    p0, d, depth = _check(price, shock, depth_usd, impact)
    book = _Book(levels, p0)
    final, total, steps = book.run(d, depth, impact, record=True)
    assert steps is not None
    source = depth_usd if isinstance(depth_usd, Depth) else None
    return CascadeResult(steps, final, total, "up" if d >= 0 else "down", p0, d, depth, impact, source)


def tipping_point(
    levels: pd.DataFrame,
    price: float,
    target: float,
    *,
    depth_usd: float | Depth,
    impact: Impact = "sqrt",
    max_shock: float = 0.5,
    rtol: float = 1e-7,
) -> float:
    """The smallest shock (fraction, signed) whose cascade carries the price to ``target``.

    Bisection on the shock, since the final price is monotone in it (docs/model.md section 6). The shock
    that moves the price straight to the target always works, so the answer is at most
    ``target / price - 1``; the cascade can only lower it. The bisection stops when the bracket is
    narrower than ``rtol`` times the answer.

    Raises a ``DataError`` when no shock of magnitude up to ``max_shock`` reaches the target, and at once
    for a ``rtol`` that is not a number in (0, 1) (zero or NaN would never stop).

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [101.0, 102.5], "notional_usd": [1e6, 2e6], "side": "short"})
    >>> d = tipping_point(lv, 100.0, 104.0, depth_usd=1e6, impact="linear")
    >>> round(d, 4)  # +1.48% takes $101; its forced buying takes $102.5, whose buying carries past $104
    0.0148
    >>> round(tipping_point(lv, 100.0, 104.0, depth_usd=1e6), 4)  # square root: $3M of forced buys move 1.73%, not 3%: 1.04 / exp(0.01 * sqrt(3)) - 1
    0.0221
    """
    try:
        tol = float(rtol)
    except (TypeError, ValueError):
        raise DataError(f"rtol must be a number in (0, 1), got {rtol!r}") from None
    if not 0 < tol < 1:  # also False for NaN
        raise DataError(f"rtol must be a number in (0, 1) (the bisection's relative tolerance), got {rtol!r}")
    t = float(target)
    if not (math.isfinite(t) and t > 0):
        raise DataError(f"target must be a positive price, got {target}")
    p0, _, _ = _check(price, 0.0, depth_usd, impact)
    depth = _check(price, 1.0 if t >= p0 else -0.5, depth_usd, impact)[2]  # the side the move meets
    if not 0 < max_shock < 1:
        raise DataError(f"max_shock must be in (0, 1), got {max_shock}")
    if t == p0:
        return 0.0
    up = t > p0
    book = _Book(levels, p0)

    def reaches(d: float) -> bool:
        try:
            final = book.run(d, depth, impact, record=False)[0]
        except DataError:  # the chain runs past any price: it certainly reaches the target
            return True
        return final >= t if up else final <= t

    direct = t / p0 - 1.0
    hi = min(abs(direct), max_shock)
    if not reaches(hi if up else -hi):
        raise DataError(
            f"no shock up to {max_shock:.0%} carries the price from {price_text(p0)} to {price_text(t)} "
            f"with depth {usd(depth)} per 1%; raise max_shock or check the target"
        )
    lo = 0.0
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):  # floating point cannot split the bracket further (a rtol below machine precision)
            break
        if reaches(mid if up else -mid):
            hi = mid
        else:
            lo = mid
    return hi if up else -hi


def asymmetry(
    levels: pd.DataFrame,
    price: float,
    *,
    shocks: Sequence[float] = (0.0025, 0.005, 0.01, 0.02, 0.03, 0.05),
    depth_usd: float | Depth,
    impact: Impact = "sqrt",
) -> pd.DataFrame:
    """Up and down cascades for the same shock sizes, side by side: why a setup is asymmetric.

    Returns one row per shock size with, for each direction, the final move (percent), the forced flow
    (USD) and the number of steps, plus ``ratio`` = |up move| / |down move|. With a ``market_depth()``
    record, the up cascades meet its asks and the down cascades its bids.

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [101.0, 95.0], "notional_usd": [5e6, 5e6], "side": ["short", "long"]})
    >>> asymmetry(lv, 100.0, shocks=[0.01], depth_usd=1e6)[["shock", "up_forced_usd", "down_forced_usd"]]
       shock  up_forced_usd  down_forced_usd
    0   0.01      5000000.0              0.0
    """
    p0, _, _ = _check(price, 0.0, depth_usd, impact)
    _check(price, -0.01, depth_usd, impact)
    book = _Book(levels, p0)
    rows = []
    for s in shocks:
        s = float(s)
        if not 0 < s < 1:
            raise DataError(f"shock sizes must be in (0, 1), got {s}")
        row: dict[str, float] = {"shock": s}
        for name, d in (("up", s), ("down", -s)):
            final, total, steps = book.run(d, _depth_number(depth_usd, d), impact, record=True)
            assert steps is not None
            row[f"{name}_final_price"] = final
            row[f"{name}_move_pct"] = (final / p0 - 1.0) * 100.0
            row[f"{name}_forced_usd"] = total
            row[f"{name}_steps"] = int((steps["liquidated_usd"] > 0).sum())
        row["ratio"] = abs(row["up_move_pct"]) / abs(row["down_move_pct"])
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.astype({"up_steps": np.int64, "down_steps": np.int64})
