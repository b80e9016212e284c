"""Momentum near clusters: an event study of what price, speed and volume do when price enters a band
(MODEL.md section 7).

An *event* is the first candle whose range enters a band ``[low, high]`` after the price has been at
least ``rearm_pct`` percent away from it (a whole candle beyond ``low * (1 - r)`` or ``high * (1 + r)``).
The side it came from is the event's *approach* (+1 from below, -1 from above). Control events follow the
same rule on bands of equal width placed where the map is thin; the differences between events and
controls are tested with statsmodels OLS and Driscoll-Kraay (HAC over time) standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.analysis.indicators import BandsLike, _trailing_median, as_bands
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["MEASURES", "EventStudy", "event_study"]

MEASURES: tuple[str, ...] = ("return", "velocity", "volume_ratio")
EFFECT_COLUMNS = ("horizon", "measure", "effect", "se", "pvalue", "ci_low", "ci_high", "n_events", "n_controls")


@dataclass(frozen=True, eq=False)
class EventStudy:
    """Result of :func:`event_study`.

    Attributes
    ----------
    events
        One row per event: ``time, candle, band, side, low, high, approach`` (+1 entered from below, -1
        from above), ``entry_price`` (the band edge crossed, or the open when the candle opened inside),
        ``close``, ``velocity`` (log return per candle over the ``lookback`` candles up to the event,
        signed by the approach: > 0 means moving into the band), ``volume_ratio`` (the event candle's
        volume over the median of the ``lookback`` candles before it), then per horizon h
        ``return_h`` (log return from the event's close to the close h candles later, signed by the
        approach: > 0 means the move continued), ``velocity_h`` (``|log return| / h``, the speed either
        way) and ``volume_ratio_h`` (mean volume of the next h candles over the same trailing median);
        and ``realized_long_usd, realized_short_usd`` of the period holding the event when realized
        liquidations were given.
    controls
        The same columns for the control events (``band`` numbers the control bands).
    effects
        One row per horizon and measure: ``horizon, measure, effect, se, pvalue, ci_low, ci_high,
        n_events, n_controls``. ``effect`` is mean(events) - mean(controls) (the mean of the events
        when there are no controls), from statsmodels OLS on a constant and an event dummy with HAC
        standard errors over *episodes*: events and controls less than ``horizon + 1`` candles apart
        (chained) form one episode, so every pair whose forward windows overlap is in one, and the
        covariance is summed within episodes (``cov_type="hac-groupsum"`` with the episode as the time
        unit and lag 0, i.e. Driscoll-Kraay / cluster-robust by episode). The lag window thus covers every
        lag up to the horizon in full, where a Bartlett kernel of ``maxlags = horizon`` over candles would
        down-weight them (in simulations without any effect that rejected 13-25% of the time at the 5%
        level; by episode it stays near 5%). p-values and the ``1 - alpha`` interval use a t
        distribution with (episodes - 1) degrees of freedom; with fewer than 3 episodes they are NaN.
    paths
        Mean cumulative log return (signed by the approach) from the event's close, per candle offset
        ``-lookback .. max(horizons)``: ``event_mean, event_low, event_high, control_mean, control_low,
        control_high, n_events, n_controls`` (interval by the same HAC by episode, windows of ``|k|``).
    bands, control_bands
        The bands studied and the control bands (``low, high, side``).
    options
        The keyword options used.
    """

    events: pd.DataFrame
    controls: pd.DataFrame
    effects: pd.DataFrame
    paths: pd.DataFrame
    bands: pd.DataFrame
    control_bands: pd.DataFrame
    options: Mapping[str, Any] = field(default_factory=dict)

    def effect(self, measure: str, horizon: int) -> pd.Series:
        """The effects row for one measure and horizon."""
        rows = self.effects[(self.effects["measure"] == measure) & (self.effects["horizon"] == horizon)]
        if rows.empty:
            raise DataError(f"no effect for measure {measure!r} at horizon {horizon}; measures {MEASURES}")
        return rows.iloc[0]

    def summary(self) -> str:
        """Plain-text table of the effects with the counts, the test and the caveat."""
        e = self.effects.copy()
        head = (
            f"Event study: {len(self.events)} entries into {len(self.bands)} band(s), "
            f"{len(self.controls)} control entries into {len(self.control_bands)} thin band(s); "
            f"rearm {self.options.get('rearm_pct')}%, lookback {self.options.get('lookback')} candles."
        )
        if e.empty:
            return head + "\n(no events)"
        shown = pd.DataFrame(
            {
                "horizon": e["horizon"],
                "measure": e["measure"],
                "effect": e["effect"].map(lambda x: f"{x:+.5f}"),
                "se": e["se"].map(lambda x: f"{x:.5f}"),
                "p": e["pvalue"].map(lambda x: f"{x:.3f}"),
                "95% CI": [f"[{lo:+.5f}, {hi:+.5f}]" for lo, hi in zip(e["ci_low"], e["ci_high"])],
                "events": e["n_events"],
                "controls": e["n_controls"],
            }
        )
        notes = (
            "effect = mean(events) - mean(controls); return: log return from the event close, signed so that > 0 "
            "continues the move into the band; velocity: |log return| per candle; volume_ratio: mean volume over "
            "the trailing median. OLS, HAC errors by episode of overlapping windows. Events overlap in time and "
            "bands may be chosen with hindsight: treat p-values as descriptive unless the bands were fixed in advance."
        )
        return "\n".join([head, shown.to_string(index=False), notes])


def _check_horizons(horizons: Iterable[int]) -> tuple[int, ...]:
    try:
        hs = tuple(horizons)
    except TypeError:
        raise DataError(f"horizons must be a sequence of positive integers, got {horizons!r}") from None
    if not hs:
        raise DataError("horizons is empty: give at least one positive integer number of candles")
    for h in hs:
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0:
            raise DataError(f"horizons must be positive integers (candles), got {h!r}")
    if len(set(hs)) != len(hs):
        raise DataError(f"horizons must not repeat, got {hs}")
    return tuple(int(h) for h in hs)


def band_events(
    high: np.ndarray, low: np.ndarray, band_low: float, band_high: float, rearm_pct: float
) -> tuple[np.ndarray, np.ndarray]:
    """Candles where the range enters ``[band_low, band_high]`` after being ``rearm_pct`` percent away,
    and the approach of each (+1 from below, -1 from above). Vectorised: no loop over candles."""
    r = rearm_pct / 100.0
    below = high < band_low * (1.0 - r)
    above = low > band_high * (1.0 + r)
    touch = (low <= band_high) & (high >= band_low)
    state = np.where(below, 1, np.where(above, 2, np.where(touch, 3, 0))).astype(np.int8)
    pos = np.where(state != 0, np.arange(len(state)), -1)
    last = np.maximum.accumulate(pos)
    prev = np.concatenate([[-1], last[:-1]])
    prev_state = np.where(prev >= 0, state[np.maximum(prev, 0)], 0)
    hit = touch & ((prev_state == 1) | (prev_state == 2))
    idx = np.flatnonzero(hit)
    return idx, np.where(prev_state[idx] == 1, 1, -1).astype(np.int64)


def _auto_controls(
    bands: pd.DataFrame,
    lo_price: float,
    hi_price: float,
    map_df: pd.DataFrame | None,
    ref_price: float,
    gaps: Sequence[float],
) -> pd.DataFrame:
    """One control band per band: same width, the nearest window (in steps of its width) inside the
    traded range whose gap to every band and control is at least one band-width plus ``gap`` (a fraction
    of the price; the first of ``gaps`` that leaves room), and, with a map, no denser than the median
    window of that width."""
    if map_df is not None:
        m_low = map_df["low"].to_numpy(dtype=np.float64)
        m_high = map_df["high"].to_numpy(dtype=np.float64)
        centres = 0.5 * (m_low + m_high)
        dens = map_df["long_usd"].to_numpy(dtype=np.float64) + map_df["short_usd"].to_numpy(dtype=np.float64)
        cum = np.concatenate([[0.0], np.cumsum(dens)])
    used_lo = bands["low"].to_numpy(dtype=np.float64).copy()
    used_hi = bands["high"].to_numpy(dtype=np.float64).copy()
    rows = []
    for lo, hi, side in zip(bands["low"], bands["high"], bands["side"]):
        w = hi - lo
        k_max = int(math.ceil(max(hi_price - lo, hi - lo_price) / w)) + 1
        j = np.arange(2, k_max + 1)
        first, second = (j, -j) if lo >= ref_price else (-j, j)
        ks = np.stack([first, second], axis=1).ravel()  # nearest first, alternating sides
        a, b = lo + ks * w, hi + ks * w
        inside = (a >= lo_price) & (b <= hi_price) & (a > 0)
        a, b = a[inside], b[inside]
        chosen = None
        for gap in gaps:
            # clear of every band and control by one width plus the gap on both sides
            x0 = used_lo * (1 - gap) - w
            x1 = used_hi * (1 + gap) + w
            free = ((b[:, None] <= x0[None, :]) | (a[:, None] >= x1[None, :])).all(axis=1)
            ca, cb = a[free], b[free]
            if map_df is not None and len(ca):
                mass = cum[np.searchsorted(centres, cb)] - cum[np.searchsorted(centres, ca)]
                thin = mass <= np.median(mass)
                ca, cb = ca[thin], cb[thin]
            if len(ca):
                chosen = (float(ca[0]), float(cb[0]))
                break
        if chosen is None:
            continue
        rows.append((chosen[0], chosen[1], side))
        used_lo = np.append(used_lo, chosen[0])
        used_hi = np.append(used_hi, chosen[1])
    return pd.DataFrame(rows, columns=["low", "high", "side"])


def _realized_lookup(realized: pd.DataFrame, times: pd.DatetimeIndex) -> pd.DataFrame:
    from liqtools.analysis.validation import check_realized

    real, period = check_realized(realized)
    pos = real.index.searchsorted(times, side="right") - 1
    ok = (pos >= 0) & (times < real.index[np.maximum(pos, 0)] + period)
    out = pd.DataFrame(index=range(len(times)))
    for col in ("long_usd", "short_usd"):
        values = real[col].to_numpy(dtype=np.float64)
        out[f"realized_{col}"] = np.where(ok, values[np.maximum(pos, 0)], np.nan)
    return out


def _study_rows(
    df: pd.DataFrame,
    bands: pd.DataFrame,
    horizons: tuple[int, ...],
    rearm_pct: float,
    lookback: int,
    arrays: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    high, low, close, open_, log_c = arrays["high"], arrays["low"], arrays["close"], arrays["open"], arrays["log_close"]
    vol_cum, med = arrays["vol_cum"], arrays["median"]
    n = len(close)
    idx_parts, app_parts, band_parts = [], [], []
    for k, (lo, hi) in enumerate(zip(bands["low"].to_numpy(), bands["high"].to_numpy())):
        idx, app = band_events(high, low, float(lo), float(hi), rearm_pct)
        idx_parts.append(idx)
        app_parts.append(app)
        band_parts.append(np.full(len(idx), k))
    idx = np.concatenate(idx_parts) if idx_parts else np.empty(0, np.int64)
    app = np.concatenate(app_parts) if app_parts else np.empty(0, np.int64)
    band = np.concatenate(band_parts) if band_parts else np.empty(0, np.int64)
    order = np.lexsort((band, idx))
    idx, app, band = idx[order], app[order], band[order]
    b_low = bands["low"].to_numpy()[band]
    b_high = bands["high"].to_numpy()[band]
    edge = np.where(app > 0, b_low, b_high)
    inside = (open_[idx] >= b_low) & (open_[idx] <= b_high)
    entry = np.where(inside, open_[idx], edge)
    back = idx - lookback
    vel = np.where(back >= 0, log_c[idx] - log_c[np.maximum(back, 0)], np.nan) / lookback * app
    with np.errstate(invalid="ignore", divide="ignore"):
        m = med[idx]
        vr = np.where(m > 0, (vol_cum[idx + 1] - vol_cum[idx]) / m, np.nan)
    cols: dict[str, Any] = {
        "time": arrays["index"][idx],
        "candle": idx,
        "band": band,
        "side": bands["side"].to_numpy()[band],
        "low": b_low,
        "high": b_high,
        "approach": app,
        "entry_price": entry,
        "close": close[idx],
        "velocity": vel,
        "volume_ratio": vr,
    }
    for h in horizons:
        fwd = idx + h
        ok = fwd < n
        r = np.where(ok, log_c[np.minimum(fwd, n - 1)] - log_c[idx], np.nan)
        cols[f"return_{h}"] = r * app
        cols[f"velocity_{h}"] = np.abs(r) / h
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_vol = np.where(ok, (vol_cum[np.minimum(fwd, n - 1) + 1] - vol_cum[idx + 1]) / h, np.nan)
            cols[f"volume_ratio_{h}"] = np.where(m > 0, mean_vol / m, np.nan)
    return pd.DataFrame(cols)


def episodes(candles: np.ndarray, horizon: int) -> np.ndarray:
    """Episode code of each observation: observations less than ``horizon + 1`` candles apart (chained)
    share an episode, so every pair whose forward windows of ``horizon`` candles overlap is in one."""
    if len(candles) == 0:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(candles, kind="stable")
    ts = candles[order]
    code_sorted = np.cumsum(np.r_[True, np.diff(ts) > horizon]) - 1
    out = np.empty(len(candles), dtype=np.int64)
    out[order] = code_sorted
    return out


def _cluster_mean(y: np.ndarray, groups: np.ndarray) -> tuple[float, float, int]:
    """Mean of y, its standard error with the covariance summed within groups (CR1), and the group count."""
    n = len(y)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(y.mean())
    g = np.bincount(groups, weights=y - mean)
    n_g = int((np.bincount(groups) > 0).sum())
    if n_g < 2:
        return mean, math.nan, n_g
    var = float(g @ g) / n**2 * n_g / (n_g - 1)
    return mean, math.sqrt(max(var, 0.0)), n_g


def _effects(
    events: pd.DataFrame, controls: pd.DataFrame | None, horizons: tuple[int, ...], alpha: float
) -> pd.DataFrame:
    import statsmodels.api as sm
    from scipy import stats

    rows = []
    for h in horizons:
        for measure in MEASURES:
            col = f"{measure}_{h}"
            ye = events[col].to_numpy(dtype=np.float64)
            te = events["candle"].to_numpy()
            ok = np.isfinite(ye)
            ye, te = ye[ok], te[ok]
            if controls is not None:
                yc = controls[col].to_numpy(dtype=np.float64)
                tc = controls["candle"].to_numpy()
                okc = np.isfinite(yc)
                yc, tc = yc[okc], tc[okc]
            else:
                yc, tc = np.empty(0), np.empty(0, np.int64)
            n_e, n_c = len(ye), len(yc)
            nan_row = (h, measure, math.nan, math.nan, math.nan, math.nan, math.nan, n_e, n_c)
            if n_e < 2 or (controls is not None and n_c < 2):
                rows.append(nan_row)
                continue
            y = np.concatenate([ye, yc])
            t = np.concatenate([te, tc])
            if controls is not None:
                x = np.column_stack([np.ones(len(y)), np.r_[np.ones(n_e), np.zeros(n_c)]])
            else:
                x = np.ones((len(y), 1))
            # HAC over time by episodes: all covariance within an episode (every pair of observations
            # whose forward windows overlap, i.e. all lags up to the horizon and beyond within a chain),
            # none across episodes (Driscoll-Kraay sums per episode with lag 0)
            codes = episodes(t, h)
            n_ep = int(codes.max()) + 1
            if n_ep < 3:
                est = float(ye.mean() - (yc.mean() if controls is not None else 0.0))
                rows.append((h, measure, est, math.nan, math.nan, math.nan, math.nan, n_e, n_c))
                continue
            res = sm.OLS(y, x).fit(
                cov_type="hac-groupsum", cov_kwds={"time": codes, "maxlags": 0, "df_correction": False}
            )
            j = x.shape[1] - 1
            est = float(np.asarray(res.params)[j])
            se = float(np.asarray(res.bse)[j])
            if not (se > 0 and np.isfinite(se)):
                rows.append((h, measure, est, math.nan, math.nan, math.nan, math.nan, n_e, n_c))
                continue
            # t with (episodes - 1) degrees of freedom, as for cluster-robust inference
            dof = n_ep - 1
            q = float(stats.t.ppf(1 - alpha / 2, dof))
            pvalue = float(2 * stats.t.sf(abs(est / se), dof))
            rows.append((h, measure, est, se, pvalue, est - q * se, est + q * se, n_e, n_c))
    out = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))
    return out.astype({"horizon": np.int64, "n_events": np.int64, "n_controls": np.int64})


def _paths(
    events: pd.DataFrame, controls: pd.DataFrame, log_c: np.ndarray, lookback: int, max_h: int, alpha: float
) -> pd.DataFrame:
    from scipy import stats

    offsets = np.arange(-lookback, max_h + 1)
    n = len(log_c)
    out: dict[str, Any] = {}
    for name, frame in (("event", events), ("control", controls)):
        idx = frame["candle"].to_numpy(dtype=np.int64)
        app = frame["approach"].to_numpy(dtype=np.float64)
        means, lows, highs, counts = [], [], [], []
        for k in offsets:
            j = idx + k
            ok = (j >= 0) & (j < n)
            y = (log_c[j[ok]] - log_c[idx[ok]]) * app[ok]
            if k == 0:
                means.append(0.0), lows.append(0.0), highs.append(0.0), counts.append(int(ok.sum()))
                continue
            mean, se, n_g = _cluster_mean(y, episodes(idx[ok], abs(int(k))))
            q = stats.t.ppf(1 - alpha / 2, n_g - 1) if n_g > 1 else math.nan
            means.append(mean)
            lows.append(mean - q * se)
            highs.append(mean + q * se)
            counts.append(len(y))
        out[f"{name}_mean"] = means
        out[f"{name}_low"] = lows
        out[f"{name}_high"] = highs
        out[f"n_{name}s"] = counts
    return pd.DataFrame(out, index=pd.Index(offsets, name="offset"))


def event_study(
    df: pd.DataFrame,
    bands: BandsLike,
    *,
    horizons: Sequence[int] = (1, 4, 12, 24),
    rearm_pct: float = 1.0,
    lookback: int = 12,
    controls: Literal["auto"] | BandsLike | None = "auto",
    map_df: pd.DataFrame | None = None,
    realized: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> EventStudy:
    """What happens when price enters a band: forward returns, speed and volume against control bands.

    Parameters
    ----------
    df
        Market frame (``open, high, low, close, volume``; see :mod:`liqtools.schema`).
    bands
        A :func:`find_clusters` frame (``low, high, side``) or ``(low, high, side)`` tuples.
    horizons
        Forward horizons in candles (positive integers).
    rearm_pct
        A band's next event needs a whole candle at least this many percent beyond it first.
    lookback
        Candles of the entry velocity and of the trailing volume median.
    controls
        ``"auto"``: one control band per band, of the same width, at the nearest window (in steps of
        that width) inside the traded range whose gap to every band and control is at least one
        band-width plus the re-arm distance plus a typical move over the longest horizon (the
        standard deviation of per-candle log returns times ``sqrt(max(horizons))``; the re-arm distance
        alone where that leaves no room), and, with ``map_df``, no denser than the median window; a band
        with no room left gets no control. Or bands (frame or tuples) to use given ones; or None to test
        the events' means against zero. Control entries within ``max(horizons)`` candles after a band
        event are dropped, so the bands' aftermath does not leak into the controls (this uses only the
        past of each control). A control entry followed by a band entry within the horizon still
        carries some of the band's effect, which makes the comparison conservative (biased towards 0):
        in simulations with a planted drift, controls one band-width away lost a third of the effect,
        which is why the gap above is as wide as a typical move over the horizon.
    map_df
        Optional :func:`liquidation_map` frame, to place automatic controls where the map is thin.
    realized
        Optional realized liquidations (``long_usd, short_usd`` per period, UTC index of period starts),
        copied into the events of their period.
    alpha
        1 - confidence level of the intervals.

    Returns
    -------
    EventStudy

    Examples
    --------
    >>> from liqtools import load_sample, event_study
    >>> df = load_sample()
    >>> study = event_study(df, [(86_000, 87_000, "short"), (84_000, 85_000, "long")])
    >>> list(study.effects.columns)
    ['horizon', 'measure', 'effect', 'se', 'pvalue', 'ci_low', 'ci_high', 'n_events', 'n_controls']
    >>> sorted(set(study.effects["measure"]))
    ['return', 'velocity', 'volume_ratio']
    >>> len(study.events) > 0 and len(study.controls) > 0
    True
    """
    hs = _check_horizons(horizons)
    if not (isinstance(rearm_pct, (int, float, np.number)) and math.isfinite(rearm_pct) and rearm_pct >= 0):
        raise DataError(f"rearm_pct must be a number >= 0 (percent), got {rearm_pct!r}")
    if isinstance(lookback, bool) or not isinstance(lookback, (int, np.integer)) or lookback < 1:
        raise DataError(f"lookback must be a positive integer (candles), got {lookback!r}")
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    lookback = int(lookback)
    df = validate_market(df)
    band_frame = as_bands(bands)

    volume = df["volume"]
    arrays = {
        "index": df.index,
        "open": df["open"].to_numpy(),
        "high": df["high"].to_numpy(),
        "low": df["low"].to_numpy(),
        "close": df["close"].to_numpy(),
        "log_close": np.log(df["close"].to_numpy()),
        "vol_cum": np.concatenate([[0.0], np.cumsum(volume.to_numpy())]),
        "median": _trailing_median(volume, lookback).to_numpy(),
    }
    events = _study_rows(df, band_frame, hs, float(rearm_pct), lookback, arrays)

    if isinstance(controls, str):
        if controls != "auto":
            raise DataError(f"controls must be 'auto', bands or None, got {controls!r}")
        if map_df is not None:
            missing = [c for c in ("low", "high", "long_usd", "short_usd") if c not in map_df.columns]
            if missing:
                raise DataError(f"map_df is missing column(s) {missing}; pass the output of liquidation_map")
        # keep controls out of the bands' reach: the re-arm distance plus a typical move over the
        # longest horizon (the sample's per-candle log-return deviation times sqrt(horizon)); where that
        # leaves no room, the re-arm distance alone
        r = float(rearm_pct) / 100.0
        step_sd = float(np.nanstd(np.diff(arrays["log_close"]))) if len(df) > 2 else 0.0
        reach = step_sd * math.sqrt(max(hs))
        control_bands = _auto_controls(
            band_frame,
            float(arrays["low"].min()),
            float(arrays["high"].max()),
            map_df,
            float(arrays["close"][-1]),
            (r + reach, r),
        )
    elif controls is None:
        control_bands = pd.DataFrame(columns=["low", "high", "side"])
    else:
        control_bands = as_bands(controls)
    if len(control_bands):
        ctrl = _study_rows(df, control_bands, hs, float(rearm_pct), lookback, arrays)
        if len(events) and len(ctrl):
            # drop control entries inside the aftermath (max horizon) of a band event
            ev = np.unique(events["candle"].to_numpy())
            c = ctrl["candle"].to_numpy()
            last_event = np.searchsorted(ev, c, side="right") - 1
            near = (last_event >= 0) & (c - ev[np.maximum(last_event, 0)] <= max(hs))
            ctrl = ctrl[~near].reset_index(drop=True)
    else:
        ctrl = events.iloc[0:0].copy()

    if realized is not None:
        events = pd.concat([events, _realized_lookup(realized, pd.DatetimeIndex(events["time"]))], axis=1)
        ctrl = pd.concat([ctrl, _realized_lookup(realized, pd.DatetimeIndex(ctrl["time"]))], axis=1)

    effects = _effects(events, ctrl if controls is not None else None, hs, alpha)
    paths = _paths(events, ctrl, arrays["log_close"], lookback, max(hs), alpha)
    options = {
        "horizons": hs,
        "rearm_pct": float(rearm_pct),
        "lookback": lookback,
        "controls": "given" if not isinstance(controls, str) and controls is not None else controls,
        "alpha": alpha,
    }
    return EventStudy(events, ctrl, effects, paths, band_frame, control_bands.reset_index(drop=True), options)
