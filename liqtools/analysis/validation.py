"""The truth test: how well do the model's predicted liquidations match what exchanges liquidated?

:func:`validate` compares the heatmap's predicted liquidations (``Heatmap.liquidated``, summed to the
periods of the realized data, e.g. UTC days) with realized liquidations, against a naive baseline that
knows only each period's adverse price range. :func:`calibrate` (:mod:`liqtools.analysis.calibration`)
chooses model options on a training span and reports how they do on a later test span;
:func:`liqtools.benchmark` (:mod:`liqtools.analysis.benchmark`) scores the model, its options and naive
baselines walk-forward over several test folds.

The pieces live in small modules: :mod:`~liqtools.analysis.realized` (checking realized data and lining
it up with the candles), :mod:`~liqtools.analysis.scoring` (the scores), :mod:`~liqtools.analysis.calibration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from liqtools.analysis.calibration import DEFAULT_LEVERAGES, Calibration, calibrate
from liqtools.analysis.heatmap import Heatmap, liquidation_heatmap
from liqtools.analysis.realized import check_realized, realized_periods
from liqtools.analysis.scoring import TABLE_COLUMNS, format_table, side_table
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["DEFAULT_LEVERAGES", "TABLE_COLUMNS", "Calibration", "Validation", "calibrate", "check_realized", "validate"]


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
    units
        Units of the realized input (``"usd"``, or ``"coin"`` converted to USD with the close).
    """

    table: pd.DataFrame
    periods: pd.DataFrame
    options: Mapping[str, Any] = field(default_factory=dict)
    units: str = "usd"

    def summary(self) -> str:
        p = self.periods.index
        head = f"Predicted vs realized liquidations, {len(p)} periods from {p[0]:%Y-%m-%d %H:%M} to {p[-1]:%Y-%m-%d %H:%M} UTC"
        note = (
            "spearman: rank correlation per period; baseline: the period's adverse range alone; r2 from "
            "log1p regressions (HAC errors). Predictions are the OI-delta model's estimates."
        )
        return "\n".join([head, format_table(self.table), note])


def validate(
    df: pd.DataFrame,
    realized: pd.DataFrame,
    *,
    heatmap: Heatmap | None = None,
    period: str | pd.Timedelta | None = None,
    units: Literal["usd", "coin"] = "usd",
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
        :func:`load_sample_liquidations`); the periods must start on the candle grid.
    heatmap
        A heatmap already built from ``df`` (then ``model_options`` must be empty).
    period
        Length of a realized period; default the most common spacing of its index.
    units
        ``"usd"`` (default) or ``"coin"``: realized amounts in the base coin, converted with the close
        (see :func:`~liqtools.analysis.realized.realized_periods`).
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
    per = realized_periods(df, realized, period, units=units)
    if heatmap is not None:
        if model_options:
            raise DataError(f"pass either heatmap or model options, not both (got {sorted(model_options)})")
        if len(heatmap.liquidated) != len(df) or not heatmap.liquidated.index.equals(df.index):
            raise DataError("heatmap was not built from this market frame (its candles differ)")
        hm = heatmap
        options: dict[str, Any] = {
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
    periods = per.frame(df, hm.liquidated)
    return Validation(side_table(periods), periods, options, units)
