"""Scores of a prediction against realized liquidations: rank correlation and R^2 gain over the range.

Every score regresses ``log1p(realized)`` (liquidations span orders of magnitude) on the period's
adverse range, alone and together with the prediction; t-statistics use HAC (Newey-West) standard
errors, as neighbouring periods' errors are correlated.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["TABLE_COLUMNS", "format_table", "gain_scores", "hac_maxlags", "hac_ols", "side_table", "spearman"]

TABLE_COLUMNS = (
    "spearman",
    "baseline_spearman",
    "r2_baseline",
    "r2_model",
    "r2_gain",
    "model_coef",
    "model_pvalue",
    "n",
)
SIDES = ("long", "short")


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank."""
    order = np.argsort(a, kind="mergesort")
    srt = a[order]
    new = np.concatenate([[True], srt[1:] != srt[:-1]])
    bounds = np.flatnonzero(np.concatenate([new, [True]]))
    avg = 0.5 * (bounds[:-1] + bounds[1:] - 1) + 1.0
    out = np.empty(len(a))
    out[order] = avg[np.cumsum(new) - 1]
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (ties averaged); NaN for fewer than 3 points or a constant series.

    >>> round(spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 15, 40])), 6)
    0.8
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    return float(np.dot(ra, rb) / math.sqrt(np.dot(ra, ra) * np.dot(rb, rb)))


def hac_maxlags(n: int) -> int:
    """Newey-West lag rule ``floor(4 (n / 100) ** (2/9))``, at least 1.

    >>> hac_maxlags(49), hac_maxlags(240)
    (3, 4)
    """
    return max(1, int(4 * (n / 100.0) ** (2.0 / 9.0)))


def hac_ols(y: np.ndarray, x: np.ndarray, maxlags: int) -> tuple[np.ndarray, np.ndarray, float]:
    """OLS of ``y`` on ``x`` (constant included by the caller) with Newey-West (Bartlett) standard errors:
    ``(coefficients, t-statistics, R^2)``, as statsmodels' ``fit(cov_type="HAC")`` without correction.

    >>> rng = np.random.default_rng(1)
    >>> x = np.column_stack([np.ones(100), rng.normal(size=100)])
    >>> beta, t, r2 = hac_ols(x @ [1.0, 2.0] + rng.normal(size=100), x, 4)
    >>> [round(float(b), 1) for b in beta], bool(t[1] > 10), bool(0 < r2 < 1)
    ([0.9, 2.0], True, True)
    """
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ (x.T @ y)
    u = y - x @ beta
    xu = x * u[:, None]
    s = xu.T @ xu
    for lag in range(1, min(maxlags, len(y) - 1) + 1):
        g = xu[lag:].T @ xu[:-lag]
        s += (1.0 - lag / (maxlags + 1.0)) * (g + g.T)
    cov = xtx_inv @ s @ xtx_inv
    with np.errstate(invalid="ignore", divide="ignore"):
        t = beta / np.sqrt(np.diag(cov))
    return beta, t, _r2(y, x @ beta)


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    sst = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - fitted) ** 2)) / sst if sst > 0 else math.nan


def gain_scores(
    y: np.ndarray,
    base: np.ndarray,
    x: np.ndarray | None,
    *,
    y_train: np.ndarray | None = None,
    base_train: np.ndarray | None = None,
    x_train: np.ndarray | None = None,
) -> dict[str, float]:
    """What a predictor ``x`` adds to the range ``base`` in explaining ``y`` (all per period, one side).

    ``r2_gain``: R^2 of ``y`` on ``[1, base, x]`` minus on ``[1, base]`` (both fitted on these periods);
    ``t_stat``: HAC t-statistic of ``x``'s coefficient; with training arrays, ``oos_r2_range``: R^2 on
    these periods of the range regression fitted on the training periods (negative when it does worse
    than these periods' mean), and ``oos_r2_gain``: the same gain with both regressions fitted on the
    training periods (it can exceed 1 when the range's fit carries badly from training to test).
    ``x=None`` scores the range itself: gains 0 and the t-statistic of the range in ``[1, base]``.
    A constant ``x`` adds nothing: gains 0, t-statistic NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> base, x = rng.normal(size=200), rng.normal(size=200)
    >>> s = gain_scores(base + 2 * x + rng.normal(size=200), base, x)
    >>> s["r2_gain"] > 0.5, s["t_stat"] > 10
    (True, True)
    """
    n = len(y)
    out = {"r2_gain": math.nan, "t_stat": math.nan, "oos_r2_gain": math.nan, "oos_r2_range": math.nan}
    if n < 4:
        return out
    lags = hac_maxlags(n)
    xb = np.column_stack([np.ones(n), base])
    tb = None
    if y_train is not None and base_train is not None and len(y_train) >= 4:
        tb = np.column_stack([np.ones(len(y_train)), base_train])
        out["oos_r2_range"] = _r2(y, xb @ _fit(y_train, tb))
    if x is None:
        out["r2_gain"] = out["oos_r2_gain"] = 0.0
        if np.ptp(base) > 0:
            out["t_stat"] = float(hac_ols(y, xb, lags)[1][1])
        return out
    if not np.ptp(x) > 0:
        out["r2_gain"] = out["oos_r2_gain"] = 0.0
        return out
    xm = np.column_stack([xb, x])
    _, _, r2_b = hac_ols(y, xb, lags)
    _, t_m, r2_m = hac_ols(y, xm, lags)
    out["r2_gain"] = r2_m - r2_b
    out["t_stat"] = float(t_m[2])
    if tb is not None and y_train is not None and x_train is not None:
        tm = np.column_stack([tb, x_train])
        out["oos_r2_gain"] = _r2(y, xm @ _fit(y_train, tm)) - out["oos_r2_range"]
    return out


def _fit(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.linalg.pinv(x.T @ x) @ (x.T @ y)


def side_table(periods: pd.DataFrame) -> pd.DataFrame:
    """The :class:`Validation` table of a period frame (realized, predicted and adverse columns per side)."""
    import statsmodels.api as sm

    rows = {}
    n = len(periods)
    for side in SIDES:
        y_raw = periods[f"realized_{side}_usd"].to_numpy()
        pred = periods[f"predicted_{side}_usd"].to_numpy()
        base = periods[f"adverse_{side}"].to_numpy()
        y = np.log1p(y_raw)
        r2_b = r2_m = coef = pval = math.nan
        if n >= 4:
            xb = sm.add_constant(base, has_constant="add")
            r2_b = float(sm.OLS(y, xb).fit().rsquared)
            xm = np.column_stack([xb, np.log1p(pred)])
            if np.ptp(np.log1p(pred)) > 0:
                res = sm.OLS(y, xm).fit(cov_type="HAC", cov_kwds={"maxlags": hac_maxlags(n)})
                r2_m, coef, pval = float(res.rsquared), float(res.params[2]), float(res.pvalues[2])
            else:
                r2_m = r2_b
        rows[side] = {
            "spearman": spearman(pred, y_raw),
            "baseline_spearman": spearman(base, y_raw),
            "r2_baseline": r2_b,
            "r2_model": r2_m,
            "r2_gain": r2_m - r2_b,
            "model_coef": coef,
            "model_pvalue": pval,
            "n": n,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")[list(TABLE_COLUMNS)]
    table.index.name = "side"
    return table.astype({"n": np.int64})


def format_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A table as text, floats with ``digits`` decimals and NaN shown as ``n/a``."""
    shown = table.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda x: "n/a" if not np.isfinite(x) else f"{x:.{digits}f}")
    return shown.to_string()
