"""The benchmark: does the liquidation map know more about realized liquidations than naive baselines?

:func:`benchmark` scores the model (its docs/model.md default, the calibrated model and each option family
the calibration can choose) and naive baselines side by side, walk-forward: the realized periods are cut
into ``folds + 1`` consecutive blocks; each of the last ``folds`` blocks is a test fold, and everything
it is scored with was chosen on the periods before it (an expanding training window), minus an embargo
of periods just before the test fold, so that no test period, nor any period next to one, reaches a choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.analysis.baselines import FIXED_LEVERAGES, RECENT_CANDLES
from liqtools.analysis.bench_methods import Context, MethodSpec, Prediction, Settings, method_specs
from liqtools.analysis.bench_summary import summary_table, summary_text
from liqtools.analysis.calibration import DEFAULT_EXTRA_OPTIONS
from liqtools.analysis.realized import realized_periods
from liqtools.analysis.scoring import SIDES, gain_scores, spearman
from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["BENCHMARK_COLUMNS", "BenchmarkResult", "benchmark", "make_folds"]

BENCHMARK_COLUMNS = (
    "market",
    "fold",
    "side",
    "method",
    "spearman",
    "r2_gain",
    "t_stat",
    "n",
    "oos_r2_gain",
    "oos_r2_range",
    "range_spearman",
    "options",
)
MIN_TRAIN = 8
MIN_TEST = 4


def make_folds(n_periods: int, folds: int, embargo: int) -> list[tuple[int, int, int]]:
    """``(n_train, test_start, test_end)`` per fold: ``folds + 1`` near-equal consecutive blocks of the
    periods, the last ``folds`` tested, each trained on the periods before it minus ``embargo``.

    >>> make_folds(60, 5, 2)
    [(8, 10, 20), (18, 20, 30), (28, 30, 40), (38, 40, 50), (48, 50, 60)]
    """
    if not isinstance(folds, (int, np.integer)) or isinstance(folds, bool) or folds < 1:
        raise DataError(f"folds must be a positive integer, got {folds!r}")
    blocks = np.array_split(np.arange(n_periods), int(folds) + 1)
    out = [(int(b[0]) - embargo, int(b[0]), int(b[-1]) + 1) for b in blocks[1:] if len(b)]
    smallest = min((e - s for _, s, e in out), default=0)
    if len(out) < folds or smallest < MIN_TEST or out[0][0] < MIN_TRAIN:
        first = out[0][0] if out else n_periods - embargo
        raise DataError(
            f"too few realized periods for {folds} folds with an embargo of {embargo} periods: {n_periods} periods "
            f"give test folds of {smallest} and a first training window of {first}; each test fold needs at least "
            f"{MIN_TEST} periods and the first training window at least {MIN_TRAIN} (use fewer folds or a shorter embargo)"
        )
    return out


def _embargo_periods(embargo: int | str | pd.Timedelta | None, period: pd.Timedelta) -> int:
    if embargo is None:
        return max(1, math.ceil(pd.Timedelta("24h") / period))
    if isinstance(embargo, (int, np.integer)) and not isinstance(embargo, bool):
        if embargo < 0:
            raise DataError(f"embargo must be >= 0 periods, got {embargo}")
        return int(embargo)
    try:
        td = pd.Timedelta(embargo)
    except (TypeError, ValueError) as exc:
        raise DataError(f"embargo must be a number of periods or a time such as '24h', got {embargo!r}") from exc
    if td < pd.Timedelta(0):
        raise DataError(f"embargo must not be negative, got {embargo!r}")
    return math.ceil(td / period)


@dataclass(frozen=True, eq=False)
class BenchmarkResult:
    """Result of :func:`benchmark`.

    Attributes
    ----------
    table
        Tidy, one row per market x fold x side x method: ``spearman`` (rank correlation of the method's
        score and realized liquidations over the fold's periods), ``r2_gain`` (R^2 of
        ``log1p(realized)`` on ``[range, method]`` minus on ``[range]``, both fitted within the fold; 0 for
        the range itself), ``t_stat`` (HAC t-statistic of the method's term; for the range, of the range
        in ``[range]``), ``n`` (periods), ``oos_r2_gain`` (the same gain with the coefficients fitted on
        the training window: a strictly out-of-sample figure, which can exceed 1 when the range's own
        training fit does badly on the fold), ``oos_r2_range`` (that out-of-sample R^2 of the range
        regression itself), ``range_spearman`` (the range's Spearman
        on the same periods) and ``options`` (what the method chose on the fold's training window).
    folds
        One row per fold: its training and test spans (first and last period) and sizes.
    choices
        One row per fold x method: the options chosen (a dict), for checks such as "the choice does not
        depend on the test data".
    market, units, period, embargo
        Label of the market; units of the realized input (``"usd"``, or ``"coin"`` converted with the
        close); length of a period; embargo in periods.
    alpha
        Significance level of :meth:`summary` (Bonferroni-corrected over the methods and sides).
    """

    table: pd.DataFrame
    folds: pd.DataFrame
    choices: pd.DataFrame
    market: str
    units: str
    period: pd.Timedelta
    embargo: int
    alpha: float = 0.05

    def summary_table(self) -> pd.DataFrame:
        """Per side and method, over the test folds: means, folds beating the range, significance.

        Columns: ``folds``, ``spearman`` and ``range_spearman`` (means), ``folds_above_range`` (folds
        where the method's Spearman exceeds the range's), ``r2_gain``, ``oos_r2_gain``, ``oos_r2_range`` (means),
        ``folds_significant`` (folds whose t-statistic passes the two-sided 5% Student-t threshold
        with ``n - 3`` degrees of freedom), ``z`` (the folds' t-statistics combined: each turned into a
        normal score through its Student-t probability, then ``sum(z) / sqrt(folds)``, Stouffer's method) and ``significant`` (z above the one-sided Bonferroni threshold
        ``z_crit`` for ``alpha`` over every method and side but the range).
        """
        return summary_table(self.table, self.alpha)

    def summary(self) -> str:
        """The scorecard in plain words."""
        return summary_text(self)

    def plot(self, **kwargs: Any) -> Any:
        """A bokeh figure of the fold scores (:func:`liqtools.plotting.benchmark.benchmark_figure`)."""
        from liqtools.plotting.benchmark import benchmark_figure

        return benchmark_figure(self, **kwargs)


def _describe(options: Mapping[str, Any]) -> str:
    parts = []
    for k, v in options.items():
        if isinstance(v, Mapping):
            v = " ".join(f"{a:g}x:{b:.2f}" for a, b in v.items())
        elif isinstance(v, float):
            v = f"{v:g}"
        parts.append(f"{k}={v}")
    return "; ".join(parts)


def _score_rows(ctx: Context, pred: Prediction | None, n_train: int, test: slice) -> list[dict[str, Any]]:
    rows = []
    tr = slice(0, n_train)
    for side in SIDES:
        y_raw = ctx.y[side]
        y = np.log1p(y_raw)
        base = ctx.adverse[side]
        range_rho = spearman(base[test], y_raw[test])
        if pred is None:
            rho, scores = range_rho, gain_scores(y[test], base[test], None, y_train=y[tr], base_train=base[tr])
        else:
            raw = pred.long if side == "long" else pred.short
            x = np.log1p(raw) if pred.log else raw
            rho = spearman(raw[test], y_raw[test])
            scores = gain_scores(y[test], base[test], x[test], y_train=y[tr], base_train=base[tr], x_train=x[tr])
        rows.append(
            {
                "side": side,
                "spearman": rho,
                "r2_gain": scores["r2_gain"],
                "t_stat": scores["t_stat"],
                "n": test.stop - test.start,
                "oos_r2_gain": scores["oos_r2_gain"],
                "oos_r2_range": scores["oos_r2_range"],
                "range_spearman": range_rho,
            }
        )
    return rows


def benchmark(
    df: pd.DataFrame,
    realized: pd.DataFrame,
    *,
    methods: Sequence[MethodSpec] | Mapping[str, MethodSpec] | None = None,
    folds: int = 5,
    embargo: int | str | pd.Timedelta | None = None,
    units: Literal["usd", "coin"] = "usd",
    period: str | pd.Timedelta | None = None,
    market: str = "market",
    recent_candles: Sequence[int] = RECENT_CANDLES,
    fixed_leverages: Sequence[float] = FIXED_LEVERAGES,
    calibration: Mapping[str, Any] | None = None,
    extra_options: Sequence[Mapping[str, Any]] | None = None,
    mmr: float = 0.004,
    alpha: float = 0.05,
) -> BenchmarkResult:
    """Score the liquidation model and naive baselines against realized liquidations, walk-forward.

    Every method gives a score per period and side; on each test fold it is compared with the realized
    liquidations (Spearman) and with the range baseline (R^2 gain of ``log1p(realized)`` on
    ``[range, method]`` over ``[range]``, with the HAC t-statistic of the method's term). Methods:

    * ``"range"``: the adverse range, ``log(open/low)`` for longs and ``log(high/open)`` for shorts
      (always scored: it is the baseline of every gain);
    * ``"recent_move"``: ``|log return|`` over the last ``k`` candles, ``k`` per side from
      ``recent_candles`` by training Spearman;
    * ``"volume_range"``: the adverse range times the period's USD volume (a stronger naive ranker than
      the range alone on the bundled markets);
    * ``"fixed_offset"``: the open-source scripts' map (each candle's USD volume at its price times
      ``1 -/+ 1/L``, no maintenance margin, consumed when crossed), ``L`` per side from
      ``fixed_leverages`` by training Spearman; ``"fixed_offset_<L>"`` for one ``L``;
    * ``"default"``: docs/model.md's default model, ``liquidation_heatmap(df).liquidated`` per period;
    * ``"calibrated"``: :func:`calibrate`'s search (its inner held-out split inside the training window)
      run on each fold's training window and applied to the test fold;
    * one family at a time, the rest as docs/model.md: ``"tiers"`` (tier weights fitted), ``"lognormal"``
      (log-normal leverage, median and sigma chosen), ``"split"`` (the side split chosen from the
      calibration's splits other than ``"both"``), ``"half_life"`` (chosen from its half-lives), ``"path"``
      (path entries), and one method per ``extra_options`` dict;
    * a callable ``df -> DataFrame`` of per-candle ``long_usd, short_usd`` (it must be causal: a candle's
      value may use only that and earlier candles), or a dict of :func:`liquidation_heatmap` options
      (with the default leverage profile).

    Folds: the realized periods the candles cover are cut into ``folds + 1`` consecutive near-equal
    blocks; block ``k`` (1..folds) is test fold ``k``, trained on all periods before it except the last
    ``embargo`` (an expanding window). Choices (``k``, ``L``, options, weights) use the training
    window's realized data only; the predictions come from causal models, so running them on the whole
    frame leaks nothing. The first block only ever trains; the model starts with no positions, so it
    also absorbs the model's warm-up.

    Parameters
    ----------
    df
        Market frame with ``oi_usd`` (and ``taker_buy_volume`` for the taker split).
    realized
        ``long_usd, short_usd`` per period (hourly, daily, ...), indexed by the UTC period start on the
        candle grid; missing periods may be absent.
    methods
        Names, callables or option dicts (a list, or a dict name -> method); default every method above.
    folds
        Number of test folds (default 5; at least 4 for a fair picture).
    embargo
        Periods left out between each training window and its test fold: a number of periods or a time
        (rounded up to whole periods). Default 24 hours, at least one period (24 for hourly data, 1 for daily).
    units
        ``"usd"`` or ``"coin"`` (base-coin amounts, converted with the close; see
        :func:`~liqtools.analysis.realized.realized_periods`).
    period
        Length of a realized period; default the most common spacing of its index.
    market
        Label of the market in the table.
    recent_candles, fixed_leverages
        Grids of the two baselines.
    calibration
        Grids of the calibration search (keywords of :func:`calibrate`: ``splits``, ``half_lives``,
        ``entries``, ``families``, ``leverages``, ``medians``, ``sigmas``, ``scale``, ``inner``).
    extra_options
        Further option dicts (:func:`liquidation_heatmap` keywords) for the calibration to try, each also
        scored on its own with the default profile. Default
        :data:`~liqtools.analysis.calibration.DEFAULT_EXTRA_OPTIONS` (gross turnover 0.3, 1 and 3, the
        ingredient the truth study found to matter); ``()`` for the grid alone.
    mmr
        Maintenance margin rate of the model's tiers.
    alpha
        Significance level of the summary (Bonferroni-corrected over methods and sides).

    Returns
    -------
    BenchmarkResult

    Examples
    --------
    >>> from liqtools import benchmark, load_sample, load_sample_liquidations
    >>> res = benchmark(load_sample(), load_sample_liquidations(), methods=["default"], folds=4, market="btc")
    >>> sorted(res.table["method"].unique()), len(res.folds), res.embargo
    (['default', 'range'], 4, 1)
    >>> list(res.table.columns[:8])
    ['market', 'fold', 'side', 'method', 'spearman', 'r2_gain', 't_stat', 'n']
    """
    df = validate_market(df, require=("oi_usd",))
    per = realized_periods(df, realized, period, units=units)
    n_emb = _embargo_periods(embargo, per.period)
    spans = make_folds(len(per), folds, n_emb)
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    settings = Settings(tuple(recent_candles), tuple(fixed_leverages), dict(calibration or {}), tuple(DEFAULT_EXTRA_OPTIONS if extra_options is None else extra_options), mmr)
    # explicit extra option sets are always scored on their own too; the default ones when every method is
    specs = method_specs(methods, settings.extra_options if (extra_options is not None or methods is None) else ())
    ctx = Context(df, per, settings)
    rows, choices, fold_rows = [], [], []
    for k, (n_train, start, stop) in enumerate(spans, start=1):
        test = slice(start, stop)
        fold_rows.append(
            {
                "fold": k,
                "train_start": per.starts[0],
                "train_end": per.starts[n_train - 1],
                "test_start": per.starts[start],
                "test_end": per.starts[stop - 1],
                "n_train": n_train,
                "n_test": stop - start,
            }
        )
        for name, run in specs:
            pred = None if run is None else run(ctx, n_train)
            opts = {} if pred is None else pred.options
            choices.append({"fold": k, "method": name, "options": opts})
            for row in _score_rows(ctx, pred, n_train, test):
                rows.append({"market": market, "fold": k, "method": name, **row, "options": _describe(opts)})
    table = pd.DataFrame(rows)[list(BENCHMARK_COLUMNS)]
    table = table.sort_values(["fold", "side"], kind="stable").reset_index(drop=True)  # method order kept
    return BenchmarkResult(
        table=table.astype({"fold": np.int64, "n": np.int64}),
        folds=pd.DataFrame(fold_rows).set_index("fold"),
        choices=pd.DataFrame(choices),
        market=market,
        units="usd" if units == "usd" else "coin (converted to USD with the close)",
        period=per.period,
        embargo=n_emb,
        alpha=alpha,
    )

