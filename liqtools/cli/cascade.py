"""``liqtools cascade``: the domino chain after a price shock, the tipping point and the up/down asymmetry."""

from __future__ import annotations

import argparse

import pandas as pd

from liqtools._format import CAVEAT, price_text, usd
from liqtools.analysis.moment import ClusterView
from liqtools.cli._common import load, model_options, view
from liqtools.data.depth import Depth

__all__ = ["cascade_depth", "cascade_inputs", "cascade_options", "depth_sentence", "market_of", "register"]


def cascade_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cascade (docs/model.md section 6)")
    g.add_argument("--shock", type=float, default=0.01, help="price shock as a fraction: 0.01 up 1%%, -0.01 down 1%% (default 0.01)")
    g.add_argument(
        "--depth",
        type=float,
        metavar="USD",
        help="USD of market orders that move the price by 1%%, both sides; default the documented figure for --market "
        "(asks for a squeeze, bids for a flush; see docs/model.md section 6)",
    )
    g.add_argument(
        "--market",
        metavar="COIN",
        help="market whose documented depth is the default (BTC, ETH, SOL); default the bundled sample's coin, BTC",
    )
    g.add_argument("--impact", choices=("sqrt", "linear"), default="sqrt", help="impact law (default sqrt, the square-root law)")


def market_of(args: argparse.Namespace) -> str:
    """The market the default depth is taken for: --market, else the chosen bundled sample's coin, else BTC."""
    if getattr(args, "market", None):
        return str(args.market)
    sample = getattr(args, "sample", None)  # a --sample option, where the data options have one
    if sample and not getattr(args, "data", None):
        return str(sample)
    return "BTC"


def cascade_depth(args: argparse.Namespace) -> float | Depth:
    """--depth as given, else the documented depth record of the market in hand."""
    from liqtools.data.depth import market_depth

    return args.depth if args.depth is not None else market_depth(market_of(args))


def depth_sentence(depth: float | Depth, args: argparse.Namespace) -> str:
    """Where the depth came from, in one line."""
    if isinstance(depth, Depth):
        note = "" if getattr(args, "data", None) is None or getattr(args, "market", None) else " (pass --market or --depth for another market)"
        return f"Depth: {depth.describe(full=True).rstrip('.')}{note}."
    return f"Depth {usd(depth)} per 1% (--depth), both sides."


def cascade_inputs(args: argparse.Namespace) -> tuple[pd.DataFrame, ClusterView, float | Depth]:
    df = load(args)
    v = view(args, df)
    return df, v, cascade_depth(args)


def cmd_cascade(args: argparse.Namespace) -> int:
    from liqtools.analysis.cascade import asymmetry, simulate_cascade, tipping_point

    _, v, depth = cascade_inputs(args)
    r = simulate_cascade(v.levels, v.price, args.shock, depth_usd=depth, impact=args.impact)
    print(f"Cascade after {v.time:%Y-%m-%d %H:%M} UTC from {price_text(v.price)}")
    print(r.summary())
    print()
    steps = r.steps
    shown = steps if len(steps) <= 25 else pd.concat([steps.head(20), steps.tail(5)])
    table = pd.DataFrame(
        {
            "step": shown["step"],
            "price": [price_text(x) for x in shown["price"]],
            "liquidated": [usd(x) for x in shown["liquidated_usd"]],
            "cumulative": [usd(x) for x in shown["cumulative_usd"]],
        }
    )
    print(table.to_string(index=False))
    if len(steps) > 25:
        print(f"({len(steps) - 25:,} steps not shown)")
    print(f"\nFinal price {price_text(r.final_price)} ({r.move_pct:+.2f}%), forced flow {usd(r.total_usd)}.")
    if args.target is not None:
        d = tipping_point(v.levels, v.price, args.target, depth_usd=depth, impact=args.impact)
        print(f"Tipping point: a {d:+.3%} shock is the smallest that carries the price to {price_text(args.target)}.")
    size = abs(args.shock) or 0.01
    asym = asymmetry(v.levels, v.price, shocks=sorted({size / 2, size, size * 2}), depth_usd=depth, impact=args.impact)
    print("\nUp vs down for the same shock size (move %, forced flow):")
    for row in asym.itertuples():
        print(
            f"  {row.shock:.2%}: up {row.up_move_pct:+.2f}% ({usd(row.up_forced_usd)}), "
            f"down {row.down_move_pct:+.2f}% ({usd(row.down_forced_usd)})"
        )
    print(f"\n{depth_sentence(depth, args)}")
    print(f"Impact: {args.impact} law. {CAVEAT}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cascade",
        help="simulate the liquidation cascade after a price shock",
        description="The domino chain of forced orders after a price shock, the tipping point to a target and the "
        "up/down asymmetry (docs/model.md section 6): square-root impact and a documented, dated depth by default.",
    )
    model_options(p)
    cascade_options(p)
    p.add_argument("--target", type=float, metavar="PRICE", help="also print the tipping point: the smallest shock that reaches this price")
    p.set_defaults(func=cmd_cascade)
