"""``liqtools validate``: predicted vs realized liquidations, against the adverse-range baseline."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from liqtools.cli._common import load, number, profile, split_arg

__all__ = ["read_realized", "register"]


def read_realized(path: str) -> pd.DataFrame:
    """Realized liquidations from a ``.parquet`` or ``.csv`` file: a UTC time index, ``long_usd``, ``short_usd``."""
    from liqtools.data.files import read_time_frame

    return read_time_frame(path, what="realized liquidations")


def cmd_validate(args: argparse.Namespace) -> int:
    from liqtools.analysis.validation import validate

    df = load(args)
    if args.realized:
        realized = read_realized(args.realized)
        source = args.realized
    else:
        from liqtools.data.sample import load_sample_liquidations

        realized = load_sample_liquidations()
        source = "the bundled sample liquidations (Hyperliquid BTC, daily)"
    prof = profile(args)
    half_life: float | str | None = args.half_life
    if half_life is not None:
        try:
            half_life = float(half_life)
        except ValueError:
            pass
    result = validate(df, realized, leverage=prof, split=args.split, half_life=half_life, entry=args.entry)
    if args.format == "csv":
        sys.stdout.write(result.table.to_csv())
        return 0
    print(f"Realized: {source}.")
    print(result.summary())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="predicted vs realized liquidations: rank correlation and R^2 against a baseline")
    p.add_argument("--realized", metavar="FILE", help="realized liquidations (.parquet or .csv: a UTC time index and "
                   "long_usd, short_usd per period); default: the bundled sample liquidations")
    p.add_argument("--data", metavar="FILE", help="market frame (.parquet or .csv); default: the bundled sample")
    p.add_argument("--leverage", metavar="SPEC", help="leverage profile 'L:w,L:w,...' or one leverage (default docs/model.md's)")
    p.add_argument("--mmr", type=number(low=0, high=1), default=0.004, help="maintenance margin rate for every tier (default 0.004)")
    p.add_argument("--split", type=split_arg, default="both", help="both | taker | candle | long share (default both)")
    p.add_argument("--half-life", metavar="T", help="beyond docs/model.md: decay of positions, in candles or a time such as 7D")
    p.add_argument("--entry", choices=("typical", "path"), default="typical", help="beyond docs/model.md: 'path' entries (default typical)")
    p.add_argument("--format", choices=("table", "csv"), default="table", help="output format (default table)")
    p.set_defaults(func=cmd_validate)
