"""``liqtools momentum``: the event study around the current clusters (docs/model.md section 7)."""

from __future__ import annotations

import argparse

from liqtools._format import price_text
from liqtools.cli._common import load, model_options, number, table, view, whole
from liqtools.errors import DataError

__all__ = ["register"]


def _horizons(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        out = ()
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"horizons must be comma-separated integers >= 1 such as 1,4,12,24, got {text!r}")
    return out


def cmd_momentum(args: argparse.Namespace) -> int:
    from liqtools.analysis.momentum import event_study

    df = load(args)
    longest = max(args.horizons)
    if longest >= len(df):
        raise DataError(f"--horizons: horizon {longest} candles is longer than the data ({len(df):,} candles)")
    if args.lookback >= len(df):
        raise DataError(f"--lookback {args.lookback} candles is longer than the data ({len(df):,} candles)")
    v = view(args, df)
    if v.clusters.empty:
        print("No clusters at this moment: nothing to study.")
        return 0
    study = event_study(df, v.clusters, horizons=args.horizons, rearm_pct=args.rearm, lookback=args.lookback, map_df=v.map)
    print(f"Bands: the clusters at {v.time:%Y-%m-%d %H:%M} UTC (price {price_text(v.price)}):")
    print(table(v))
    print()
    print(study.summary())
    print("Caveat: the bands are today's estimated clusters; past entries into them are not entries into clusters that "
          "existed then, so read the effects as descriptive.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("momentum", help="event study: returns, speed and volume when price entered the current clusters")
    model_options(p)
    e = p.add_argument_group("event study")
    e.add_argument("--horizons", type=_horizons, default=(1, 4, 12, 24), help="forward horizons in candles (default 1,4,12,24)")
    e.add_argument("--rearm", type=number(low=0), default=1.0, metavar="PCT", help="%% away from a band before a new entry counts (default 1)")
    e.add_argument("--lookback", type=whole(low=1), default=12, help="candles of the entry velocity and volume median (default 12)")
    p.set_defaults(func=cmd_momentum)
