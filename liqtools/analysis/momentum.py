"""Momentum near clusters: an event study of what price, speed and volume do when price enters a band
(docs/model.md section 7).

An *event* is the first candle whose range enters a band after the price has been at least ``rearm_pct``
percent away from it (:mod:`liqtools.analysis.momentum_events`). Control events follow the same rule on
bands of equal width placed where the map is thin; the differences between events and controls are
estimated with statsmodels OLS (speed and volume at equal trailing volatility) and tested by episode of
overlapping windows with a small-sample correction and weights across neighbouring episodes
(:mod:`liqtools.analysis.momentum_stats`). The result is an :class:`EventStudy`
(:mod:`liqtools.analysis.momentum_result`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.analysis.indicators import BandsLike, _trailing_median, as_bands
from liqtools.analysis.momentum_events import (
    VOL_WINDOWS,
    auto_controls,
    band_events,
    check_horizons,
    realized_lookup,
    study_rows,
)
from liqtools.analysis.momentum_result import EFFECT_COLUMNS, MEASURES, MIN_EPISODES, EventStudy, few_episodes
from liqtools.analysis.momentum_stats import FewEpisodesWarning, episode_mean, episode_ols, episodes
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["MEASURES", "EventStudy", "FewEpisodesWarning", "band_events", "episodes", "event_study"]

# measures compared at equal trailing volatility (their level follows the volatility regime)
ADJUSTED: frozenset[str] = frozenset({"velocity", "volume_ratio"})
# default Bartlett lags across neighbouring episodes: signed forward returns of separate episodes are
# martingale differences (uncorrelated whatever the volatility does), speed and volume persist
DEFAULT_LAGS: dict[str, int] = {"return": 0, "velocity": 1, "volume_ratio": 1}


def _effects(
    events: pd.DataFrame,
    controls: pd.DataFrame | None,
    horizons: tuple[int, ...],
    alpha: float,
    *,
    adjust: bool,
    lags: int | None,
) -> pd.DataFrame:
    from scipy import stats

    rows = []
    ctrl = controls if controls is not None else events.iloc[0:0]

    def stacked(col: str) -> np.ndarray:
        return np.r_[events[col].to_numpy(dtype=np.float64), ctrl[col].to_numpy(dtype=np.float64)]

    t_all = np.r_[events["candle"].to_numpy(dtype=np.int64), ctrl["candle"].to_numpy(dtype=np.int64)]
    d_all = np.r_[np.ones(len(events)), np.zeros(len(ctrl))]
    z_all = np.column_stack([stacked(name) for name in VOL_WINDOWS])
    for h in horizons:
        for measure in MEASURES:
            covariate = adjust and controls is not None and measure in ADJUSTED
            y, t, d, z = stacked(f"{measure}_{h}"), t_all, d_all, z_all
            ok = np.isfinite(y) & (np.isfinite(z).all(axis=1) if covariate else True)
            y, t, d, z = y[ok], t[ok], d[ok], z[ok]
            is_ev = d == 1
            n_e, n_c = int(is_ev.sum()), int((~is_ev).sum())
            codes = episodes(t, h)
            ep_e, ep_c = len(np.unique(codes[is_ev])), len(np.unique(codes[~is_ev]))
            n_ep = int(codes.max()) + 1 if len(codes) else 0
            mean_diff = (
                float(y[is_ev].mean() - (y[~is_ev].mean() if controls is not None else 0.0))
                if n_e and (n_c or controls is None)
                else math.nan
            )
            counts = (n_e, n_c, ep_e, ep_c, n_ep)
            if n_e < 2 or (controls is not None and n_c < 2):
                rows.append(
                    (h, measure, math.nan, math.nan, math.nan, math.nan, math.nan, *counts, math.nan, mean_diff)
                )
                continue
            if controls is None:
                x = np.ones((len(y), 1))
            else:
                x = np.column_stack([np.ones(len(y)), d])
                if covariate:
                    zc = z - z.mean(axis=0)
                    x = np.column_stack([x, zc[:, np.ptp(zc, axis=0) > 0]])
            lag = DEFAULT_LAGS[measure] if lags is None else lags
            fit = episode_ols(y, x, t, h, coef=min(1, x.shape[1] - 1), lags=lag)
            est, se, dof = fit.estimate, fit.se, fit.dof
            if not (se > 0 and math.isfinite(se) and dof > 0):
                rows.append((h, measure, est, math.nan, math.nan, math.nan, math.nan, *counts, math.nan, mean_diff))
                continue
            q = float(stats.t.ppf(1 - alpha / 2, dof))
            pvalue = float(2 * stats.t.sf(abs(est / se), dof))
            rows.append((h, measure, est, se, pvalue, est - q * se, est + q * se, *counts, dof, mean_diff))
    out = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))
    ints = ("horizon", "n_events", "n_controls", "n_event_episodes", "n_control_episodes", "n_episodes")
    return out.astype({c: np.int64 for c in ints})


def _paths(
    events: pd.DataFrame,
    controls: pd.DataFrame,
    log_c: np.ndarray,
    lookback: int,
    max_h: int,
    alpha: float,
    *,
    lags: int | None,
) -> pd.DataFrame:
    from scipy import stats

    offsets = np.arange(-lookback, max_h + 1)
    n = len(log_c)
    lag = DEFAULT_LAGS["return"] if lags is None else lags
    out: dict[str, Any] = {}
    for name, frame in (("event", events), ("control", controls)):
        idx = frame["candle"].to_numpy(dtype=np.int64)
        app = frame["approach"].to_numpy(dtype=np.float64)
        means, ses, dofs, counts = [], [], [], []
        for k in offsets:
            j = idx + k
            ok = (j >= 0) & (j < n)
            y = (log_c[j[ok]] - log_c[idx[ok]]) * app[ok]
            counts.append(len(y))
            if k == 0:
                means.append(0.0)
                ses.append(0.0)
                dofs.append(1.0)
                continue
            fit = episode_mean(y, idx[ok], abs(int(k)), lags=lag)
            means.append(fit.estimate)
            ses.append(fit.se)
            dofs.append(fit.dof if fit.dof > 0 else math.nan)
        mean, se = np.asarray(means), np.asarray(ses)
        with np.errstate(invalid="ignore"):
            half = stats.t.ppf(1 - alpha / 2, np.asarray(dofs)) * se
        out[f"{name}_mean"] = mean
        out[f"{name}_low"] = mean - half
        out[f"{name}_high"] = mean + half
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
    adjust: bool = True,
    lags: int | None = None,
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
    adjust
        Compare ``velocity`` and ``volume_ratio`` at equal trailing volatility: the events' and controls'
        ``trailing_vol_fast``, ``trailing_vol`` and ``trailing_vol_slow`` (over 1, 4 and 16 lookbacks)
        are covariates of the OLS. With persistent volatility the bands (where the map is dense, i.e.
        where price traded while open interest grew) and the thin-map controls are entered in different
        volatility regimes, so the plain difference is not 0 even where the map carries no information
        (in development simulations of a GARCH market its t statistic averaged +0.2 to +0.4, and it
        rejected up to 8% of the time at the 5% level with the corrected standard errors).
    lags
        Neighbouring episodes (each side) whose score sums may correlate, with Bartlett weights
        (Driscoll-Kraay over time-ordered episodes). None: 1 for ``velocity`` and ``volume_ratio`` (they
        persist with volatility beyond an episode), 0 for ``return`` and the paths (signed forward
        returns of separate episodes are martingale differences, uncorrelated whatever the volatility).

    Returns
    -------
    EventStudy

    Examples
    --------
    >>> from liqtools import load_sample, event_study
    >>> df = load_sample()
    >>> study = event_study(df, [(86_000, 87_000, "short"), (84_000, 85_000, "long")])
    >>> list(study.effects.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['horizon', 'measure', 'effect', 'se', 'pvalue', 'ci_low', 'ci_high', 'n_events', 'n_controls',
     'n_event_episodes', 'n_control_episodes', 'n_episodes', 'dof', 'mean_difference']
    >>> sorted(set(study.effects["measure"]))
    ['return', 'velocity', 'volume_ratio']
    >>> len(study.events) > 0 and len(study.controls) > 0
    True
    """
    hs = check_horizons(horizons)
    if not (isinstance(rearm_pct, (int, float, np.number)) and math.isfinite(rearm_pct) and rearm_pct >= 0):
        raise DataError(f"rearm_pct must be a number >= 0 (percent), got {rearm_pct!r}")
    if isinstance(lookback, bool) or not isinstance(lookback, (int, np.integer)) or lookback < 1:
        raise DataError(f"lookback must be a positive integer (candles), got {lookback!r}")
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    if lags is not None and (isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 0):
        raise DataError(f"lags must be None or an integer >= 0 (episodes), got {lags!r}")
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
        "sq_cum": np.concatenate([[0.0, 0.0], np.cumsum(np.diff(np.log(df["close"].to_numpy())) ** 2)]),
        "vol_cum": np.concatenate([[0.0], np.cumsum(volume.to_numpy())]),
        "median": _trailing_median(volume, lookback).to_numpy(),
    }
    events = study_rows(band_frame, hs, float(rearm_pct), lookback, arrays)

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
        control_bands = auto_controls(
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
        ctrl = study_rows(control_bands, hs, float(rearm_pct), lookback, arrays)
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
        events = pd.concat([events, realized_lookup(realized, pd.DatetimeIndex(events["time"]))], axis=1)
        ctrl = pd.concat([ctrl, realized_lookup(realized, pd.DatetimeIndex(ctrl["time"]))], axis=1)

    effects = _effects(events, ctrl if controls is not None else None, hs, alpha, adjust=bool(adjust), lags=lags)
    paths = _paths(events, ctrl, arrays["log_close"], lookback, max(hs), alpha, lags=lags)
    few = few_episodes(effects, with_controls=controls is not None)
    if not few.empty:
        warnings.warn(
            f"event_study: at horizon(s) {', '.join(str(h) for h in sorted(set(few['horizon'])))} the tests rest on "
            f"as few as {int(few['n_event_episodes'].min())} episode(s) of events and "
            f"{int(few['n_control_episodes'].min())} of controls (fewer than {MIN_EPISODES}); read their p-values "
            "and intervals as rough estimates",
            FewEpisodesWarning,
            stacklevel=2,
        )
    options = {
        "horizons": hs,
        "rearm_pct": float(rearm_pct),
        "lookback": lookback,
        "controls": "given" if not isinstance(controls, str) and controls is not None else controls,
        "alpha": alpha,
        "adjust": bool(adjust),
        "lags": lags,
    }
    return EventStudy(events, ctrl, effects, paths, band_frame, control_bands.reset_index(drop=True), options)
