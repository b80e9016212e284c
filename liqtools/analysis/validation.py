"""The truth test: how well do the model's predicted liquidations match what exchanges liquidated?

:func:`validate` compares the heatmap's predicted liquidations (``Heatmap.liquidated``, summed to the
periods of the realized data, e.g. UTC days) with realized liquidations, against a naive baseline that
knows only each period's adverse price range. :func:`calibrate` chooses model options (leverage
weights, side split, and the options beyond MODEL.md: decay half-life, path entries, a log-normal
leverage distribution) on a training span and reports how they do on a later test span.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.analysis.heatmap import Entry, HalfLife, Heatmap, Split, liquidated_by_tier, liquidation_heatmap
from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["TABLE_COLUMNS", "Calibration", "Validation", "calibrate", "check_realized", "validate"]

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
DEFAULT_LEVERAGES = (5.0, 10.0, 25.0, 50.0, 100.0)


def check_realized(
    realized: pd.DataFrame, period: str | pd.Timedelta | None = None
) -> tuple[pd.DataFrame, pd.Timedelta]:
    """Validate realized liquidations (``long_usd, short_usd`` per period, a UTC index of period starts)
    and return them as floats with the period length (given, or the most common spacing of the index)."""
    if not isinstance(realized, pd.DataFrame):
        raise DataError(f"realized must be a DataFrame with columns long_usd, short_usd, got {type(realized).__name__}")
    missing = [c for c in ("long_usd", "short_usd") if c not in realized.columns]
    if missing:
        raise DataError(
            f"realized liquidations are missing column(s) {missing}; they need long_usd and short_usd per period"
        )
    if len(realized) == 0:
        raise DataError("realized liquidations are empty")
    index = realized.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError("realized liquidations need a UTC DatetimeIndex of period starts")
    index = index.tz_convert("UTC")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise DataError("realized liquidations' index must be sorted and unique")
    out = pd.DataFrame(index=index)
    for col in ("long_usd", "short_usd"):
        values = pd.to_numeric(realized[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise DataError(f"realized column {col!r} must be finite and >= 0, got {values[pos]} at {index[pos]}")
        out[col] = values
    if period is None:
        if len(index) < 2:
            raise DataError("cannot infer the period of a single realized row; pass period='1D' (or the right length)")
        steps = pd.Series(np.diff(index.asi8)).mode()
        period_td = pd.Timedelta(int(steps.iloc[0]), unit=index.unit)
    else:
        try:
            period_td = pd.Timedelta(period)
        except (TypeError, ValueError) as exc:
            raise DataError(f"period must be a time length such as '1D', got {period!r}") from exc
    if not period_td > pd.Timedelta(0):
        raise DataError(f"period must be positive, got {period_td}")
    return out, period_td


@dataclass(frozen=True)
class _Periods:
    """Candles grouped into the realized periods they fully cover."""

    code: np.ndarray  # per candle: row of the kept period, or -1
    starts: pd.DatetimeIndex  # kept periods
    realized: pd.DataFrame  # long_usd, short_usd of the kept periods

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per kept period of a per-candle array ``(n,)`` or ``(n, k)``."""
        ok = self.code >= 0
        p = len(self.starts)
        if values.ndim == 1:
            return np.bincount(self.code[ok], weights=values[ok], minlength=p)
        return np.stack(
            [np.bincount(self.code[ok], weights=values[ok, j], minlength=p) for j in range(values.shape[1])], axis=1
        )


def _periods(df: pd.DataFrame, realized: pd.DataFrame, period: pd.Timedelta) -> _Periods:
    idx = df.index
    real_idx = realized.index
    pos = real_idx.searchsorted(idx, side="right") - 1
    inside = (pos >= 0) & (idx < real_idx[np.maximum(pos, 0)] + period)
    pos = np.where(inside, pos, -1)
    if len(idx) > 1:
        step = pd.Series(np.diff(idx.asi8)).mode().iloc[0]
        candle = pd.Timedelta(int(step), unit=idx.unit)
    else:
        candle = period
    expected = max(int(round(period / candle)), 1)
    counts = np.bincount(pos[pos >= 0], minlength=len(real_idx))
    full = counts >= expected
    if not full.any():
        raise DataError(
            f"realized liquidations ({real_idx[0]} .. {real_idx[-1]} + {period}) do not overlap the candles "
            f"({idx[0]} .. {idx[-1]}) in any fully covered period; they must cover the same time"
        )
    keep = np.flatnonzero(full)
    new_code = np.full(len(real_idx), -1)
    new_code[keep] = np.arange(len(keep))
    code = np.where(pos >= 0, new_code[np.maximum(pos, 0)], -1)
    return _Periods(code, real_idx[keep], realized.iloc[keep])


def _period_frame(df: pd.DataFrame, per: _Periods, predicted: pd.DataFrame) -> pd.DataFrame:
    ok = per.code >= 0
    code = per.code[ok]
    first = np.full(len(per.starts), -1)
    order = np.flatnonzero(ok)
    first[code[::-1]] = order[::-1]  # first candle of each period
    open_ = df["open"].to_numpy()[first]
    low = pd.Series(df["low"].to_numpy()[ok]).groupby(code).min().to_numpy()
    high = pd.Series(df["high"].to_numpy()[ok]).groupby(code).max().to_numpy()
    return pd.DataFrame(
        {
            "realized_long_usd": per.realized["long_usd"].to_numpy(),
            "realized_short_usd": per.realized["short_usd"].to_numpy(),
            "predicted_long_usd": per.sum(predicted["long_usd"].to_numpy()),
            "predicted_short_usd": per.sum(predicted["short_usd"].to_numpy()),
            "adverse_long": np.log(open_ / low),
            "adverse_short": np.log(high / open_),
        },
        index=pd.DatetimeIndex(per.starts, name="period"),
    )


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan
    from scipy import stats

    return float(stats.spearmanr(a, b).statistic)


def _side_table(periods: pd.DataFrame) -> pd.DataFrame:
    import statsmodels.api as sm

    rows = {}
    n = len(periods)
    maxlags = max(1, int(4 * (n / 100.0) ** (2.0 / 9.0)))
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
                res = sm.OLS(y, xm).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
                r2_m, coef, pval = float(res.rsquared), float(res.params[2]), float(res.pvalues[2])
            else:
                r2_m = r2_b
        rows[side] = {
            "spearman": _spearman(pred, y_raw),
            "baseline_spearman": _spearman(base, y_raw),
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


def _format_table(table: pd.DataFrame) -> str:
    shown = table.copy()
    for col in TABLE_COLUMNS[:-1]:
        shown[col] = shown[col].map(lambda x: "n/a" if not np.isfinite(x) else f"{x:.3f}")
    return shown.to_string()


@dataclass(frozen=True, eq=False)
class Validation:
    """Result of :func:`validate`.

    Attributes
    ----------
    table
        Rows ``long``, ``short``; columns ``spearman`` (rank correlation of predicted and realized
        liquidations per period), ``baseline_spearman`` (the same for the period's adverse range:
        ``log(open/low)`` for longs, ``log(high/open)`` for shorts), ``r2_baseline`` (OLS of
        ``log1p(realized)`` on the adverse range), ``r2_model`` (on the adverse range and
        ``log1p(predicted)``), ``r2_gain``, ``model_coef`` / ``model_pvalue`` (of ``log1p(predicted)``,
        HAC standard errors with Newey-West lags), ``n`` (periods).
    periods
        Per period: realized and predicted USD per side and the adverse ranges.
    options
        The heatmap options of the prediction.
    """

    table: pd.DataFrame
    periods: pd.DataFrame
    options: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        p = self.periods.index
        head = f"Predicted vs realized liquidations, {len(p)} periods from {p[0]:%Y-%m-%d %H:%M} to {p[-1]:%Y-%m-%d %H:%M} UTC"
        note = (
            "spearman: rank correlation per period; baseline: the period's adverse range alone; r2 from "
            "log1p regressions (HAC errors). Predictions are the OI-delta model's estimates."
        )
        return "\n".join([head, _format_table(self.table), note])


def validate(
    df: pd.DataFrame,
    realized: pd.DataFrame,
    *,
    heatmap: Heatmap | None = None,
    period: str | pd.Timedelta | None = None,
    **model_options: Any,
) -> Validation:
    """Compare predicted liquidations with realized ones, per period of the realized data.

    Predicted liquidations per candle (``Heatmap.liquidated``) are summed over each realized period
    (e.g. a UTC day) that the candles cover completely; partly covered periods are left out. The model
    starts with no positions, so the first periods under-predict: give it candles from before the
    realized data where you can.

    Parameters
    ----------
    df
        Market frame with ``oi_usd``.
    realized
        ``long_usd, short_usd`` per period, indexed by the UTC period start (e.g.
        :func:`load_sample_liquidations`).
    heatmap
        A heatmap already built from ``df`` (then ``model_options`` must be empty).
    period
        Length of a realized period; default the most common spacing of its index.
    **model_options
        Keyword arguments of :func:`liquidation_heatmap` (``leverage``, ``split``, ``half_life``, ...).

    Returns
    -------
    Validation

    Examples
    --------
    >>> from liqtools import load_sample, load_sample_liquidations, validate
    >>> v = validate(load_sample(), load_sample_liquidations())
    >>> v.table.index.tolist(), int(v.table.loc["long", "n"])
    (['long', 'short'], 49)
    """
    df = validate_market(df, require=("oi_usd",))
    real, period_td = check_realized(realized, period)
    if heatmap is not None:
        if model_options:
            raise DataError(f"pass either heatmap or model options, not both (got {sorted(model_options)})")
        if len(heatmap.liquidated) != len(df) or not heatmap.liquidated.index.equals(df.index):
            raise DataError("heatmap was not built from this market frame (its candles differ)")
        hm = heatmap
        options = {
            "leverage": hm.profile,
            "split": hm.split,
            "price": hm.price,
            "half_life": hm.half_life,
            "entry": hm.entry,
        }
    else:
        options = dict(model_options)
        predicted_only = {k: v for k, v in options.items() if k not in ("bin_size", "price_range", "every")}
        hm = liquidation_heatmap(df, every=max(len(df), 1), **predicted_only)
    per = _periods(df, real, period_td)
    periods = _period_frame(df, per, hm.liquidated)
    return Validation(_side_table(periods), periods, options)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    options
        Keyword arguments of :func:`liquidation_heatmap` chosen on the training span: ``leverage``
        (``{leverage: weight}``), ``split``, ``half_life``, ``entry``.
    family
        ``"tiers"`` (weights fitted per tier) or ``"lognormal"`` (median and sigma of a log-normal
        leverage distribution), with ``params`` (median, sigma) for the latter.
    train, test
        Validation tables (as :func:`validate`) on the training span (in sample) and on the later test
        span (out of sample).
    candidates
        Every option combination tried, best first: ``score``, its inner-validation score (mean of the
        two sides' Spearman on the last part of the training span, fitted on the part before it), which
        made the choice; and ``test_score``, the same candidate refitted on the whole training span and
        scored on the test span, reported to show which options help out of sample (never used to choose).
    default_test
        MODEL.md's default model (no fitting) on the test span, the reference to beat.
    train_periods, test_periods
        The period starts of each span.
    """

    options: Mapping[str, Any]
    family: str
    params: Mapping[str, float]
    train: pd.DataFrame
    test: pd.DataFrame
    candidates: pd.DataFrame
    train_periods: pd.DatetimeIndex
    test_periods: pd.DatetimeIndex
    default_test: pd.DataFrame

    def summary(self) -> str:
        lev = self.options["leverage"]
        if self.family == "lognormal":
            lev_text = f"log-normal leverage, median {self.params['median']:g}x, sigma {self.params['sigma']:g}"
        else:
            lev_text = ", ".join(f"{k:g}x {v:.2f}" for k, v in lev.items())
        head = (
            f"Calibrated on {len(self.train_periods)} periods to {self.train_periods[-1]:%Y-%m-%d}, tested on "
            f"{len(self.test_periods)} later periods from {self.test_periods[0]:%Y-%m-%d}.\n"
            f"Chosen: {lev_text}; split {self.options['split']!r}; half_life {self.options['half_life']!r}; "
            f"entry {self.options['entry']!r}."
        )
        return "\n".join(
            [
                head,
                "Train (in sample):",
                _format_table(self.train),
                "Test (out of sample):",
                _format_table(self.test),
                "MODEL.md default (not fitted) on the same test periods:",
                _format_table(self.default_test),
            ]
        )


def _fit_weights(
    b_long: np.ndarray, b_short: np.ndarray, y_long: np.ndarray, y_short: np.ndarray, scale: float | None
) -> np.ndarray:
    """Tier weights on the simplex minimising squared error of (scale x) predicted vs realized, both sides."""
    from scipy.optimize import nnls

    a = np.vstack([b_long, b_short])
    y = np.concatenate([y_long, y_short])
    k = a.shape[1]
    # relative errors (liquidations span orders of magnitude and their noise is multiplicative): each
    # period's row is divided by its realized USD plus a floor of 10% of the median realized USD
    positive = y[y > 0]
    floor = 0.1 * float(np.median(positive)) if len(positive) else 1.0
    row_w = 1.0 / (y + floor)
    a = a * row_w[:, None]
    y = y * row_w
    norm = float(np.abs(a).max()) or 1.0
    if scale is None:
        c, _ = nnls(a / norm, y / norm)
        total = c.sum()
        return c / total if total > 0 else np.full(k, 1.0 / k)
    # fixed scale: weights >= 0 summing to 1 (the sum enforced by a heavily weighted extra row)
    lam = 1e3 * np.sqrt(len(y))
    a2 = np.vstack([scale * a / norm, np.full((1, k), lam)])
    y2 = np.concatenate([y / norm, [lam]])
    w, _ = nnls(a2, y2)
    return w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)


def _score(pred_long: np.ndarray, pred_short: np.ndarray, y_long: np.ndarray, y_short: np.ndarray) -> float:
    s = [_spearman(pred_long, y_long), _spearman(pred_short, y_short)]
    s = [x for x in s if np.isfinite(x)]
    return float(np.mean(s)) if s else -math.inf


@dataclass(frozen=True, eq=False)
class _Chooser:
    """Fits one candidate's leverage weights on a span of periods."""

    family: str
    bl: np.ndarray
    bs: np.ndarray
    y_long: np.ndarray
    y_short: np.ndarray
    grid: np.ndarray
    medians: Sequence[float]
    sigmas: Sequence[float]
    scale: float | None

    def __call__(self, part: slice) -> tuple[np.ndarray, dict[str, float]]:
        bl, bs, yl, ys = self.bl[part], self.bs[part], self.y_long[part], self.y_short[part]
        if self.family == "tiers":
            return _fit_weights(bl, bs, yl, ys, self.scale), {}
        best: tuple[float, np.ndarray | None, dict[str, float]] = (-math.inf, None, {})
        for med in self.medians:
            for sig in self.sigmas:
                w = _lognormal_weights(self.grid, med, sig)
                sc = _score(bl @ w, bs @ w, yl, ys)
                if sc > best[0] or best[1] is None:
                    best = (sc, w, {"median": float(med), "sigma": float(sig)})
        return best[1], best[2]  # type: ignore[return-value]


def _lognormal_weights(grid: np.ndarray, median: float, sigma: float) -> np.ndarray:
    p = LeverageProfile.lognormal(median, sigma, n=len(grid), low=float(grid[0]), high=float(grid[-1]))
    return p.weights_array


def calibrate(
    df: pd.DataFrame,
    realized: pd.DataFrame,
    *,
    train: float | str | pd.Timestamp = 0.6,
    leverages: Sequence[float] = DEFAULT_LEVERAGES,
    splits: Sequence[Split] = ("both", "candle"),
    half_lives: Sequence[HalfLife] = (None, "1D", "7D"),
    entries: Sequence[Entry] = ("typical", "path"),
    families: Sequence[Literal["tiers", "lognormal"]] = ("tiers", "lognormal"),
    medians: Sequence[float] = (5.0, 10.0, 20.0, 35.0, 60.0),
    sigmas: Sequence[float] = (0.3, 0.6, 1.0),
    scale: float | None = None,
    inner: float = 0.3,
    mmr: float = 0.004,
    period: str | pd.Timedelta | None = None,
) -> Calibration:
    """Choose heatmap options that best match realized liquidations, with an honest out-of-sample test.

    The realized periods are split in time: the first ``train`` part for choosing, the rest for the
    test, which plays no part in any choice. Within the training span the last ``inner`` share is held
    out to choose between option combinations (split x half-life x entry x family), each fitted on the
    part before it; the winner is refitted on the whole training span and evaluated once on the test
    span. The model itself is causal (levels at a candle use only earlier candles), so the test
    periods' predictions carry no information from the future.

    Fitting: the predicted liquidations are linear in the tier weights, so for ``"tiers"`` the weights
    (on ``leverages``) minimise the squared error of ``scale x predicted`` against realized USD over both
    sides (non-negative least squares; ``scale=None`` fits a free scale, for realized data from another
    venue or with partial coverage; a number fixes it, e.g. 1.0 when they count the same market).
    ``"lognormal"`` (beyond MODEL.md) picks the ``medians`` x ``sigmas`` log-normal leverage
    distribution with the best Spearman on the fitting part.

    Parameters
    ----------
    df, realized, period
        As :func:`validate`.
    train
        Share of the realized periods used for training (0-1), or the first test period's start time.
    leverages
        Tiers whose weights are fitted (family ``"tiers"``).
    splits, half_lives, entries
        Values of :func:`liquidation_heatmap`'s ``split``, ``half_life`` and ``entry`` to try.
    families
        ``"tiers"`` and/or ``"lognormal"``.
    medians, sigmas
        Grid of the log-normal family.
    scale
        None (fitted) or a fixed ratio of realized to predicted USD.
    inner
        Share of the training periods held out to choose between option combinations.
    mmr
        Maintenance margin rate of every tier.

    Returns
    -------
    Calibration

    Examples
    --------
    >>> from liqtools import load_sample, load_sample_liquidations, calibrate
    >>> cal = calibrate(load_sample(), load_sample_liquidations(), half_lives=(None,), entries=("typical",),
    ...                 families=("tiers",))
    >>> sorted(cal.options), list(cal.test.index)
    (['entry', 'half_life', 'leverage', 'split'], ['long', 'short'])
    >>> abs(sum(cal.options["leverage"].values()) - 1) < 1e-9
    True
    """
    df = validate_market(df, require=("oi_usd",))
    real, period_td = check_realized(realized, period)
    per = _periods(df, real, period_td)
    n_p = len(per.starts)
    if isinstance(train, (float, int, np.floating)) and not isinstance(train, bool):
        if not 0 < float(train) < 1:
            raise DataError(f"train must be a share in (0, 1) or a time, got {train}")
        n_train = int(round(float(train) * n_p))
    else:
        try:
            cut = pd.Timestamp(train)
        except (TypeError, ValueError) as exc:
            raise DataError(f"train must be a share in (0, 1) or a time, got {train!r}") from exc
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
        n_train = int(per.starts.searchsorted(cut, side="left"))
    n_fit = int(round((1 - inner) * n_train))
    if not 0 < inner < 1:
        raise DataError(f"inner must be in (0, 1), got {inner}")
    if n_fit < 4 or n_train - n_fit < 4 or n_p - n_train < 4:
        raise DataError(
            f"too few realized periods to calibrate: {n_p} in all, {n_train} for training ({n_fit} fit + "
            f"{n_train - n_fit} held out) and {n_p - n_train} for the test; each part needs at least 4"
        )
    if not families or any(f not in ("tiers", "lognormal") for f in families):
        raise DataError(f"families must be a non-empty selection of 'tiers' and 'lognormal', got {families!r}")
    lev = np.asarray([float(x) for x in leverages], dtype=np.float64)
    if len(lev) == 0:
        raise DataError("leverages is empty")
    grid = LeverageProfile.lognormal(20.0, 1.0, n=30, low=2.0, high=125.0).leverages

    y_long = per.realized["long_usd"].to_numpy()
    y_short = per.realized["short_usd"].to_numpy()
    fit, held, tr, te = slice(0, n_fit), slice(n_fit, n_train), slice(0, n_train), slice(n_train, n_p)

    candidates = []
    fitted: dict[int, tuple] = {}
    for split in splits:
        for half_life in half_lives:
            for entry in entries:
                for family in families:
                    tiers = lev if family == "tiers" else grid
                    bl, bs = liquidated_by_tier(df, tiers, mmr=mmr, split=split, half_life=half_life, entry=entry)
                    bl, bs = per.sum(bl), per.sum(bs)

                    choose = _Chooser(family, bl, bs, y_long, y_short, grid, medians, sigmas, scale)
                    w, params = choose(fit)
                    score = _score(bl[held] @ w, bs[held] @ w, y_long[held], y_short[held])
                    # for the record only (never used to choose): the same candidate refitted on the
                    # whole training span, scored on the test span
                    w_tr, _ = choose(tr)
                    test_score = _score(bl[te] @ w_tr, bs[te] @ w_tr, y_long[te], y_short[te])
                    key = len(candidates)
                    candidates.append(
                        {
                            "split": split,
                            "half_life": half_life,
                            "entry": entry,
                            "family": family,
                            "score": score,
                            "test_score": test_score,
                            "key": key,
                        }
                    )
                    fitted[key] = (bl, bs, choose, tiers)
    table = pd.DataFrame(candidates, dtype=object).sort_values("score", ascending=False, kind="stable")
    best = candidates[int(table["key"].iloc[0])]  # the original values (None stays None)
    bl, bs, choose, tiers = fitted[int(best["key"])]
    w, params = choose(tr)
    options = {
        "leverage": {float(k): float(v) for k, v in zip(tiers, w)},
        "split": best["split"],
        "half_life": best["half_life"],
        "entry": best["entry"],
    }

    def figures(part: slice) -> pd.DataFrame:
        starts = per.starts[part]
        frame = pd.DataFrame(
            {
                "realized_long_usd": y_long[part],
                "realized_short_usd": y_short[part],
                "predicted_long_usd": bl[part] @ w,
                "predicted_short_usd": bs[part] @ w,
            },
            index=starts,
        )
        ext = _period_frame(
            df, per, pd.DataFrame({"long_usd": np.zeros(len(df)), "short_usd": np.zeros(len(df))}, index=df.index)
        )
        frame["adverse_long"] = ext["adverse_long"].to_numpy()[part]
        frame["adverse_short"] = ext["adverse_short"].to_numpy()[part]
        return _side_table(frame)

    default_pred = liquidation_heatmap(df, every=len(df)).liquidated
    default_frame = _period_frame(df, per, default_pred).iloc[te]
    default_test = _side_table(default_frame)

    return Calibration(
        options=options,
        family=str(best["family"]),
        params=params,
        train=figures(tr),
        test=figures(te),
        candidates=table.drop(columns="key")
        .astype({"score": np.float64, "test_score": np.float64})
        .reset_index(drop=True),
        default_test=default_test,
        train_periods=per.starts[tr],
        test_periods=per.starts[te],
    )
