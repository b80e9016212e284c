"""Engagement with liquidation bands, candle by candle, and the alert a trader reads (docs/model.md section 9).

"Watch the levels, watch the velocity": for each candle, is its range inside or at the edge of a cluster
band (:func:`~liqtools.analysis.levels.find_clusters`), how fast is the price moving toward that band or
the next one, is volume surging, and how much modelled notional of that side lies within the next few
percent. An :class:`Alert` fires when the candle *enters* a band from the side whose levels it would
liquidate (a short band from below, a long band from above) with velocity and volume above the
:class:`AlertRule`'s thresholds. Entry follows the momentum study's re-arm rule
(:func:`~liqtools.analysis.momentum_events.band_events`), so an alert does not repeat while price stays in
the band. Candles after t never change the result at t; with a :class:`Heatmap`, candle t reads the map
of the last snapshot taken *before* it (the map a live monitor holds when candle t arrives).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from liqtools.analysis._engage_core import (
    Alert,
    Engagement,
    MapState,
    Market,
    evaluate,
    map_states,
    market_arrays,
    prepare_state,
)
from liqtools.analysis.heatmap_result import Heatmap, TimeLike, candle_position
from liqtools.analysis.indicators import velocity, volume_ratio
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["Alert", "AlertRule", "Engagement", "alerts", "engagement", "engagement_at"]

ENGAGEMENT_COLUMNS = (
    "map_time", "inside", "entered", "side", "band_low", "band_high", "band_notional_usd", "distance_pct",
    "velocity", "pct_per_hour", "volume_ratio", "notional_ahead_usd", "alert",
)


def _number(value: object, name: str, *, low: float, strict: bool) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    x = float(value) if ok else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(x) and (x > low if strict else x >= low)):
        raise DataError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, got {value!r}")
    return x


@dataclass(frozen=True)
class AlertRule:
    """When an entry into a band becomes an :class:`Alert` (docs/model.md section 9).

    Attributes
    ----------
    velocity_min
        Least velocity toward the band: log return per candle over the last ``lookback`` candles
        (:func:`~liqtools.analysis.indicators.velocity`, the momentum study's units), signed so that > 0
        moves into the band (up into a short band, down into a long one). The alert needs it > 0 as well.
    volume_ratio_min
        Least volume of the candle over the median volume of the ``lookback`` candles before it
        (:func:`~liqtools.analysis.indicators.volume_ratio` with ``window=lookback``, as the momentum study).
    within_pct
        How far beyond the candle's range (percent of its close) the notional ahead is summed.
    edge_pct
        A band is widened by this percent on each side: a range that comes this close counts as inside.
    rearm_pct
        After an entry, the band re-arms only when a whole candle has been this many percent beyond its
        (widened) edge on the liquidating side (momentum study's ``rearm_pct``).
    lookback
        Candles of the velocity and of the trailing volume median.
    note
        Where the thresholds come from (set by :meth:`from_history`), shown by :meth:`describe`.

    Examples
    --------
    >>> rule = AlertRule(velocity_min=0.002, volume_ratio_min=2.0)
    >>> print(rule.describe())  # doctest: +NORMALIZE_WHITESPACE
    Alert when a candle enters a liquidation band from the side it liquidates (its range within 0.25% of a
    short band from below, or of a long band from above; again only after a whole candle 1% beyond it)
    moving toward it at a velocity of at least 0.0020 (log return per candle over the last 12 candles,
    +0.20% per candle) on at least 2.0x the median volume of the 12 candles before; notional ahead is
    summed over the next 3%.
    >>> AlertRule(velocity_min=0.002, volume_ratio_min=2.0, within_pct=0)
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: within_pct must be a finite number > 0, got 0
    """

    velocity_min: float
    volume_ratio_min: float
    within_pct: float = 3.0
    edge_pct: float = 0.25
    rearm_pct: float = 1.0
    lookback: int = 12
    note: str = ""

    def __post_init__(self) -> None:
        _number(self.velocity_min, "velocity_min", low=0.0, strict=False)
        _number(self.volume_ratio_min, "volume_ratio_min", low=0.0, strict=False)
        _number(self.within_pct, "within_pct", low=0.0, strict=True)
        _number(self.edge_pct, "edge_pct", low=0.0, strict=False)
        _number(self.rearm_pct, "rearm_pct", low=0.0, strict=False)
        if self.within_pct >= 100 or self.edge_pct >= 100:
            raise DataError(f"within_pct and edge_pct must be below 100 (percent), got {self.within_pct}, {self.edge_pct}")
        lb = self.lookback
        if isinstance(lb, bool) or not isinstance(lb, (int, np.integer)) or lb < 1:
            raise DataError(f"lookback must be a positive integer (candles), got {lb!r}")
        if not isinstance(self.note, str):
            raise DataError(f"note must be a string, got {type(self.note).__name__}")

    @classmethod
    def from_history(cls, df: pd.DataFrame, *, quantile: float = 0.9, **options: Any) -> AlertRule:
        """Thresholds from the data's own history: the ``quantile`` of ``|velocity|`` and of the volume ratio
        over every candle of ``df`` where they are defined.

        The quantiles use the whole frame, later candles included (no per-candle past-only thresholds): in
        a backtest on the same frame they are in-sample. For an out-of-sample test, build the rule on an
        earlier frame. ``options`` are the other fields (``within_pct``, ``edge_pct``, ``rearm_pct``,
        ``lookback``).

        >>> from liqtools import load_sample
        >>> rule = AlertRule.from_history(load_sample())
        >>> round(rule.velocity_min, 5), round(rule.volume_ratio_min, 2)
        (0.00248, 3.38)
        >>> rule.note
        '90% quantiles over 2,100 candles, 2025-12-07 to 2026-03-05'
        """
        q = _number(quantile, "quantile", low=0.0, strict=True)
        if q >= 1:
            raise DataError(f"quantile must be in (0, 1), got {quantile!r}")
        unknown = set(options) - {f.name for f in fields(cls)} | ({"velocity_min", "volume_ratio_min"} & set(options))
        if unknown:
            raise DataError(f"unknown or conflicting AlertRule option(s) {sorted(unknown)}")
        lookback = options.get("lookback", 12)
        cls(0.0, 0.0, lookback=lookback)  # checks lookback
        df = validate_market(df)
        v = velocity(df, lookback).abs().dropna()
        r = volume_ratio(df, lookback).dropna()
        if v.empty or r.empty:
            raise DataError(f"from_history needs more than lookback={lookback} candles with volume, got {len(df)}")
        note = f"{q:.0%} quantiles over {len(v):,} candles, {df.index[0]:%Y-%m-%d} to {df.index[-1]:%Y-%m-%d}"
        return cls(float(v.quantile(q)), float(r.quantile(q)), **{"note": note, **options})

    def describe(self) -> str:
        """The rule in plain words, thresholds included (show it next to the alerts)."""
        text = (
            f"Alert when a candle enters a liquidation band from the side it liquidates (its range within "
            f"{self.edge_pct:g}% of a short band from below, or of a long band from above; again only after a "
            f"whole candle {self.rearm_pct:g}% beyond it) moving toward it at a velocity of at least "
            f"{self.velocity_min:.4f} (log return per candle over the last {self.lookback} candles, "
            f"{math.expm1(self.velocity_min) * 100:+.2f}% per candle) on at least {self.volume_ratio_min:.1f}x the "
            f"median volume of the {self.lookback} candles before; notional ahead is summed over the next "
            f"{self.within_pct:g}%."
        )
        return text + (f" Thresholds: {self.note}." if self.note else "")


def engagement_at(
    df: pd.DataFrame,
    t: TimeLike,
    clusters: pd.DataFrame,
    levels: pd.DataFrame,
    rule: AlertRule,
    *,
    validate: bool = True,
) -> Engagement:
    """Engagement of candle ``t`` (a position or the last candle at or before a time) with the bands.

    ``clusters`` is a :func:`find_clusters` frame (``side, low, high`` and optionally ``notional_usd``)
    and ``levels`` the ``price, notional_usd, side`` frame the notional ahead is summed from, both as they
    stood before candle ``t``. Only candles up to ``t`` are read (the re-arm state from those in ``df``).
    ``validate=False`` skips :func:`validate_market` for a frame already validated (a live monitor's).

    Examples
    --------
    >>> idx = pd.date_range("2026-01-01", periods=14, freq="h", tz="UTC")
    >>> close = [100.0] * 12 + [102.0, 104.5]
    >>> df = pd.DataFrame({"open": [100.0] + close[:-1], "high": close, "low": [99.9] * 12 + [100.0, 102.0],
    ...                    "close": close, "volume": [10.0] * 13 + [40.0]}, index=idx)
    >>> bands = pd.DataFrame({"side": ["short"], "low": [104.0], "high": [106.0], "notional_usd": [5e8]})
    >>> levels = pd.DataFrame({"price": [105.0, 107.0], "notional_usd": [5e8, 1e8], "side": "short"})
    >>> e = engagement_at(df, -1, bands, levels, AlertRule(velocity_min=0.001, volume_ratio_min=2.0))
    >>> e.inside, e.side, round(e.velocity, 5), e.volume_ratio, e.notional_ahead_usd
    (True, 'short', 0.00367, 4.0, 600000000.0)
    >>> print(e.alert.text)
    price entered the $104-$106 short band at +0.37% per hour on 4.0x volume; $600.0M modelled shorts within the next 3%
    """
    if not isinstance(rule, AlertRule):
        raise DataError(f"rule must be an AlertRule, got {type(rule).__name__}")
    if validate:
        df = validate_market(df)
    pos = candle_position(df.index, t)
    market = market_arrays(df, stop=pos + 1)
    state = prepare_state(clusters, levels, rule.edge_pct)
    return evaluate(market, pos, state, rule, None)


def _run(
    df: pd.DataFrame,
    source: pd.DataFrame | Heatmap,
    rule: AlertRule | None,
    bin_size: float | None,
    price: float | None,
    cluster_options: Mapping[str, Any] | None,
) -> tuple[pd.DataFrame, Market, AlertRule, list[MapState], np.ndarray, list[Engagement]]:
    df = validate_market(df)
    if rule is None:
        rule = AlertRule.from_history(df)
    elif not isinstance(rule, AlertRule):
        raise DataError(f"rule must be an AlertRule or None, got {type(rule).__name__}")
    market = market_arrays(df)
    states, group = map_states(df, source, rule, bin_size=bin_size, price=price, cluster_options=cluster_options)
    out: list[Engagement] = []
    bounds = np.searchsorted(group, np.arange(len(states) + 1))  # group is nondecreasing
    for g, state in enumerate(states):
        t0, t1 = int(bounds[g]), int(bounds[g + 1])
        if t1 > t0:
            entered = state.entries(market, t0, t1, rule.rearm_pct)
            out.extend(evaluate(market, t, state, rule, entered.get(t, ())) for t in range(t0, t1))
    return df, market, rule, states, group, out


def engagement(
    df: pd.DataFrame,
    levels_or_heatmap: pd.DataFrame | Heatmap,
    *,
    rule: AlertRule | None = None,
    bin_size: float | None = None,
    price: float | None = None,
    cluster_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Engagement with the liquidation bands for every candle of ``df`` (index = ``df.index``).

    Parameters
    ----------
    df
        Market frame (see :mod:`liqtools.schema`).
    levels_or_heatmap
        A levels frame (``price, notional_usd, side``): one map for every candle, with bands from
        ``find_clusters(liquidation_map(levels, price))``. Or a :class:`Heatmap`: candle t uses the map of
        the last snapshot taken before it (``Heatmap.times < t``; the snapshot after candle t has the
        levels candle t crossed removed already), read against that snapshot's close. Candles before the
        first snapshot have no bands.
    rule
        The :class:`AlertRule`; default :meth:`AlertRule.from_history` on ``df`` (in-sample thresholds).
    bin_size
        Bin width of the maps; default the heatmap's, or :func:`liquidation_map`'s for a levels frame.
    price
        For a levels frame: the price it was read at (shorts above it, longs below); default the last close.
    cluster_options
        Keyword options of :func:`find_clusters` (e.g. ``{"max_distance_pct": 25, "top": 5}``).

    Returns
    -------
    DataFrame
        ``map_time`` (snapshot used; NaT for a levels frame), ``inside`` (range within ``edge_pct`` of a
        band), ``entered`` (entry from the liquidating side, re-armed), ``side, band_low, band_high,
        band_notional_usd`` (the band inside, else the next one ahead in the direction of the velocity,
        else the nearest ahead; empty/NaN without one), ``distance_pct`` (close to the band's near edge,
        0 inside, > 0 above), ``velocity`` (toward the band), ``pct_per_hour`` (the price's own move over
        the lookback, percent per hour), ``volume_ratio``, ``notional_ahead_usd``, ``alert`` (text, "").

    Examples
    --------
    >>> from liqtools import load_sample, liquidation_heatmap
    >>> df = load_sample()
    >>> e = engagement(df, liquidation_heatmap(df, every=24))
    >>> int((e["alert"] != "").sum()), bool((e["map_time"].dropna() < e.index[e["map_time"].notna()]).all())
    (14, True)
    """
    df, _, _, _, _, rows = _run(df, levels_or_heatmap, rule, bin_size, price, cluster_options)
    frame = pd.DataFrame([r.row() for r in rows], index=df.index, columns=list(ENGAGEMENT_COLUMNS))
    frame["map_time"] = pd.to_datetime(frame["map_time"], utc=True)
    return frame.astype({"inside": bool, "entered": bool})


def alerts(
    df: pd.DataFrame,
    levels_or_heatmap: pd.DataFrame | Heatmap,
    *,
    rule: AlertRule | None = None,
    bin_size: float | None = None,
    price: float | None = None,
    cluster_options: Mapping[str, Any] | None = None,
) -> list[Alert]:
    """The :class:`Alert` objects of :func:`engagement` in time order (same arguments).

    >>> from liqtools import load_sample, liquidation_heatmap
    >>> df = load_sample()
    >>> first = alerts(df, liquidation_heatmap(df, every=24))[0]
    >>> first.side, str(first.time)
    ('short', '2025-12-09 16:00:00+00:00')
    """
    rows = _run(df, levels_or_heatmap, rule, bin_size, price, cluster_options)[-1]
    return [r.alert for r in rows if r.alert is not None]
