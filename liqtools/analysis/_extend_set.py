"""The levels alive at the end of an extended heatmap, as compact arrays (private to :meth:`Heatmap.extend`).

A new candle can only touch the levels still alive, so :meth:`Heatmap.extend` keeps them apart, one entry
each with what a candle needs: the side, the price that liquidates it (``thr``, after the consumption
margin), the price of a near-liquidation cut (``cthr``, NaN once cut or without ``near_cut``), the opening
notional, the closing log at its creation (``logc``), its class, its bin and its cut candle. A candle then
costs a few vectorised passes over this set, not over every level the model ever made.

In an extended heatmap "not within the data" is :data:`NEVER` (the batch builder writes ``n``): a level's
consumption, end and cut candles then change only where something happens.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqtools.analysis._numeric import first_at_or_below
from liqtools.analysis.bins import bin_index

__all__ = ["NEVER", "AliveSet", "first_offsets"]

NEVER = np.int64(1 << 62)


@dataclass
class AliveSet:
    idx: NDArray[np.int64]
    is_long: NDArray[np.bool_]
    thr: NDArray[np.float64]
    cthr: NDArray[np.float64] | None
    notional: NDArray[np.float64]
    logc: NDArray[np.float64]
    cls: NDArray[np.int64]
    col: NDArray[np.int64]
    cut: NDArray[np.int64]

    @classmethod
    def build(
        cls,
        idx: NDArray[np.int64],
        L: dict[str, NDArray],
        cut_at: NDArray[np.int64] | None,
        logs: NDArray[np.float64],
        edges: NDArray[np.float64],
        margin: float,
        near: float | None,
    ) -> AliveSet:
        """The set of levels ``idx`` (``logs``: the closing logs by candle and class)."""
        price, is_long = L["price"][idx], L["is_long"][idx]
        up, down = np.where(is_long, 1.0 - margin, 1.0 + margin), None
        cut = cut_at[idx] if cut_at is not None else np.full(len(idx), NEVER)
        cthr = None
        if near is not None:
            down = np.where(is_long, 1.0 + near, 1.0 - near)
            cthr = np.where(cut >= NEVER, price * down, np.nan)
        c = L["cls"][idx]
        return cls(idx, is_long, price * up, cthr, L["notional"][idx], logs[L["created"][idx], c], c, bin_index(price, edges), cut)

    def keep_and_join(self, keep: NDArray[np.bool_], other: AliveSet) -> AliveSet:
        """The entries ``keep`` of this set followed by ``other`` (one copy per field)."""
        every = bool(keep.all())
        if every and len(other.idx) == 0:
            return self

        def merged(a: NDArray | None, b: NDArray | None) -> NDArray | None:
            if a is None or b is None:
                return None
            return np.concatenate([a if every else a[keep], b])

        parts: dict[str, Any] = {f.name: merged(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)}
        return AliveSet(**parts)

    def values(self, t: int, logs: NDArray[np.float64], share: float) -> NDArray[np.float64]:
        """Each level's notional after the closing step of candle ``t``."""
        row = logs[t]
        out = self.notional * np.exp((row[0] if len(row) == 1 else row[self.cls]) - self.logc)
        if self.cthr is not None:
            out = np.where(self.cut <= t, out * (1.0 - share), out)
        return out


def first_offsets(is_long: NDArray[np.bool_], key: NDArray[np.float64], low: NDArray[np.float64],
                  high: NDArray[np.float64]) -> NDArray[np.int64]:
    """For each level, the first of the new candles whose low reaches a long's key (``low <= key``) or whose
    high reaches a short's (``high >= key``): its offset among them, ``len(low)`` if none."""
    m = len(low)
    key = np.where(np.isnan(key), np.where(is_long, -np.inf, np.inf), key)  # NaN: never (no cut left to make)
    if m == 1:
        hit = np.where(is_long, low[0] <= key, high[0] >= key)
        return np.where(hit, 0, 1).astype(np.int64)
    out = np.empty(len(is_long), dtype=np.int64)
    out[is_long] = first_at_or_below(low, np.zeros(int(is_long.sum()), dtype=np.int64), key[is_long])
    short = ~is_long
    out[short] = first_at_or_below(-high, np.zeros(int(short.sum()), dtype=np.int64), -key[short])
    return out
