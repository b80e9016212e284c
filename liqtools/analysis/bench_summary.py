"""The benchmark's scorecard: averages over the test folds, and what they mean in plain words."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from liqtools.analysis.scoring import format_table

if TYPE_CHECKING:
    from liqtools.analysis.benchmark import BenchmarkResult

__all__ = ["summary_table", "summary_text", "z_critical"]


def z_critical(alpha: float, comparisons: int) -> float:
    """One-sided normal threshold at ``alpha`` shared by ``comparisons`` tests (Bonferroni).

    >>> round(z_critical(0.05, 1), 3), round(z_critical(0.05, 20), 3)
    (1.645, 2.807)
    """
    return NormalDist().inv_cdf(1.0 - alpha / max(1, comparisons))


def fold_z(t: np.ndarray, n: np.ndarray, params: int) -> np.ndarray:
    """Each fold's t-statistic as a standard normal score: its Student-t probability with ``n - params``
    degrees of freedom (small folds make big t-statistics common), mapped back through the normal.

    >>> [round(float(z), 2) for z in fold_z(np.array([2.0, 2.0]), np.array([8, 1000]), 3)]
    [1.64, 2.0]
    """
    from scipy.special import ndtri, stdtr

    df = np.maximum(np.asarray(n, dtype=np.float64) - params, 1.0)
    p = np.clip(stdtr(df, np.asarray(t, dtype=np.float64)), 1e-15, 1 - 1e-15)
    return np.asarray(ndtri(p), dtype=np.float64)


def summary_table(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per market, side and method (in table order): means over folds, counts and the combined z."""
    from scipy.special import stdtrit

    order = list(dict.fromkeys(table["method"]))
    others = [m for m in order if m != "range"]
    crit = z_critical(alpha, len(others) * table["side"].nunique())
    out = []
    for (market, side, method), g in table.groupby(["market", "side", "method"], sort=False):
        t = g["t_stat"].to_numpy(dtype=np.float64)
        n = g["n"].to_numpy()
        ok = np.isfinite(t)
        params = 2 if method == "range" else 3
        z_folds = fold_z(t[ok], n[ok], params)
        z = float(z_folds.sum() / math.sqrt(len(g))) if ok.any() else math.nan
        t_crit = stdtrit(np.maximum(n[ok] - params, 1.0), 0.975)
        above = (g["spearman"] > g["range_spearman"]).sum()
        out.append(
            {
                "market": market,
                "side": side,
                "method": method,
                "folds": len(g),
                "spearman": float(g["spearman"].mean()),
                "range_spearman": float(g["range_spearman"].mean()),
                "folds_above_range": int(above) if method != "range" else 0,
                "r2_gain": float(g["r2_gain"].mean()),
                "oos_r2_gain": float(g["oos_r2_gain"].mean()),
                "oos_r2_range": float(g["oos_r2_range"].mean()),
                "folds_significant": int((t[ok] > t_crit).sum()),
                "z": z,
                "significant": bool(method != "range" and np.isfinite(z) and z > crit),
            }
        )
    res = pd.DataFrame(out)
    res["method"] = pd.Categorical(res["method"], categories=order, ordered=True)
    res = res.sort_values(["market", "side", "method"], kind="stable").reset_index(drop=True)
    res["method"] = res["method"].astype(str)
    res.attrs["z_crit"] = crit
    return res


def _words(s: pd.DataFrame, side: str, crit: float, n_tests: int) -> list[str]:
    g = s[s["side"] == side]
    rng = g[g["method"] == "range"].iloc[0]
    lines = [
        (f"{side.capitalize()}s: the range alone ranks periods with a mean Spearman of {rng['spearman']:.2f} "
        f"(its own t combined over folds: z = {rng['z']:.1f}).")
    ]
    rest = g[g["method"] != "range"]
    better = rest[rest["spearman"] > rest["range_spearman"]]
    if len(better):
        text = ", ".join(
            f"{r.method} ({r.spearman:.2f}, above in {r.folds_above_range} of {r.folds} folds)" for r in better.itertuples()
        )
        lines.append(f"  Rank better than the range on average: {text}.")
    else:
        lines.append("  No method ranks periods better than the range on average.")
    sig = rest[rest["significant"]]
    if len(sig):
        text = ", ".join(
            f"{r.method} (R^2 gain {r.r2_gain:+.3f}, out of sample {r.oos_r2_gain:+.3f}, z = {r.z:.1f})" for r in sig.itertuples()
        )
        lines.append(f"  Add information beyond the range, significant on average: {text}.")
    else:
        lines.append(
            f"  No method adds information beyond the range that is significant on average (z > {crit:.2f}, "
            f"5% shared over {n_tests} tests)."
        )
    best = rest.sort_values("r2_gain", ascending=False).head(1)
    if len(best):
        b = best.iloc[0]
        lines.append(
            f"  Largest mean R^2 gain: {b['method']} {b['r2_gain']:+.3f} (out of sample {b['oos_r2_gain']:+.3f}; "
            f"significant (5%) in {b['folds_significant']} of {b['folds']} folds)."
        )
    return lines


def summary_text(res: BenchmarkResult) -> str:
    """Plain-words summary of a :class:`BenchmarkResult`."""
    s = res.summary_table()
    crit = float(s.attrs["z_crit"])
    n_tests = int((s["method"] != "range").sum())
    f = res.folds
    period = "hourly" if res.period == pd.Timedelta("1h") else ("daily" if res.period == pd.Timedelta("1D") else str(res.period))
    head = [
        f"Benchmark on {res.market}: {period} periods, realized liquidations in {res.units}.",
        (f"{len(f)} walk-forward test folds of {int(f['n_test'].min())}-{int(f['n_test'].max())} periods each, from "
        f"{f['test_start'].iloc[0]:%Y-%m-%d %H:%M} to {f['test_end'].iloc[-1]:%Y-%m-%d %H:%M} UTC; expanding training "
        f"windows ({int(f['n_train'].iloc[0])} to {int(f['n_train'].iloc[-1])} periods), an embargo of "
        f"{res.embargo} period(s) before each test fold; every option chosen on the training window only."),
        ("Means over the test folds (spearman: rank correlation with realized; r2_gain: R^2 added to the range "
        "baseline within the fold; oos_r2_gain: the same with coefficients from the training window; z: the "
        "folds' HAC t-statistics combined):"),
    ]
    shown = s.drop(columns=["market"]).set_index(["side", "method"])
    body = [format_table(shown)]
    words = [line for side in ("long", "short") for line in _words(s, side, crit, n_tests)]
    note = (
        "These are estimates on one market and period; a significant gain says the method carries information "
        "beyond the range there, not that it will elsewhere."
    )
    return "\n".join([*head, *body, "", *words, note])
