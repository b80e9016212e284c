"""Naive baselines a liquidation map has to beat (used by :func:`liqtools.benchmark`).

* the adverse range of the period, ``log(open/low)`` for longs and ``log(high/open)`` for shorts
  (:meth:`~liqtools.analysis.realized.Periods.adverse`): "liquidations happen when price moves";
* :func:`recent_move`: the absolute log return over the last ``k`` candles;
* :func:`volume_range`: the adverse range times the period's USD volume ("big moves on heavy trading");
  the truth study (docs/truth-study.md) found it a stronger naive ranker than the range on every market,
  so a map should beat it too;
* :func:`fixed_offset`: the map common in open-source scripts: every candle's USD volume placed at its
  typical price times ``1 - 1/L`` (longs) and ``1 + 1/L`` (shorts), no maintenance margin, no closing,
  consumed when the price crosses it as in the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from liqtools.analysis.heatmap import liquidated_by_tier
from liqtools.analysis.realized import Periods
from liqtools.errors import DataError

__all__ = ["FIXED_LEVERAGES", "RECENT_CANDLES", "fixed_offset", "recent_move", "volume_range"]

FIXED_LEVERAGES = (10.0, 25.0, 50.0, 100.0)
RECENT_CANDLES = (1, 3, 6, 12, 24)


def recent_move(df: pd.DataFrame, per: Periods, k: int) -> np.ndarray:
    """Per period: ``|log(close / close k candles earlier)|`` at the period's last candle.

    The move ends with the period (it includes the period's own candles, as the range does); where
    fewer than ``k`` candles precede, it starts from the first candle's open.

    Examples
    --------
    >>> from liqtools import load_sample, load_sample_liquidations
    >>> from liqtools.analysis.realized import realized_periods
    >>> df = load_sample()
    >>> per = realized_periods(df, load_sample_liquidations())
    >>> move = recent_move(df, per, 24)
    >>> len(move) == len(per), bool((move >= 0).all())
    (True, True)
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"recent-move candles must be a positive integer, got {k!r}")
    path = np.concatenate([[float(df["open"].iloc[0])], df["close"].to_numpy(dtype=np.float64)])
    end = per.last + 1  # position of the period's last close in `path`
    return np.abs(np.log(path[end] / path[np.maximum(end - int(k), 0)]))


def volume_range(df: pd.DataFrame, per: Periods) -> tuple[np.ndarray, np.ndarray]:
    """Per period and side: the adverse range times the period's USD volume (``volume x close`` summed).

    Knows nothing about positions; it says "liquidations follow big adverse moves on heavy trading".

    Examples
    --------
    >>> from liqtools import load_sample, load_sample_liquidations
    >>> from liqtools.analysis.realized import realized_periods
    >>> df = load_sample("eth-2024")
    >>> per = realized_periods(df, load_sample_liquidations("eth-2024"))
    >>> lo, sh = volume_range(df, per)
    >>> len(lo) == len(per), bool((lo >= 0).all() and (sh >= 0).all())
    (True, True)
    """
    usd = per.sum(df["volume"].to_numpy(dtype=np.float64) * df["close"].to_numpy(dtype=np.float64))
    adv_long, adv_short = per.adverse(df)
    return adv_long * usd, adv_short * usd


def fixed_offset(df: pd.DataFrame, leverages: Sequence[float] = FIXED_LEVERAGES) -> tuple[np.ndarray, np.ndarray]:
    """Liquidations per candle of the fixed-offset map, one column per leverage: ``(long, short)``, ``(n, k)``.

    Every candle's volume times its typical price ``(high + low + close) / 3`` (USD) is placed at that
    price times ``1 - 1/L`` (a long level) and ``1 + 1/L`` (a short level), for each ``L`` separately;
    a level stays until a later candle's low (long) or high (short) crosses it, and is then counted as
    liquidated in full. Nothing is ever closed. (The first candle's volume places nothing: the levels
    are opened as growth of a running volume total, which starts there.)

    Examples
    --------
    >>> from liqtools import load_sample
    >>> long, short = fixed_offset(load_sample(), (10, 100))
    >>> long.shape[1], bool(long[:, 1].sum() > long[:, 0].sum())
    (2, True)
    """
    lev = np.asarray([float(x) for x in leverages], dtype=np.float64)
    if len(lev) == 0 or np.any(~(lev > 1)):
        raise DataError(f"fixed-offset leverages must be numbers above 1, got {list(leverages)}")
    typical = (df["high"].to_numpy() + df["low"].to_numpy() + df["close"].to_numpy()) / 3.0
    usd = np.nan_to_num(df["volume"].to_numpy(dtype=np.float64), nan=0.0) * typical
    frame = df[["open", "high", "low", "close", "volume"]].copy()
    # levels opened as growth of a running total: each candle opens exactly its own USD volume
    frame["oi_usd"] = 1.0 + np.cumsum(usd)
    return liquidated_by_tier(frame, lev, mmr=0.0)
