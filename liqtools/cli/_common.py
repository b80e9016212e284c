"""What every command shares: the data and model options, loading the market, the cluster view and table."""

from __future__ import annotations

import argparse

import pandas as pd

from liqtools._format import price_text, usd
from liqtools.analysis.moment import ClusterView, clusters_at
from liqtools.analysis.profile import LeverageProfile

__all__ = ["load", "model_options", "profile", "split_arg", "table", "view"]


def split_arg(text: str) -> str | float:
    if text in ("both", "taker", "candle"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"split must be both, taker, candle or a number in [0, 1], got {text!r}") from None


def model_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data and model")
    g.add_argument("--data", metavar="FILE", help="market frame (.parquet or .csv); default: the bundled sample")
    g.add_argument("--time", metavar="T", help="read the map after this candle (e.g. 2026-02-01T12:00); default: the last")
    g.add_argument(
        "--leverage",
        metavar="SPEC",
        help="leverage profile 'L:w,L:w,...' or one leverage; default 5:0.1,10:0.25,25:0.3,50:0.2,100:0.15",
    )
    g.add_argument("--mmr", type=float, default=0.004, help="maintenance margin rate for every tier (default 0.004)")
    g.add_argument("--split", type=split_arg, default="both", help="both | taker | candle | long share in [0, 1] (default both)")
    g.add_argument("--bin-size", type=float, metavar="USD", help="price bin width; default about 0.25%% of the price")
    c = parser.add_argument_group("clusters")
    c.add_argument("--threshold", type=float, default=1.0, help="density multiple of the side's mean bin (default 1.0)")
    c.add_argument("--gap", type=int, default=1, help="thin bins tolerated inside a cluster (default 1)")
    c.add_argument("--max-distance", type=float, default=25.0, metavar="PCT", help="only bins within this %% of the price (default 25)")
    c.add_argument("--top", type=int, default=5, help="clusters per side (default 5)")


def load(args: argparse.Namespace) -> pd.DataFrame:
    if args.data:
        from liqtools.data.files import read_market

        return read_market(args.data)
    from liqtools.data.sample import load_sample

    return load_sample()


def profile(args: argparse.Namespace) -> LeverageProfile | None:
    """The --leverage / --mmr options as a profile (None: MODEL.md's default)."""
    if args.leverage:
        return LeverageProfile.parse(args.leverage, args.mmr)
    if args.mmr != 0.004:
        return LeverageProfile(LeverageProfile.default().weights, args.mmr)
    return None


def view(args: argparse.Namespace, df: pd.DataFrame) -> ClusterView:
    prof = profile(args)
    return clusters_at(
        df,
        args.time,
        leverage=prof,
        split=args.split,
        bin_size=args.bin_size,
        cluster_options={"threshold": args.threshold, "gap": args.gap, "max_distance_pct": args.max_distance, "top": args.top},
    )


def table(view: ClusterView) -> str:
    c = view.clusters
    if c.empty:
        return "(no clusters)"
    shown = pd.DataFrame(
        {
            "side": c["side"],
            "from": [price_text(x) for x in c["low"]],
            "to": [price_text(x) for x in c["high"]],
            "notional (est.)": [usd(x) for x in c["notional_usd"]],
            "distance": [f"{x:+.2f}%" for x in c["distance_pct"]],
            "share of side": [f"{x:.0%}" for x in c["share"]],
        }
    )
    return shown.to_string(index=False)
