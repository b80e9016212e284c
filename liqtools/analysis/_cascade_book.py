"""The cascade's engine: levels sorted by distance from the start price and the step loop (docs/model.md
section 6). Private: :mod:`liqtools.analysis.cascade` is the public face."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from liqtools.analysis.levels import level_arrays
from liqtools.errors import DataError

Impact = Literal["linear", "sqrt"]


def _impact(q, depth: float, impact: Impact):  # type: ignore[no-untyped-def]
    """m(Q) as a log-return: 0.01 Q / D or 0.01 sqrt(Q / D); scalars stay Python floats (fast in the step loop)."""
    if impact == "linear":
        return 0.01 * q / depth
    return 0.01 * (np.sqrt(q / depth) if isinstance(q, np.ndarray) else math.sqrt(q / depth))


class _Book:
    """Levels sorted by distance from the start price on each side, with cumulative notional."""

    def __init__(self, levels: pd.DataFrame, price: float) -> None:
        q, v, is_long = level_arrays(levels)
        up = ~is_long & (q > price)
        order = np.argsort(q[up])
        self.up_q = q[up][order]  # ascending
        self.up_cum = np.concatenate([[0.0], np.cumsum(v[up][order])])
        down = is_long & (q < price)
        order = np.argsort(-q[down])
        self.down_neg_q = -q[down][order]  # ascending (prices descending)
        self.down_cum = np.concatenate([[0.0], np.cumsum(v[down][order])])
        self.price = price

    def reached(self, p: float | np.ndarray, up: bool) -> int | np.ndarray:
        """How many levels of the side lie between the start price and p (inclusive of p)."""
        if up:
            return np.searchsorted(self.up_q, p, side="right")
        return np.searchsorted(self.down_neg_q, -p, side="right")

    def run(self, shock: float, depth: float, impact: Impact, *, record: bool) -> tuple[float, float, pd.DataFrame | None]:
        """Iterate p_{k+1} = P0 (1 + d) exp(+-m(Q_k)) to its end: step by step for short chains, then, past
        _LOOP_STEPS steps, through the whole 'next reach' map at once (the chain ends at its first fixed point).

        Returns the final price, the total forced flow and (with ``record``) the steps table."""
        up = shock >= 0
        cum = self.up_cum if up else self.down_cum
        sign = 1.0 if up else -1.0
        base = self.price * (1.0 + shock)
        k = int(self.reached(base, up))
        prices: list[float] = [base]
        visited: list[int] = [k]  # the price that reached each step's levels, and the levels reached
        for _ in range(_LOOP_STEPS):
            p_next = base * math.exp(sign * _checked_impact(float(cum[k]), depth, impact))
            k_next = int(self.reached(p_next, up))
            if k_next == k:
                return p_next, float(cum[k]), _steps(prices, visited, cum) if record else None
            prices.append(p_next)
            visited.append(k_next)
            k = k_next
        # long chain: the reach of every prefix at once; next_k is monotone with next_k[j] >= j
        m_all = np.minimum(_impact(cum[k:], depth, impact), _MAX_LOG_MOVE + 1.0)  # capped: only for the search
        p_all = base * np.exp(sign * m_all)
        rel = np.asarray(self.reached(p_all, up)) - k
        stop = int(np.flatnonzero(rel == np.arange(len(rel)))[0])
        _checked_impact(float(cum[k + stop]), depth, impact)  # the move actually reached must be meaningful
        if record and stop != 0:
            # visit the chain 0 -> rel[0] -> ... -> stop by doubling (pointer jumping)
            chain, jump = np.array([0]), rel
            while chain[-1] != stop:
                chain = np.concatenate([chain, jump[chain]])
                jump = jump[jump]
            chain = chain[: int(np.argmax(chain == stop)) + 1]
            return (
                float(p_all[stop]),
                float(cum[k + stop]),
                _steps(np.concatenate([prices, p_all[chain[:-1]]]), np.concatenate([visited, k + chain[1:]]), cum),
            )
        return float(p_all[stop]), float(cum[k + stop]), _steps(prices, visited, cum) if record else None


_MAX_LOG_MOVE = 50.0  # exp(50) ~ 5e21: far past any price; beyond it the impact law has no meaning


def _checked_impact(q, depth: float, impact: Impact):  # type: ignore[no-untyped-def]
    """m(Q), refusing values so large that the price would leave floating point (linear impact at huge flows)."""
    m = _impact(q, depth, impact)
    worst = float(np.max(m)) if isinstance(m, np.ndarray) else m
    if worst > _MAX_LOG_MOVE:
        raise DataError(
            f"the forced flow reaches {float(np.max(q)) / depth:,.0f}x the depth: {impact} impact would move the price by "
            f"exp({worst:,.0f}), outside any meaning; use impact='sqrt' or a larger depth_usd"
        )
    return m


def _steps(prices: list[float] | np.ndarray, visited: list[int] | np.ndarray, cum: np.ndarray) -> pd.DataFrame:
    reached = cum[np.asarray(visited, dtype=np.int64)]
    return pd.DataFrame(
        {
            "step": np.arange(len(reached), dtype=np.int64),
            "price": np.asarray(prices, dtype=np.float64),
            "liquidated_usd": np.diff(reached, prepend=0.0),
            "cumulative_usd": reached,
        }
    )


_LOOP_STEPS = 64
