"""Backtest of the engagement alert (docs/model.md section 9): how often the rule fired and what followed,
against the same rule on control bands, with the momentum study's inference by episode.

Alerts are exactly those of :func:`~liqtools.analysis.engagement.engagement`. *Control alerts* apply the
same rule (entry from the liquidating side, velocity and volume thresholds) to control bands of equal
width placed where the map is thin, chosen per map as the momentum study does
(:func:`~liqtools.analysis.momentum_events.auto_controls`, with the same gaps as
:func:`~liqtools.analysis.momentum.event_study`); control alerts within the longest horizon after an entry
into a real band are dropped. The differences are OLS coefficients tested by episode of overlapping
windows (:func:`~liqtools.analysis.momentum_stats.episode_ols`: CR2 correction, Bartlett weights across
episodes, Satterthwaite degrees of freedom): nothing here re-derives a standard error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liqtools._format import usd
from liqtools.analysis._engage_core import MapState, Market, evaluate, map_states, market_arrays
from liqtools.analysis.engagement import AlertRule
from liqtools.analysis.heatmap_result import Heatmap
from liqtools.analysis.momentum_events import auto_controls, check_horizons
from liqtools.analysis.momentum_stats import episode_ols
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["AlertBacktest", "alert_backtest"]

TABLE_COLUMNS = (
    "horizon", "measure", "against", "alerts_mean", "controls_mean", "effect", "se", "pvalue", "ci_low",
    "ci_high", "n_alerts", "n_controls", "n_episodes", "dof",
)
# Bartlett lags across neighbouring episodes, as the momentum study: signed forward returns of separate
# episodes are martingale differences; realized liquidations persist with volatility
DEFAULT_LAGS = {"return": 0, "realized": 1}


@dataclass(frozen=True, eq=False)
class AlertBacktest:
    """Result of :func:`alert_backtest`.

    Attributes
    ----------
    alerts, controls
        One row per alert on the bands / on the control bands: ``time, candle, side, band_low, band_high,
        velocity, volume_ratio, notional_ahead_usd``, per horizon h ``return_h`` (log return from the alert's
        close to the close h candles later, signed so that > 0 continues into the band: up for shorts, down
        for longs) and, with realized data, ``realized_h`` (USD of that side's realized liquidations in the
        realized periods holding the next h candles).
    table
        Per horizon and measure (``return``; ``realized``, tested as ``log(1 + USD)``): the means, ``effect``
        (alerts - controls, or alerts against zero when fewer than 2 control alerts: ``against``), its
        standard error by episode, p-value, ``1 - alpha`` interval, counts and degrees of freedom.
    counts
        ``candles, entries, alerts, control_bands, control_entries, control_alerts`` (entries: candles entering
        a band from its liquidating side, whether the rule fired or not).
    rule, options
        The rule and the keyword options used.
    """

    alerts: pd.DataFrame
    controls: pd.DataFrame
    table: pd.DataFrame
    counts: Mapping[str, int]
    rule: AlertRule
    options: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """Plain text: the rule, how often it fired, the table, and the caveats."""
        c = self.counts
        rate = c["alerts"] / c["entries"] if c["entries"] else math.nan
        lines = [
            self.rule.describe(),
            (
                f"Fired {c['alerts']} times in {c['candles']:,} candles ({rate:.0%} of {c['entries']} entries into "
                f"bands); on {c['control_bands']} control band(s): {c['control_alerts']} alert(s) outside the aftermath "
                f"of band entries, from {c['control_entries']} entries."
            ),
        ]
        if not self.alerts.empty:
            lines.append(f"Median notional ahead at an alert: {usd(float(self.alerts['notional_ahead_usd'].median()))}.")
        t = self.table
        if t.empty:
            return "\n".join([*lines, "(no alerts to test)"])
        shown = pd.DataFrame(
            {
                "h": t["horizon"],
                "measure": t["measure"],
                "alerts": t["alerts_mean"].map(lambda x: f"{x:+.5f}"),
                "controls": t["controls_mean"].map(lambda x: f"{x:+.5f}"),
                "effect": t["effect"].map(lambda x: f"{x:+.5f}"),
                "se": t["se"].map(lambda x: f"{x:.5f}"),
                "p": t["pvalue"].map(lambda x: f"{x:.3f}"),
                "n": [f"{a}/{b}" for a, b in zip(t["n_alerts"], t["n_controls"])],
                "vs": t["against"],
            }
        )
        lines.append(shown.to_string(index=False))
        lines.append(
            "return: log return from the alert's close, > 0 continues into the band; realized: log(1 + USD) of that "
            "side's realized liquidations. Standard errors by episode of overlapping windows (momentum study). "
            "Thresholds from the same data and bands read with hindsight make this descriptive, not a tested rule."
        )
        return "\n".join(lines)


def _controls(state: MapState, lo_price: float, hi_price: float, gaps: tuple[float, float], edge_pct: float) -> MapState:
    bands = pd.DataFrame({"low": state.low, "high": state.high, "side": np.where(state.direction == 1, "short", "long")})
    ctrl = auto_controls(bands, lo_price, hi_price, state.map_df, state.ref_price, gaps) if len(bands) else bands
    low, high = ctrl["low"].to_numpy(dtype=np.float64), ctrl["high"].to_numpy(dtype=np.float64)
    e = edge_pct / 100.0
    return dataclasses.replace(
        state, low=low, high=high, direction=np.where(ctrl["side"].to_numpy() == "short", 1, -1),
        notional=np.full(len(low), np.nan), a=low * (1 - e), b=high * (1 + e),
    )


def _fire(m: Market, state: MapState, t0: int, t1: int, rule: AlertRule) -> tuple[list[int], list[tuple[Any, ...]]]:
    """Entry candles and alert rows (candle, side, band, velocity, volume ratio, notional ahead)."""
    entered = state.entries(m, t0, t1, rule.rearm_pct)
    rows = []
    for t in sorted(entered):
        e = evaluate(m, t, state, rule, entered[t])
        if e.alert is not None:
            a = e.alert
            rows.append((t, a.side, a.band_low, a.band_high, a.velocity, a.volume_ratio, a.notional_ahead_usd))
    return sorted(entered), rows


def _measures(rows: list[tuple[Any, ...]], m: Market, hs: tuple[int, ...], per: Any) -> pd.DataFrame:
    cols = ["candle", "side", "band_low", "band_high", "velocity", "volume_ratio", "notional_ahead_usd"]
    out = pd.DataFrame(rows, columns=cols).astype({"candle": np.int64})
    out.insert(0, "time", m.index[out["candle"].to_numpy()])
    t = out["candle"].to_numpy()
    sign = np.where(out["side"].to_numpy() == "short", 1.0, -1.0)
    n = len(m.close)
    for h in hs:
        ok = t + h < n
        out[f"return_{h}"] = np.where(ok, m.log_close[np.minimum(t + h, n - 1)] - m.log_close[t], np.nan) * sign
        if per is not None:
            values = []
            for tt, side in zip(t, out["side"]):
                codes = per.code[tt + 1 : tt + h + 1]
                full = len(codes) == h and (codes >= 0).all()
                values.append(float(per.realized[f"{side}_usd"].to_numpy()[np.unique(codes)].sum()) if full else math.nan)
            out[f"realized_{h}"] = values
    return out


def _table(alerts: pd.DataFrame, controls: pd.DataFrame, hs: tuple[int, ...], measures: Sequence[str], alpha: float,
           lags: int | None) -> pd.DataFrame:
    from scipy import stats

    rows = []
    for h in hs:
        for measure in measures:
            parts = []
            for frame in (alerts, controls):
                y = frame[f"{measure}_{h}"].to_numpy(dtype=np.float64) if len(frame) else np.empty(0)
                y = np.log1p(y) if measure == "realized" else y
                ok = np.isfinite(y)
                parts.append((y[ok], frame["candle"].to_numpy(dtype=np.int64)[ok] if len(frame) else np.empty(0, np.int64)))
            (ye, te), (yc, tc) = parts
            vs_controls = len(yc) >= 2
            y, t = (np.r_[ye, yc], np.r_[te, tc]) if vs_controls else (ye, te)
            d = np.r_[np.ones(len(ye)), np.zeros(len(yc))] if vs_controls else np.ones(len(ye))
            x = np.column_stack([np.ones(len(y)), d]) if vs_controls else np.ones((len(y), 1))
            est = se = p = lo = hi = dof = math.nan
            n_ep = 0
            if len(ye) >= 2:
                fit = episode_ols(y, x, t, h, coef=x.shape[1] - 1, lags=DEFAULT_LAGS[measure] if lags is None else lags)
                est, n_ep = fit.estimate, fit.n_episodes
                if fit.se > 0 and math.isfinite(fit.se) and fit.dof > 0:
                    se, dof = fit.se, fit.dof
                    q = float(stats.t.ppf(1 - alpha / 2, dof))
                    p = float(2 * stats.t.sf(abs(est / se), dof))
                    lo, hi = est - q * se, est + q * se
            mean_e = float(ye.mean()) if len(ye) else math.nan
            mean_c = float(yc.mean()) if len(yc) else math.nan
            against = "controls" if vs_controls else "zero"
            rows.append((h, measure, against, mean_e, mean_c, est, se, p, lo, hi, len(ye), len(yc), n_ep, dof))
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def alert_backtest(
    df: pd.DataFrame,
    levels_or_heatmap: pd.DataFrame | Heatmap,
    *,
    rule: AlertRule | None = None,
    horizons: Sequence[int] = (1, 4, 12, 24),
    realized: pd.DataFrame | None = None,
    bin_size: float | None = None,
    price: float | None = None,
    cluster_options: Mapping[str, Any] | None = None,
    alpha: float = 0.05,
    lags: int | None = None,
) -> AlertBacktest:
    """How often the alert rule fired on ``df`` and what followed, against the same rule on control bands.

    ``levels_or_heatmap``, ``rule``, ``bin_size``, ``price`` and ``cluster_options`` are those of
    :func:`~liqtools.analysis.engagement.engagement` (a Heatmap gives each map its own control bands).
    ``realized``: optional realized liquidations (``long_usd, short_usd`` per period on the candle grid,
    :func:`~liqtools.analysis.realized.realized_periods`). ``lags``: Bartlett lags across episodes (None:
    0 for returns, 1 for realized liquidations). Controls sit within the traded range at a gap of one
    band-width plus the re-arm distance plus a typical move over the longest horizon (the re-arm distance
    alone where that leaves no room), and with a map no denser than its median window.

    Examples
    --------
    Today's map over the past (hindsight, as the momentum study):

    >>> from liqtools import load_sample, liquidation_heatmap
    >>> df = load_sample()
    >>> bt = alert_backtest(df, liquidation_heatmap(df).levels_at(-1))
    >>> dict(bt.counts)
    {'candles': 2112, 'entries': 32, 'alerts': 4, 'control_bands': 5, 'control_entries': 16, 'control_alerts': 0}
    >>> bt.table.loc[bt.table["measure"] == "return", "horizon"].tolist()
    [1, 4, 12, 24]
    """
    hs = check_horizons(horizons)
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    if lags is not None and (isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or lags < 0):
        raise DataError(f"lags must be None or an integer >= 0 (episodes), got {lags!r}")
    df = validate_market(df)
    if rule is None:
        rule = AlertRule.from_history(df)
    elif not isinstance(rule, AlertRule):
        raise DataError(f"rule must be an AlertRule or None, got {type(rule).__name__}")
    per = None
    if realized is not None:
        from liqtools.analysis.realized import realized_periods

        per = realized_periods(df, realized)
    m = market_arrays(df)
    states, group = map_states(df, levels_or_heatmap, rule, bin_size=bin_size, price=price, cluster_options=cluster_options)
    r = rule.rearm_pct / 100.0
    reach = float(np.nanstd(np.diff(m.log_close))) * math.sqrt(max(hs)) if len(df) > 2 else 0.0
    lo_price, hi_price = float(m.low.min()), float(m.high.max())
    bounds = np.searchsorted(group, np.arange(len(states) + 1))
    entries: list[int] = []
    control_entries: list[int] = []
    rows: list[tuple[Any, ...]] = []
    ctrl_rows: list[tuple[Any, ...]] = []
    control_bands: set[tuple[float, float, int]] = set()
    for g, state in enumerate(states):
        t0, t1 = int(bounds[g]), int(bounds[g + 1])
        if t1 <= t0 or len(state.low) == 0:
            continue
        ent, fired = _fire(m, state, t0, t1, rule)
        entries += ent
        rows += fired
        ctrl = _controls(state, lo_price, hi_price, (r + reach, r), rule.edge_pct)
        control_bands |= set(zip(ctrl.low.tolist(), ctrl.high.tolist(), ctrl.direction.tolist()))
        ent_c, fired_c = _fire(m, ctrl, t0, t1, rule)
        control_entries += ent_c
        ctrl_rows += fired_c
    # drop control alerts inside the aftermath (longest horizon) of an entry into a real band
    ev = np.unique(np.asarray(entries, dtype=np.int64))
    kept = []
    for row in ctrl_rows:
        last = int(np.searchsorted(ev, row[0], side="right")) - 1
        if last < 0 or row[0] - ev[last] > max(hs):
            kept.append(row)
    alerts_df, controls_df = _measures(rows, m, hs, per), _measures(kept, m, hs, per)
    measures = ("return", "realized") if per is not None else ("return",)
    table = _table(alerts_df, controls_df, hs, measures, alpha, lags)
    counts = {
        "candles": len(df), "entries": len(entries), "alerts": len(rows), "control_bands": len(control_bands),
        "control_entries": len(control_entries), "control_alerts": len(kept),
    }
    options = {"horizons": hs, "alpha": alpha, "lags": lags, "bin_size": bin_size, "price": price,
               "cluster_options": dict(cluster_options or {}), "realized": realized is not None}
    return AlertBacktest(alerts_df, controls_df, table, counts, rule, options)
