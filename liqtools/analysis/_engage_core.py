"""The per-candle core of :mod:`liqtools.analysis.engagement`: the result types, one map's bands and levels
ready for fast look-ups, and the evaluation of one candle against them (docs/model.md section 9)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis.heatmap_result import Heatmap
from liqtools.analysis.indicators import as_bands
from liqtools.analysis.levels import find_clusters, level_arrays, liquidation_map
from liqtools.analysis.momentum_events import band_events
from liqtools.errors import DataError

if TYPE_CHECKING:
    from liqtools.analysis.engagement import AlertRule

__all__ = ["Alert", "Engagement", "MapState", "Market", "alert_text", "evaluate", "map_states", "market_arrays"]


def _pct(x: float) -> str:
    return f"{x:+.1f}" if abs(x) >= 0.95 else f"{x:+.2f}"


def alert_text(side: str, low: float, high: float, pct_per_hour: float, ratio: float, ahead: float, within: float) -> str:
    """The sentence a trader reads.

    >>> alert_text("short", 72_500, 79_500, 1.23, 2.41, 1.1e9, 3.0)
    'price entered the $72,500-$79,500 short band at +1.2% per hour on 2.4x volume; $1.10B modelled shorts within the next 3%'
    """
    return (
        f"price entered the {price_text(low)}-{price_text(high)} {side} band at {_pct(pct_per_hour)}% per hour on "
        f"{ratio:.1f}x volume; {usd(ahead)} modelled {side}s within the next {within:g}%"
    )


@dataclass(frozen=True)
class Alert:
    """An entry into a band with velocity and volume above the rule's thresholds.

    ``velocity`` is toward the band (log return per candle over the rule's lookback, > 0);
    ``pct_per_hour`` the price's own move over the same candles in percent per hour (+ up, - down);
    ``notional_ahead_usd`` the modelled notional of the band's side beyond the candle's range and within
    ``within_pct`` percent of its close (``price``); ``text`` the sentence a trader reads.
    """

    time: pd.Timestamp
    side: str
    band_low: float
    band_high: float
    price: float
    velocity: float
    pct_per_hour: float
    volume_ratio: float
    notional_ahead_usd: float
    within_pct: float
    text: str

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} UTC: {self.text}"


@dataclass(frozen=True)
class Engagement:
    """One candle against the bands (see :func:`~liqtools.analysis.engagement.engagement` for the fields).

    ``side`` is None and the band fields NaN when there is no band inside or ahead; ``position`` is the
    candle's row in the frame given; ``map_time`` the snapshot used (NaT for a fixed levels frame)."""

    time: pd.Timestamp
    position: int
    price: float
    map_time: pd.Timestamp
    inside: bool
    entered: bool
    side: str | None
    band_low: float
    band_high: float
    band_notional_usd: float
    distance_pct: float
    velocity: float
    pct_per_hour: float
    volume_ratio: float
    notional_ahead_usd: float
    within_pct: float
    alert: Alert | None

    def row(self) -> tuple[Any, ...]:
        """The values of :data:`~liqtools.analysis.engagement.ENGAGEMENT_COLUMNS`."""
        return (
            self.map_time, self.inside, self.entered, self.side or "", self.band_low, self.band_high,
            self.band_notional_usd, self.distance_pct, self.velocity, self.pct_per_hour, self.volume_ratio,
            self.notional_ahead_usd, self.alert.text if self.alert else "",
        )


@dataclass(frozen=True, eq=False)
class Market:
    """Arrays of a validated market frame (up to some candle)."""

    index: pd.DatetimeIndex
    ns: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    log_close: np.ndarray
    volume: np.ndarray


def market_arrays(df: pd.DataFrame, stop: int | None = None) -> Market:
    def col(name: str) -> np.ndarray:
        return df[name].to_numpy(dtype=np.float64)[:stop]

    close = col("close")
    index = df.index[:stop]
    return Market(index, index.as_unit("ns").asi8, col("high"), col("low"), close, np.log(close), col("volume"))


@dataclass(frozen=True, eq=False)
class MapState:
    """One map: its bands (widened by ``edge_pct``) and its levels sorted per side with prefix sums."""

    time: pd.Timestamp
    ref_price: float
    map_df: pd.DataFrame | None
    low: np.ndarray
    high: np.ndarray
    direction: np.ndarray  # +1 short band (entered going up), -1 long band
    notional: np.ndarray
    a: np.ndarray  # widened low
    b: np.ndarray  # widened high
    short_q: np.ndarray
    short_cum: np.ndarray
    long_q: np.ndarray
    long_cum: np.ndarray

    def _events(self, m: Market, k: int, t0: int, t1: int, rearm_pct: float) -> np.ndarray:
        """Candles ``t0 .. t1 - 1`` entering band ``k`` from its liquidating side: :func:`band_events` on the
        candles from the last one before ``t0`` that was in the band or beyond the re-arm distance (the
        candles between are neutral, so the result equals a run over the whole history)."""
        a, b = float(self.a[k]), float(self.b[k])
        r = rearm_pct / 100.0
        start, size = t0, 16
        while start > 0:  # search back in growing blocks for the last candle with a state
            lo_, j = max(0, start - size), start
            hi_w, lo_w = m.high[lo_:j], m.low[lo_:j]
            state = (hi_w < a * (1 - r)) | (lo_w > b * (1 + r)) | ((lo_w <= b) & (hi_w >= a))
            if state.any():
                start = lo_ + int(np.flatnonzero(state)[-1])
                break
            start, size = lo_, size * 4
        idx, app = band_events(m.high[start:t1], m.low[start:t1], a, b, rearm_pct)
        idx = idx + start
        return idx[(idx >= t0) & (app == self.direction[k])]

    def entered_at(self, m: Market, t: int, bands: Sequence[int], rearm_pct: float) -> tuple[int, ...]:
        """The bands among ``bands`` that candle ``t`` enters from the liquidating side (re-armed)."""
        return tuple(int(k) for k in bands if len(self._events(m, int(k), t, t + 1, rearm_pct)))

    def entries(self, m: Market, t0: int, t1: int, rearm_pct: float) -> dict[int, tuple[int, ...]]:
        """Candle -> bands entered from the liquidating side, for the candles ``t0 .. t1 - 1``."""
        found: dict[int, list[int]] = {}
        for k in range(len(self.low)):
            for t in self._events(m, k, t0, t1, rearm_pct):
                found.setdefault(int(t), []).append(k)
        return {t: tuple(ks) for t, ks in found.items()}


def _bands(clusters: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """low, high, side of a clusters frame; :func:`as_bands` (which names the bad band) when one is off."""
    if len(clusters) == 0:
        return np.empty(0), np.empty(0), np.empty(0, dtype=object)
    try:
        low = clusters["low"].to_numpy(dtype=np.float64)
        high = clusters["high"].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        low = high = np.array([np.nan])
    side = clusters["side"].to_numpy()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(low).all() and np.isfinite(high).all() and (low > 0).all() and (low < high).all()
    if not (ok and np.isin(side, ("long", "short")).all()):
        as_bands(clusters)  # raises, naming the band
    return low, high, side


def _levels(levels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """price, notional, is_long of a levels frame; :func:`level_arrays` (which names the fault) when one is off."""
    if isinstance(levels, pd.DataFrame) and all(c in levels.columns for c in ("price", "notional_usd", "side")):
        try:
            q = levels["price"].to_numpy(dtype=np.float64)
            value = levels["notional_usd"].to_numpy(dtype=np.float64)
            side = levels["side"].to_numpy()
            is_long = side == "long"
            if np.isfinite(q).all() and np.isfinite(value).all() and (value >= 0).all() and (is_long | (side == "short")).all():
                return q, value, is_long
        except (TypeError, ValueError):
            pass
    return level_arrays(levels)


def prepare_state(
    clusters: pd.DataFrame,
    levels: pd.DataFrame,
    edge_pct: float,
    time: pd.Timestamp | None = None,
    map_df: pd.DataFrame | None = None,
    ref_price: float = math.nan,
) -> MapState:
    """Check the clusters and levels and ready them for :func:`evaluate`."""
    if not isinstance(clusters, pd.DataFrame):
        raise DataError(f"clusters must be a find_clusters frame (side, low, high), got {type(clusters).__name__}")
    missing = [c for c in ("low", "high", "side") if c not in clusters.columns]
    if missing:
        raise DataError(f"clusters frame is missing column(s) {missing}; pass the output of find_clusters")
    low, high, side = _bands(clusters)
    if "notional_usd" in clusters.columns and len(clusters):
        notional = pd.to_numeric(clusters["notional_usd"], errors="coerce").to_numpy(dtype=np.float64)
    else:
        notional = np.full(len(low), np.nan)
    q, value, is_long = _levels(levels)
    sides = []
    for mask in (~is_long, is_long):
        order = np.argsort(q[mask], kind="stable")
        sides += [q[mask][order], np.concatenate([[0.0], np.cumsum(value[mask][order])])]
    e = edge_pct / 100.0
    return MapState(
        pd.Timestamp(time) if time is not None else pd.NaT,  # type: ignore[arg-type]
        float(ref_price), map_df, low, high, np.where(side == "short", 1, -1), notional, low * (1 - e), high * (1 + e),
        *sides,
    )


def evaluate(m: Market, t: int, st: MapState, rule: AlertRule, entered: Sequence[int] | None) -> Engagement:
    """Candle ``t`` of ``m`` against one map; ``entered``: the bands it enters (None: find them)."""
    hi, lo, c = float(m.high[t]), float(m.low[t]), float(m.close[t])
    lb = rule.lookback
    v = pct = ratio = math.nan
    if t >= lb:
        step = float(m.log_close[t] - m.log_close[t - lb])
        v = step / lb
        pct = 100.0 * math.expm1(step * 3.6e12 / float(m.ns[t] - m.ns[t - lb]))
        med = float(np.median(m.volume[t - lb : t]))
        ratio = float(m.volume[t]) / med if med > 0 else math.nan
    touched = np.flatnonzero((lo <= st.b) & (hi >= st.a))
    k, is_entered = -1, False
    if len(touched):
        if entered is None:
            entered = st.entered_at(m, t, touched.tolist(), rule.rearm_pct)
        toward = v * st.direction[touched]
        rank = sorted(
            range(len(touched)),
            key=lambda i: (touched[i] not in entered, not toward[i] > 0, -np.nan_to_num(st.notional[touched[i]], nan=-1)),
        )
        k = int(touched[rank[0]])
        is_entered = k in entered
    else:
        short = st.direction == 1
        ahead = (short & (st.a > hi)) | (~short & (st.b < lo))
        dist = np.where(short, st.low - c, c - st.high)
        way = ahead & (short if v > 0 else ~short if v < 0 else False)
        pick = way if way.any() else ahead
        if pick.any():
            k = int(np.flatnonzero(pick)[np.argmin(dist[pick])])
    if k < 0:
        return Engagement(
            m.index[t], t, c, st.time, False, False, None, math.nan, math.nan, math.nan, math.nan, math.nan,
            pct, ratio, math.nan, rule.within_pct, None,
        )
    side = "short" if st.direction[k] == 1 else "long"
    b_lo, b_hi = float(st.low[k]), float(st.high[k])
    distance = 0.0 if b_lo <= c <= b_hi else ((b_lo if c < b_lo else b_hi) - c) / c * 100.0
    toward_k = v * float(st.direction[k])
    w = rule.within_pct / 100.0
    if side == "short":
        lim = c * (1 + w)
        ahead_usd = 0.0
        if lim > hi:
            s = np.searchsorted(st.short_q, [hi, lim], side="right")
            ahead_usd = float(st.short_cum[s[1]] - st.short_cum[s[0]])
    else:
        lim = c * (1 - w)
        ahead_usd = 0.0
        if lim < lo:
            s = np.searchsorted(st.long_q, [lim, lo], side="left")
            ahead_usd = float(st.long_cum[s[1]] - st.long_cum[s[0]])
    alert = None
    if is_entered and toward_k > 0 and toward_k >= rule.velocity_min and ratio >= rule.volume_ratio_min:
        text = alert_text(side, b_lo, b_hi, pct, ratio, ahead_usd, rule.within_pct)
        alert = Alert(m.index[t], side, b_lo, b_hi, c, toward_k, pct, ratio, ahead_usd, rule.within_pct, text)
    return Engagement(
        m.index[t], t, c, st.time, bool(len(touched)), is_entered, side, b_lo, b_hi, float(st.notional[k]),
        distance, toward_k, pct, ratio, ahead_usd, rule.within_pct, alert,
    )


def map_states(
    df: pd.DataFrame,
    source: pd.DataFrame | Heatmap,
    rule: AlertRule,
    *,
    bin_size: float | None,
    price: float | None,
    cluster_options: Mapping[str, Any] | None,
) -> tuple[list[MapState], np.ndarray]:
    """The maps a run uses and, per candle of ``df``, which one (nondecreasing; 0 = no map yet)."""
    if cluster_options is not None and not isinstance(cluster_options, Mapping):
        raise DataError(f"cluster_options must be a mapping of find_clusters options, got {cluster_options!r}")
    opts = dict(cluster_options or {})
    n = len(df)
    if isinstance(source, Heatmap):
        if price is not None:
            raise DataError("price is for a levels frame; a Heatmap's maps are read at each snapshot's close")
        empty = pd.DataFrame({"price": [], "notional_usd": [], "side": []})
        states = [prepare_state(pd.DataFrame({"low": [], "high": [], "side": []}), empty, rule.edge_pct)]
        g = source.times.searchsorted(df.index, side="left") - 1  # last snapshot strictly before the candle
        used = np.unique(g[g >= 0])
        size = source.bin_size if bin_size is None else bin_size
        for s in used:
            ts = source.times[s]
            levels, ref = source.levels_at(ts), source.close_at(ts)
            map_df = liquidation_map(levels, ref, bin_size=size)
            clusters = find_clusters(map_df, ref, **opts)
            states.append(prepare_state(clusters, levels, rule.edge_pct, ts, map_df, ref))
        lookup = np.zeros(len(source.times) + 1, dtype=np.int64)
        lookup[used + 1] = np.arange(1, len(used) + 1)
        return states, lookup[g + 1]
    if not isinstance(source, pd.DataFrame):
        raise DataError(
            f"levels_or_heatmap must be a levels frame (price, notional_usd, side) or a Heatmap, got {type(source).__name__}"
        )
    ref = float(df["close"].iloc[-1]) if price is None else price
    if not (isinstance(ref, (int, float, np.number)) and math.isfinite(ref) and ref > 0):
        raise DataError(f"price must be a positive number, got {price!r}")
    level_arrays(source)  # name a bad levels frame before mapping it
    map_df = liquidation_map(source, ref, bin_size=bin_size)
    clusters = find_clusters(map_df, ref, **opts)
    return [prepare_state(clusters, source, rule.edge_pct, None, map_df, ref)], np.zeros(n, dtype=np.int64)
