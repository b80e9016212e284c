"""``liqtools benchmark``: the model, its options and naive baselines against realized liquidations, walk-forward.

    liqtools benchmark --sample eth-2024                 # a bundled market with its realized liquidations
    liqtools benchmark --data m.parquet --realized liq.csv --units coin --folds 5 --embargo 48h
    liqtools benchmark --sample sol-2024 --format csv    # the tidy fold-by-fold table
    liqtools benchmark --sample eth-2024 --extra turnover=0.1   # an option beyond the calibration grid
"""

from __future__ import annotations

import argparse
import sys

from liqtools.errors import DataError

__all__ = ["register"]


def _embargo(text: str | None) -> int | str | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _value(text: str) -> object:
    if text in ("None", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        return text


def extra_arg(text: str) -> dict[str, object]:
    """``KEY=VALUE[,KEY=VALUE...]`` as one dict of liquidation_heatmap options (numbers as floats)."""
    out: dict[str, object] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"--extra takes KEY=VALUE[,KEY=VALUE...], got {text!r}")
        out[key.strip()] = _value(value.strip())
    return out


def cmd_benchmark(args: argparse.Namespace) -> int:
    from pathlib import Path

    from liqtools.analysis.benchmark import benchmark

    if args.data:
        if not args.realized:
            raise DataError("--data needs --realized FILE (the realized liquidations of that market)")
        from liqtools.cli.validate import read_realized
        from liqtools.data.files import read_market

        df, realized, market = read_market(args.data), read_realized(args.realized), Path(args.data).name
    else:
        from liqtools.data.sample import load_sample, load_sample_liquidations

        if args.realized:
            raise DataError("--realized goes with --data; a bundled sample brings its own realized liquidations")
        df, realized, market = load_sample(args.sample), load_sample_liquidations(args.sample), args.sample
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    result = benchmark(
        df,
        realized,
        methods=methods,
        folds=args.folds,
        embargo=_embargo(args.embargo),
        units=args.units,
        market=market,
        extra_options=None if args.extra is None else args.extra,
    )
    if args.format == "csv":
        sys.stdout.write(result.table.to_csv(index=False))
        return 0
    print(result.summary())
    print()
    print("Fold by fold:")
    from liqtools.analysis.scoring import format_table

    shown = result.table.drop(columns=["market"]).set_index(["fold", "side", "method"])
    print(format_table(shown))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="walk-forward scorecard: default and calibrated model vs naive baselines on realized liquidations",
        description="Score the model (docs/model.md default, calibrated, each option family) and naive baselines (adverse "
        "range, recent move, fixed-offset map) against realized liquidations on walk-forward test folds; every "
        "option is chosen on the training window only. Estimates, not guarantees.",
    )
    p.add_argument("--sample", default="btc", metavar="NAME", help="bundled market: btc (default), eth-2024, sol-2024")
    p.add_argument("--data", metavar="FILE", help="market frame (.parquet or .csv) instead of a sample; needs --realized")
    p.add_argument("--realized", metavar="FILE", help="realized liquidations (.parquet or .csv: a UTC time index of "
                   "period starts on the candle grid, columns long_usd, short_usd)")
    p.add_argument("--units", choices=("usd", "coin"), default="usd", help="units of --realized (coin: converted "
                   "with the close; default usd)")
    p.add_argument("--folds", type=int, default=5, help="walk-forward test folds (default 5)")
    p.add_argument("--embargo", metavar="N|TIME", help="periods (or a time such as 48h) left out between training "
                   "and test; default 24 hours, at least one period")
    p.add_argument("--methods", metavar="LIST", help="comma-separated methods (default all): recent_move, volume_range, fixed_offset, "
                   "fixed_offset_<L>, default, calibrated, tiers, lognormal, split, half_life, path")
    p.add_argument("--extra", type=extra_arg, action="append", metavar="KEY=VALUE[,...]", help="an option set "
                   "beyond the calibration grid (liquidation_heatmap keywords, e.g. turnover=0.1): searched by the "
                   "calibration and scored on its own; repeatable; replaces the default set (turnover=0.3, 1, 3)")
    p.add_argument("--format", choices=("table", "csv"), default="table", help="output format (default table)")
    p.set_defaults(func=cmd_benchmark)
