"""Simulated markets for the event study's size and power (issue 12), shared by tests/test_momentum.py and
benchmarks/bench_momentum_size.py.

* :func:`null_market`: a random walk (``"rw"``) or a persistent-volatility market (``"garch"``: GARCH(1, 1)
  variance with persistence 0.99, volume rising with volatility), with open interest an independent
  random walk, so the liquidation map, and the clusters read from it, carry no information about what
  price does next.
* :func:`planted_market`: a mean-reverting market where entering a band adds a drift for a while (the
  true effect is known).
* :func:`null_pvalues` / :func:`power_pvalues`: the Monte Carlo loops (p-values per seed, measure, horizon).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from liqtools import clusters_at, event_study

IDX0 = pd.Timestamp("2026-01-01", tz="UTC")
HORIZONS = (1, 4, 12, 24)


def frame(o, h, lo, c, v, oi=None):
    idx = pd.date_range(IDX0, periods=len(c), freq="h", tz="UTC")
    cols = {"open": o, "high": h, "low": lo, "close": c, "volume": v}
    if oi is not None:
        cols["oi_usd"] = oi
    return pd.DataFrame(cols, index=idx)


def null_market(n: int, seed: int, kind: str, *, sigma: float = 0.005, sub: int = 4) -> pd.DataFrame:
    """``n`` hourly candles (``sub`` steps each) of a market where nothing depends on the map."""
    rng = np.random.default_rng(seed)
    if kind == "rw":
        s = np.full(n, sigma)
        vol = rng.lognormal(0, 0.5, n)
    elif kind == "garch":
        a, b = 0.06, 0.93
        omega = sigma**2 * (1 - a - b)
        z = rng.standard_normal(n)
        s = np.empty(n)
        var = sigma**2
        for i in range(n):
            s[i] = var**0.5
            var = omega + a * var * z[i] ** 2 + b * var
        vol = rng.lognormal(0, 0.4, n) * (s / sigma) ** 1.5
    else:
        raise ValueError(kind)
    steps = rng.standard_normal((n, sub)) * (s[:, None] / np.sqrt(sub))
    x = np.cumsum(steps.ravel()).reshape(n, sub)
    p = 100 * np.exp(np.column_stack([np.r_[0.0, x[:-1, -1]], x]))
    oi = 1e9 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return frame(p[:, 0], p.max(1), p.min(1), p[:, -1], vol, oi)


def planted_market(n, seed, bands, *, drift, duration, vol_mult=1.0, sigma=0.004, kappa=0.003, rearm_pct=1.0):
    """Like a mean-reverting walk, but entering a band (the event rule, checked candle by candle in a plain
    loop) adds ``drift`` per candle in the direction of approach and multiplies volume by ``vol_mult`` for
    ``duration`` candles: the true return effect at horizon h is ``drift * min(h, duration)``."""
    rng = np.random.default_rng(seed)
    r = rearm_pct / 100
    armed = [0] * len(bands)  # 0 not armed, +1 armed below the band, -1 armed above it
    active = []  # (last candle of the drift, direction)
    logp = np.log(100.0)
    o, h, lo, c, v = (np.empty(n) for _ in range(5))
    for i in range(n):
        d = drift * sum(s for _, s in active)
        x = logp + np.cumsum(rng.normal(d / 4 - kappa * (logp - np.log(100.0)) / 4, sigma / 2, 4))
        path = np.exp(np.r_[logp, x])
        o[i], c[i], h[i], lo[i] = path[0], path[-1], path.max(), path.min()
        v[i] = rng.lognormal(0, 0.5) * (vol_mult if active else 1.0)
        logp = x[-1]
        active = [(end, s) for end, s in active if end > i]
        for k, (b_lo, b_hi, _) in enumerate(bands):
            if h[i] < b_lo * (1 - r):
                armed[k] = 1
            elif lo[i] > b_hi * (1 + r):
                armed[k] = -1
            elif lo[i] <= b_hi and h[i] >= b_lo:
                if armed[k]:
                    active.append((i + duration, armed[k]))
                armed[k] = 0
    return frame(o, h, lo, c, v)


def _rows(study, **tags):
    e = study.effects[["horizon", "measure", "effect", "pvalue"]].copy()
    for key, value in tags.items():
        e[key] = value
    return e


def null_pvalues(seeds, *, n: int, kinds=("rw", "garch")) -> pd.DataFrame:
    """p-values of ``event_study`` on the clusters of null markets (with the map's thin-zone controls),
    as the CLI and the widgets run it: one row per kind, seed, measure and horizon."""
    out = []
    for kind in kinds:
        for seed in seeds:
            df = null_market(n, seed, kind)
            view = clusters_at(df)
            if view.clusters.empty:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # few-episode warnings are expected in short markets
                study = event_study(df, view.clusters, horizons=HORIZONS, map_df=view.map)
            out.append(_rows(study, kind=kind, seed=seed))
    return pd.concat(out, ignore_index=True)


POWER_BANDS = [(102.0, 102.5, "short"), (97.5, 98.0, "long")]
PLANTED_SIGMA = 0.004  # planted_market's default per-candle deviation


def known_variance_pvalue(study, h: int, sigma: float) -> float:
    """p-value of the return difference mean(events) - mean(controls) at horizon ``h`` with its variance
    *known*: the forward returns of a random walk with per-candle deviation ``sigma``, whose windows overlap
    (covariance ``sigma**2 * max(0, h - |t_i - t_j|)``, signed by the approaches). An infeasible z test: on
    a Gaussian market with constant volatility no level-alpha test of this difference is more powerful on
    average (with one-candle windows it is the uniformly most powerful unbiased test), so its rejection
    rate is a ceiling for the power of any size-correct standard error of the return effect."""
    from scipy import stats

    parts = [f[["candle", "approach", f"return_{h}"]].dropna() for f in (study.events, study.controls)]
    if len(parts[0]) < 2 or len(parts[1]) < 2:
        return float("nan")
    t = np.r_[parts[0]["candle"].to_numpy(float), parts[1]["candle"].to_numpy(float)]
    a = np.r_[parts[0]["approach"].to_numpy(float), parts[1]["approach"].to_numpy(float)]
    y = np.r_[parts[0][f"return_{h}"].to_numpy(float), parts[1][f"return_{h}"].to_numpy(float)]
    g = np.r_[np.full(len(parts[0]), 1 / len(parts[0])), np.full(len(parts[1]), -1 / len(parts[1]))]
    cov = sigma**2 * np.clip(h - np.abs(t[:, None] - t[None, :]), 0, None) * np.outer(a, a)
    return float(2 * stats.norm.sf(abs(g @ y) / np.sqrt(g @ cov @ g)))


def power_pvalues(seeds, *, n: int, drift: float, duration: int = 12, vol_mult: float = 1.0) -> pd.DataFrame:
    """p-values of ``event_study`` on markets with a planted drift after entries into two bands, and for
    the return rows with a finite p-value the ceiling's (``known_pvalue``, :func:`known_variance_pvalue`)."""
    out = []
    for seed in seeds:
        df = planted_market(n, seed, POWER_BANDS, drift=drift, duration=duration, vol_mult=vol_mult)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = event_study(df, POWER_BANDS, horizons=HORIZONS)
        rows = _rows(study, seed=seed)
        tested = (rows["measure"] == "return") & np.isfinite(rows["pvalue"])
        rows["known_pvalue"] = [
            known_variance_pvalue(study, int(h), PLANTED_SIGMA) if ok else np.nan
            for h, ok in zip(rows["horizon"], tested)
        ]
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def rejection_rates(pvalues: pd.DataFrame, by=("measure", "horizon"), level: float = 0.05) -> pd.Series:
    """Share of finite p-values below ``level`` per group."""
    ok = pvalues[np.isfinite(pvalues["pvalue"])]
    return ok.groupby(list(by))["pvalue"].apply(lambda p: float((p < level).mean()))
