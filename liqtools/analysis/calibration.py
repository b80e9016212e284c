"""Calibration: choosing model options on training periods only (:func:`calibrate`).

The model's predicted liquidations are linear in the leverage weights (each tier's levels live
independently), so every option combination is run once per tier (:func:`liquidated_by_tier`) and the
weights are fitted afterwards. :func:`search_options` makes the choice from the first ``n_train``
periods alone; :func:`calibrate` wraps it with one train/test split, :func:`liqtools.benchmark` with a
walk-forward of several.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.analysis.calibration_grid import (
    DEFAULT_EXTRA_OPTIONS,
    DEFAULT_LEVERAGES,
    default_splits,
    lognormal_grid,
    option_grid,
)
from liqtools.analysis.heatmap import Entry, HalfLife, Split, liquidated_by_tier, liquidation_heatmap
from liqtools.analysis.profile import LeverageProfile
from liqtools.analysis.realized import Periods, realized_periods
from liqtools.analysis.scoring import format_table, side_table, spearman
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = [
    "DEFAULT_EXTRA_OPTIONS",
    "DEFAULT_LEVERAGES",
    "Calibration",
    "Choice",
    "TierCache",
    "calibrate",
    "default_splits",
    "option_grid",
    "search_options",
]

Family = Literal["tiers", "lognormal"]


class TierCache:
    """Per-period predicted liquidations of every single tier, per option combination, computed once."""

    def __init__(self, df: pd.DataFrame, per: Periods, *, mmr: float = 0.004) -> None:
        self.df, self.per, self.mmr = df, per, mmr
        self._store: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def get(self, options: Mapping[str, Any], tiers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(long, short)``, each ``(periods, tiers)``: liquidations of each tier with weight 1."""
        key = repr((sorted(options.items()), tuple(float(t) for t in tiers)))
        if key not in self._store:
            bl, bs = liquidated_by_tier(self.df, tiers, mmr=self.mmr, **dict(options))
            self._store[key] = (self.per.sum(bl), self.per.sum(bs))
        return self._store[key]


def _score(pred_long: np.ndarray, pred_short: np.ndarray, y_long: np.ndarray, y_short: np.ndarray) -> float:
    """Mean of the two sides' Spearman (the choice criterion); -inf when neither is defined."""
    s = [x for x in (spearman(pred_long, y_long), spearman(pred_short, y_short)) if np.isfinite(x)]
    return float(np.mean(s)) if s else -math.inf


def _fit_weights(a_long: np.ndarray, a_short: np.ndarray, y_long: np.ndarray, y_short: np.ndarray, scale: float | None) -> np.ndarray:
    """Tier weights on the simplex minimising the relative squared error of (scale x) predicted vs realized."""
    from scipy.optimize import nnls

    a = np.vstack([a_long, a_short])
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
    w, _ = nnls(np.vstack([scale * a / norm, np.full((1, k), lam)]), np.concatenate([y / norm, [lam]]))
    return w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)


@dataclass(frozen=True)
class _Grid:
    medians: Sequence[float]
    sigmas: Sequence[float]
    scale: float | None


def fit_family(
    family: Family, bl: np.ndarray, bs: np.ndarray, y_long: np.ndarray, y_short: np.ndarray, rows: slice, grid: _Grid
) -> tuple[np.ndarray, dict[str, float]]:
    """Leverage weights fitted on ``rows`` of the per-period tier matrices: ``(weights, params)``."""
    bl, bs, yl, ys = bl[rows], bs[rows], y_long[rows], y_short[rows]
    if family == "tiers":
        return _fit_weights(bl, bs, yl, ys, grid.scale), {}
    tiers = lognormal_grid()
    best: tuple[float, np.ndarray | None, dict[str, float]] = (-math.inf, None, {})
    for med in grid.medians:
        for sig in grid.sigmas:
            w = LeverageProfile.lognormal(med, sig, n=len(tiers), low=float(tiers[0]), high=float(tiers[-1])).weights_array
            sc = _score(bl @ w, bs @ w, yl, ys)
            if sc > best[0] or best[1] is None:
                best = (sc, w, {"median": float(med), "sigma": float(sig)})
    return best[1], best[2]  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class Choice:
    """The options chosen by :func:`search_options` and what they predict for every period."""

    options: dict[str, Any]  # liquidation_heatmap keywords, leverage included
    family: str
    params: dict[str, float]
    pred_long: np.ndarray  # per period, all periods (weights fitted on the training periods)
    pred_short: np.ndarray
    candidates: pd.DataFrame


def search_options(
    cache: TierCache,
    n_train: int,
    *,
    combos: Sequence[Mapping[str, Any]],
    families: Sequence[Family],
    leverages: Sequence[float] = DEFAULT_LEVERAGES,
    medians: Sequence[float] = (5.0, 10.0, 20.0, 35.0, 60.0),
    sigmas: Sequence[float] = (0.3, 0.6, 1.0),
    scale: float | None = None,
    inner: float = 0.3,
    test: slice | None = None,
) -> Choice:
    """Choose options and weights from the first ``n_train`` periods of ``cache`` and nothing else.

    The last ``inner`` share of the training periods (at least 4) is held out: every combination of
    ``combos`` x ``families`` is fitted on the periods before it and scored there (mean of the two sides'
    Spearman); the winner is refitted on all ``n_train`` periods. With ``test``, each candidate's score
    on those periods is recorded as ``test_score`` (never used to choose).
    """
    held = max(4, round(inner * n_train))
    n_fit = n_train - held
    if n_fit < 4:
        raise DataError(
            f"too few training periods to choose options: {n_train} ({n_fit} to fit + {held} held out); "
            "each part needs at least 4"
        )
    y_long = cache.per.realized["long_usd"].to_numpy()
    y_short = cache.per.realized["short_usd"].to_numpy()
    grid = _Grid(medians, sigmas, scale)
    lev = np.asarray([float(x) for x in leverages], dtype=np.float64)
    fit, hold, tr = slice(0, n_fit), slice(n_fit, n_train), slice(0, n_train)
    rows, mats = [], []
    for opts in combos:
        for family in families:
            tiers = lev if family == "tiers" else lognormal_grid()
            bl, bs = cache.get(opts, tiers)
            w, _ = fit_family(family, bl, bs, y_long, y_short, fit, grid)
            row = {**opts, "family": family, "score": _score(bl[hold] @ w, bs[hold] @ w, y_long[hold], y_short[hold])}
            if test is not None:
                w_tr, _ = fit_family(family, bl, bs, y_long, y_short, tr, grid)
                row["test_score"] = _score(bl[test] @ w_tr, bs[test] @ w_tr, y_long[test], y_short[test])
            rows.append(row)
            mats.append((opts, family, bl, bs, tiers))
    scores = np.array([r["score"] for r in rows])
    best = int(np.argsort(-scores, kind="stable")[0])
    opts, family, bl, bs, tiers = mats[best]
    w, params = fit_family(family, bl, bs, y_long, y_short, tr, grid)
    table = pd.DataFrame(rows, dtype=object).iloc[np.argsort(-scores, kind="stable")].reset_index(drop=True)
    table = table.astype({c: np.float64 for c in ("score", "test_score") if c in table})
    options = {"leverage": {float(k): float(v) for k, v in zip(tiers, w)}, **opts}
    return Choice(options, family, params, bl @ w, bs @ w, table)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    options
        Keyword arguments of :func:`liquidation_heatmap` chosen on the training span: ``leverage``
        (``{leverage: weight}``), ``split``, ``half_life``, ``entry`` (and the keys of a chosen
        ``extra_options`` dict).
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
        docs/model.md's default model (no fitting) on the test span, the reference to beat.
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
        others = "; ".join(f"{k} {v!r}" for k, v in self.options.items() if k != "leverage")
        head = (
            f"Calibrated on {len(self.train_periods)} periods to {self.train_periods[-1]:%Y-%m-%d}, tested on "
            f"{len(self.test_periods)} later periods from {self.test_periods[0]:%Y-%m-%d}.\n"
            f"Chosen: {lev_text}; {others}."
        )
        return "\n".join(
            [
                head,
                "Train (in sample):",
                format_table(self.train),
                "Test (out of sample):",
                format_table(self.test),
                "docs/model.md default (not fitted) on the same test periods:",
                format_table(self.default_test),
            ]
        )


def _n_train(train: float | str | pd.Timestamp, starts: pd.DatetimeIndex) -> int:
    if isinstance(train, (float, int, np.floating)) and not isinstance(train, bool):
        if not 0 < float(train) < 1:
            raise DataError(f"train must be a share in (0, 1) or a time, got {train}")
        return round(float(train) * len(starts))
    try:
        cut = pd.Timestamp(train)
    except (TypeError, ValueError) as exc:
        raise DataError(f"train must be a share in (0, 1) or a time, got {train!r}") from exc
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    return int(starts.searchsorted(cut, side="left"))


def calibrate(
    df: pd.DataFrame,
    realized: pd.DataFrame,
    *,
    train: float | str | pd.Timestamp = 0.6,
    leverages: Sequence[float] = DEFAULT_LEVERAGES,
    splits: Sequence[Split] | None = None,
    half_lives: Sequence[HalfLife] = (None, "1D", "7D"),
    entries: Sequence[Entry] = ("typical", "path"),
    families: Sequence[Family] = ("tiers", "lognormal"),
    extra_options: Sequence[Mapping[str, Any]] | None = None,
    medians: Sequence[float] = (5.0, 10.0, 20.0, 35.0, 60.0),
    sigmas: Sequence[float] = (0.3, 0.6, 1.0),
    scale: float | None = None,
    inner: float = 0.3,
    mmr: float = 0.004,
    period: str | pd.Timedelta | None = None,
    units: Literal["usd", "coin"] = "usd",
) -> Calibration:
    """Choose heatmap options that best match realized liquidations, with an honest out-of-sample test.

    The realized periods are split in time: the first ``train`` part for choosing, the rest for the
    test, which plays no part in any choice. Within the training span the last ``inner`` share (at
    least 4 periods) is held out to choose between option combinations (split x half-life x entry x
    extra options x family), each fitted on the part before it; the winner is refitted on the whole
    training span and evaluated once on the test span. The model itself is causal (levels at a candle
    use only earlier candles), so the test periods' predictions carry no information from the future.

    Fitting: the predicted liquidations are linear in the tier weights, so for ``"tiers"`` the weights
    (on ``leverages``) minimise the squared error of ``scale x predicted`` against realized USD over both
    sides (non-negative least squares; ``scale=None`` fits a free scale, for realized data from another
    venue or with partial coverage; a number fixes it, e.g. 1.0 when they count the same market).
    ``"lognormal"`` (beyond docs/model.md) picks the ``medians`` x ``sigmas`` log-normal leverage
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
        Values of :func:`liquidation_heatmap`'s ``split``, ``half_life`` and ``entry`` to try; ``splits``
        defaults to ``("both", "candle")``, plus ``"taker"`` when ``df`` has taker buy volume.
    families
        ``"tiers"`` and/or ``"lognormal"``.
    extra_options
        Further dicts of :func:`liquidated_by_tier` keywords (options beyond the grid's, e.g. ones added
        to the model later); every grid combination is also tried with each dict (its keys override the
        grid's), so keep the list short. Default :data:`DEFAULT_EXTRA_OPTIONS` (turnover 0.3, 1, 3);
        ``()`` searches the grid alone.
    medians, sigmas
        Grid of the log-normal family.
    scale
        None (fitted) or a fixed ratio of realized to predicted USD.
    inner
        Share of the training periods held out to choose between option combinations.
    mmr
        Maintenance margin rate of every tier.
    units
        ``"usd"`` or ``"coin"`` (realized amounts in the base coin, converted with the close).

    Returns
    -------
    Calibration

    Examples
    --------
    >>> from liqtools import load_sample, load_sample_liquidations, calibrate
    >>> cal = calibrate(load_sample(), load_sample_liquidations(), half_lives=(None,), entries=("typical",),
    ...                 families=("tiers",))
    >>> sorted(cal.options), list(cal.test.index)
    (['entry', 'half_life', 'leverage', 'split', 'turnover'], ['long', 'short'])
    >>> abs(sum(cal.options["leverage"].values()) - 1) < 1e-9
    True
    """
    df = validate_market(df, require=("oi_usd",))
    per = realized_periods(df, realized, period, units=units)
    n_p = len(per)
    n_train = _n_train(train, per.starts)
    if not 0 < inner < 1:
        raise DataError(f"inner must be in (0, 1), got {inner}")
    held = max(4, round(inner * n_train))
    if n_train - held < 4 or n_p - n_train < 4:
        raise DataError(
            f"too few realized periods to calibrate: {n_p} in all, {n_train} for training ({n_train - held} fit + "
            f"{held} held out) and {n_p - n_train} for the test; each part needs at least 4"
        )
    if not families or any(f not in ("tiers", "lognormal") for f in families):
        raise DataError(f"families must be a non-empty selection of 'tiers' and 'lognormal', got {families!r}")
    if len(leverages) == 0:
        raise DataError("leverages is empty")
    extras = DEFAULT_EXTRA_OPTIONS if extra_options is None else extra_options
    combos = option_grid(default_splits(df) if splits is None else splits, half_lives, entries, extras)
    tr, te = slice(0, n_train), slice(n_train, n_p)
    choice = search_options(
        TierCache(df, per, mmr=mmr),
        n_train,
        combos=combos,
        families=families,
        leverages=leverages,
        medians=medians,
        sigmas=sigmas,
        scale=scale,
        inner=inner,
        test=te,
    )
    zero = pd.DataFrame({"long_usd": np.zeros(len(df)), "short_usd": np.zeros(len(df))}, index=df.index)
    frame = per.frame(df, zero)
    frame["predicted_long_usd"] = choice.pred_long
    frame["predicted_short_usd"] = choice.pred_short
    default_frame = per.frame(df, liquidation_heatmap(df, every=len(df)).liquidated)
    return Calibration(
        options=choice.options,
        family=choice.family,
        params=choice.params,
        train=side_table(frame.iloc[tr]),
        test=side_table(frame.iloc[te]),
        candidates=choice.candidates,
        default_test=side_table(default_frame.iloc[te]),
        train_periods=per.starts[tr],
        test_periods=per.starts[te],
    )
