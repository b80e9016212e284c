"""The monitor: new candles in, the map kept current, each candle read against the bands, alerts out.

A :class:`Monitor` starts from a history of candles (the heatmap is built once on it) and takes new
closed candles as they come (:meth:`Monitor.step`): for each one it reads the map as it stood before the
candle (the active levels after the previous one, their clusters), asks
:func:`~liqtools.analysis.engagement.engagement_at` whether the candle entered a band with velocity and
volume, and extends the heatmap by the candle (:meth:`~liqtools.Heatmap.extend`, no recomputation of the
history). The same monitor runs live (:mod:`liqtools.watch.live`, candles from an exchange) and on
stored candles (:mod:`liqtools.watch.replay`). Everything it says is a model estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis._engage_core import Alert, Engagement
from liqtools.analysis.engagement import AlertRule, engagement_at
from liqtools.analysis.heatmap import liquidation_heatmap
from liqtools.analysis.heatmap_result import Heatmap
from liqtools.analysis.levels import find_clusters, liquidation_map
from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["Monitor", "Reading"]

#: Candles of history the monitor keeps for the indicators and the re-arm state (beyond the heatmap).
KEEP = 2_000


@dataclass(frozen=True)
class Reading:
    """One candle as the monitor read it: the engagement, the bands it was read against, a status line."""

    engagement: Engagement
    clusters: pd.DataFrame
    status: str

    @property
    def alert(self) -> Alert | None:
        return self.engagement.alert


class Monitor:
    """Watch the levels and the velocity, one closed candle at a time.

    Parameters
    ----------
    history
        Candles before the watch starts (a market frame with ``oi_usd``); the heatmap is built on them.
    rule
        The :class:`~liqtools.analysis.engagement.AlertRule`; default :meth:`AlertRule.from_history` on
        ``history`` (thresholds from the data's own past, shown by :meth:`AlertRule.describe`).
    leverage, bin_size, price_range, every, heatmap_options
        The heatmap's (:func:`~liqtools.liquidation_heatmap`); the bins default to the history's and stay;
        ``every`` defaults to hourly snapshots (the picture; the bands are read from the levels every candle).
    cluster_options
        Keyword options of :func:`~liqtools.find_clusters` (default: its own).
    keep
        Candles kept for the indicators and the re-arm state.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> df = load_sample()
    >>> mon = Monitor(df.iloc[:-48])
    >>> readings = mon.step(df.iloc[-48:])
    >>> len(readings), len(mon.heatmap.liquidated) == len(df)
    (48, True)
    >>> print(readings[-1].status)  # doctest: +ELLIPSIS
    2026-03-05 10:00 UTC  $73,400 ...
    """

    def __init__(
        self,
        history: pd.DataFrame,
        *,
        rule: AlertRule | None = None,
        leverage: LeverageProfile | Mapping[float, float] | float | None = None,
        bin_size: float | None = None,
        price_range: tuple[float, float] | None = None,
        every: int | None = None,
        cluster_options: Mapping[str, Any] | None = None,
        keep: int = KEEP,
        **heatmap_options: Any,
    ) -> None:
        df = validate_market(history, require=("oi_usd",))
        if not (isinstance(keep, int) and keep >= 50):
            raise DataError(f"keep must be a whole number of candles >= 50, got {keep!r}")
        self.rule = rule if rule is not None else AlertRule.from_history(df)
        if not isinstance(self.rule, AlertRule):
            raise DataError(f"rule must be an AlertRule or None, got {type(self.rule).__name__}")
        if price_range is None:
            lo, hi = float(df["low"].min()), float(df["high"].max())
            price_range = (0.25 * lo, 4.0 * hi)
        if every is None:
            step = float(pd.Series(df.index).diff().median().total_seconds()) if len(df) > 1 else 3600.0
            every = max(1, round(3600.0 / step)) if step > 0 else 1
        self.heatmap: Heatmap = liquidation_heatmap(
            df, leverage=leverage, bin_size=bin_size, price_range=price_range, every=every, **heatmap_options
        )
        self.cluster_options = dict(cluster_options or {})
        self.keep = keep
        self.df = df.iloc[-keep:]
        self.alerts: list[Alert] = []
        self.readings = 0

    @property
    def last_time(self) -> pd.Timestamp:
        return self.df.index[-1]

    def bands(self) -> tuple[pd.DataFrame, pd.DataFrame, float]:
        """The map now: active levels after the last candle, their clusters, and the last close."""
        levels = self.heatmap.levels_at(-1)
        price = float(self.df["close"].iloc[-1])
        clusters = find_clusters(liquidation_map(levels, price, bin_size=self.heatmap.bin_size), price, **self.cluster_options)
        return levels, clusters, price

    def step(self, candles: pd.DataFrame) -> list[Reading]:
        """Read each new closed candle against the map as it stood before it, then add it to the map."""
        new = validate_market(candles, require=("oi_usd",))
        new = new[new.index > self.last_time]  # a poll may return candles already seen
        out: list[Reading] = []
        for i in range(len(new)):
            candle = new.iloc[i : i + 1]
            levels, clusters, _ = self.bands()
            window = pd.concat([self.df, candle]).iloc[-self.keep :]
            e = engagement_at(window, -1, clusters, levels, self.rule, validate=False)
            self.heatmap = self.heatmap.extend(candle)
            self.df = window
            self.readings += 1
            if e.alert is not None:
                self.alerts.append(e.alert)
            out.append(Reading(e, clusters, status_line(e, clusters)))
        return out


def _band(clusters: pd.DataFrame, side: str, price: float) -> str:
    """The nearest band ahead on one side: shorts above the price, longs below."""
    rows = clusters[(clusters["side"] == side) & ((clusters["low"] > price) if side == "short" else (clusters["high"] < price))]
    if rows.empty:
        return f"no {side} band ahead"
    edge = rows["low"] if side == "short" else rows["high"]
    near = rows.loc[(edge - price).abs().idxmin()]
    near_edge = float(near["low"] if side == "short" else near["high"])
    return (f"{side} band {price_text(float(near['low']))}-{price_text(float(near['high']))} "
            f"({(near_edge / price - 1) * 100:+.1f}%, {usd(float(near['notional_usd']))})")


def status_line(e: Engagement, clusters: pd.DataFrame) -> str:
    """One line per candle: time, close, speed and volume, the nearest band each side, the alert if any."""
    speed = f"{e.pct_per_hour:+.2f}%/h" if math.isfinite(e.pct_per_hour) else "speed n/a"
    volume = f"{e.volume_ratio:.1f}x vol" if math.isfinite(e.volume_ratio) else "vol n/a"
    where = " INSIDE" if e.inside else ""
    line = (f"{e.time:%Y-%m-%d %H:%M} UTC  {price_text(e.price)}  {speed}, {volume}{where};  "
            f"{_band(clusters, 'short', e.price)};  {_band(clusters, 'long', e.price)}")
    return line + (f"\n  ALERT: {e.alert.text}" if e.alert is not None else "")
