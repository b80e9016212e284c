"""``liqtools`` command line: the same functions as the Python API, for headless use.

    liqtools clusters                    # clusters at the end of the bundled sample
    liqtools clusters --format json      # machine-readable
    liqtools report -o report.html       # standalone HTML page (opens offline)
    liqtools momentum                    # event study around the current clusters of the sample
    liqtools validate                    # predicted vs realized liquidations (bundled sample)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import pandas as pd

from liqtools._format import CAVEAT, price_text, usd
from liqtools.analysis.moment import ClusterView, clusters_at
from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import LiqtoolsError

__all__ = ["main"]


def _split(text: str) -> str | float:
    if text in ("both", "taker", "candle"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"split must be both, taker, candle or a number in [0, 1], got {text!r}") from None


def _model_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data and model")
    g.add_argument("--data", metavar="FILE", help="market frame (.parquet or .csv); default: the bundled sample")
    g.add_argument("--time", metavar="T", help="read the map after this candle (e.g. 2026-02-01T12:00); default: the last")
    g.add_argument(
        "--leverage",
        metavar="SPEC",
        help="leverage profile 'L:w,L:w,...' or one leverage; default 5:0.1,10:0.25,25:0.3,50:0.2,100:0.15",
    )
    g.add_argument("--mmr", type=float, default=0.004, help="maintenance margin rate for every tier (default 0.004)")
    g.add_argument("--split", type=_split, default="both", help="both | taker | candle | long share in [0, 1] (default both)")
    g.add_argument("--bin-size", type=float, metavar="USD", help="price bin width; default about 0.25%% of the price")
    c = parser.add_argument_group("clusters")
    c.add_argument("--threshold", type=float, default=1.0, help="density multiple of the side's mean bin (default 1.0)")
    c.add_argument("--gap", type=int, default=1, help="thin bins tolerated inside a cluster (default 1)")
    c.add_argument("--max-distance", type=float, default=25.0, metavar="PCT", help="only bins within this %% of the price (default 25)")
    c.add_argument("--top", type=int, default=5, help="clusters per side (default 5)")


def _cascade_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("cascade")
    g.add_argument("--shock", type=float, default=0.01, help="price shock as a fraction: 0.01 up 1%%, -0.01 down 1%% (default 0.01)")
    g.add_argument("--depth", type=float, metavar="USD", help="USD of market orders that move the price by 1%%; default the bundled depth snapshot")
    g.add_argument("--impact", choices=("linear", "sqrt"), default="linear", help="impact law (default linear, MODEL.md)")


def _load(args: argparse.Namespace) -> pd.DataFrame:
    if args.data:
        from liqtools.data.files import read_market

        return read_market(args.data)
    from liqtools.data.sample import load_sample

    return load_sample()


def _profile(args: argparse.Namespace) -> LeverageProfile | None:
    """The --leverage / --mmr options as a profile (None: MODEL.md's default)."""
    if args.leverage:
        return LeverageProfile.parse(args.leverage, args.mmr)
    if args.mmr != 0.004:
        return LeverageProfile(LeverageProfile.default().weights, args.mmr)
    return None


def _view(args: argparse.Namespace, df: pd.DataFrame) -> ClusterView:
    profile = _profile(args)
    return clusters_at(
        df,
        args.time,
        leverage=profile,
        split=args.split,
        bin_size=args.bin_size,
        cluster_options={"threshold": args.threshold, "gap": args.gap, "max_distance_pct": args.max_distance, "top": args.top},
    )


def _table(view: ClusterView) -> str:
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


def cmd_clusters(args: argparse.Namespace) -> int:
    df = _load(args)
    view = _view(args, df)
    if args.format == "json":
        payload = {
            "time": view.time.isoformat(),
            "price": view.price,
            "model": {"leverage": repr(view.heatmap.profile), "split": view.heatmap.split, "bin_size": view.heatmap.bin_size},
            "clusters": view.clusters.to_dict("records"),
            "sentences": view.sentences(),
            "note": CAVEAT,
        }
        print(json.dumps(payload, indent=2))
    elif args.format == "csv":
        sys.stdout.write(view.clusters.to_csv(index=False))
    else:
        print(view.summary().splitlines()[0])
        print()
        print(_table(view))
        print()
        print("\n".join(view.sentences()))
        print()
        print(f"Model: {view.heatmap.profile!r}, split {view.heatmap.split}, bins of ${view.heatmap.bin_size:,.6g}.")
        print(CAVEAT)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from liqtools.plotting.report import write_report

    df = _load(args)
    view = _view(args, df)
    path = write_report(args.output, view, df, inline=not args.cdn, depth_usd=args.depth, shock=args.shock, impact=args.impact)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print("\n".join(view.sentences()))
    return 0


def _cascade_inputs(args: argparse.Namespace) -> tuple[pd.DataFrame, ClusterView, float]:
    from liqtools.data.sample import sample_depth_usd

    df = _load(args)
    view = _view(args, df)
    depth = args.depth if args.depth is not None else sample_depth_usd()
    return df, view, depth


def cmd_cascade(args: argparse.Namespace) -> int:
    from liqtools.analysis.cascade import asymmetry, simulate_cascade, tipping_point

    _, view, depth = _cascade_inputs(args)
    r = simulate_cascade(view.levels, view.price, args.shock, depth_usd=depth, impact=args.impact)
    print(f"Cascade after {view.time:%Y-%m-%d %H:%M} UTC from {price_text(view.price)}")
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
        d = tipping_point(view.levels, view.price, args.target, depth_usd=depth, impact=args.impact)
        print(f"Tipping point: a {d:+.3%} shock is the smallest that carries the price to {price_text(args.target)}.")
    size = abs(args.shock) or 0.01
    asym = asymmetry(view.levels, view.price, shocks=sorted({size / 2, size, size * 2}), depth_usd=depth, impact=args.impact)
    print("\nUp vs down for the same shock size (move %, forced flow):")
    for row in asym.itertuples():
        print(
            f"  {row.shock:.2%}: up {row.up_move_pct:+.2f}% ({usd(row.up_forced_usd)}), "
            f"down {row.down_move_pct:+.2f}% ({usd(row.down_forced_usd)})"
        )
    print(f"\nDepth {usd(depth)} per 1% ({'--depth' if args.depth is not None else 'the bundled depth snapshot'}); {CAVEAT}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from liqtools.data.exchange import fetch_market_data

    cache: str | bool | None = False if args.no_cache else args.cache_dir
    df = fetch_market_data(
        args.exchange,
        args.symbol,
        args.timeframe,
        start=args.start,
        end=args.end,
        cache_dir=cache,
        progress=not args.no_progress,
        include=tuple(args.include.split(",")),
        source=args.source,
    )
    df.to_parquet(args.output)
    span = f"{df.index[0]:%Y-%m-%d %H:%M} to {df.index[-1]:%Y-%m-%d %H:%M} UTC"
    print(f"wrote {args.output}: {len(df)} candles, {span}, columns {', '.join(df.columns)}")
    return 0


def _fetch_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch", help="download candles, open interest, funding and mark price to a parquet file")
    p.add_argument("exchange", help="ccxt exchange id, e.g. binanceusdm, bybit, okx")
    p.add_argument("symbol", help="ccxt unified symbol, e.g. BTC/USDT:USDT")
    p.add_argument("--timeframe", default="1h", help="candle length (default 1h)")
    p.add_argument("--start", required=True, help="first candle, e.g. 2024-01-01 (UTC)")
    p.add_argument("--end", help="end (exclusive), default now")
    p.add_argument("-o", "--output", required=True, help="parquet file to write (read it back with --data FILE)")
    p.add_argument("--include", default="ohlcv,open_interest,funding,mark", help="series, comma-separated")
    p.add_argument("--source", choices=("rest", "auto", "archive"), default="rest",
                   help="rest | auto (Binance open interest older than 30 days from the archive) | archive")
    p.add_argument("--cache-dir", help="cache directory (default $LIQTOOLS_CACHE_DIR or the user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the disk cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fetch)


def _horizons(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"horizons must be comma-separated integers such as 1,4,12,24, got {text!r}") from None


def cmd_momentum(args: argparse.Namespace) -> int:
    from liqtools.analysis.momentum import event_study

    df = _load(args)
    view = _view(args, df)
    if view.clusters.empty:
        print("No clusters at this moment: nothing to study.")
        return 0
    study = event_study(df, view.clusters, horizons=args.horizons, rearm_pct=args.rearm, lookback=args.lookback, map_df=view.map)
    print(f"Bands: the clusters at {view.time:%Y-%m-%d %H:%M} UTC (price {price_text(view.price)}):")
    print(_table(view))
    print()
    print(study.summary())
    print("Caveat: the bands are today's estimated clusters; past entries into them are not entries into clusters that "
          "existed then, so read the effects as descriptive.")
    return 0


def _momentum_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("momentum", help="event study: returns, speed and volume when price entered the current clusters")
    _model_options(p)
    e = p.add_argument_group("event study")
    e.add_argument("--horizons", type=_horizons, default=(1, 4, 12, 24), help="forward horizons in candles (default 1,4,12,24)")
    e.add_argument("--rearm", type=float, default=1.0, metavar="PCT", help="%% away from a band before a new entry counts (default 1)")
    e.add_argument("--lookback", type=int, default=12, help="candles of the entry velocity and volume median (default 12)")
    p.set_defaults(func=cmd_momentum)


def _read_realized(path: str) -> pd.DataFrame:
    from pathlib import Path

    from liqtools.errors import DataError

    file = Path(path)
    if not file.is_file():
        raise DataError(f"realized liquidations file {path} does not exist")
    try:
        if file.suffix.lower() == ".csv":
            out = pd.read_csv(file, index_col=0)
            out.index = pd.to_datetime(out.index, utc=True)
        else:
            out = pd.read_parquet(file)
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"cannot read realized liquidations from {path}: {exc}") from exc
    if isinstance(out.index, pd.DatetimeIndex) and out.index.tz is None:
        out.index = out.index.tz_localize("UTC")
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    from liqtools.analysis.validation import validate

    df = _load(args)
    if args.realized:
        realized = _read_realized(args.realized)
        source = args.realized
    else:
        from liqtools.data.sample import load_sample_liquidations

        realized = load_sample_liquidations()
        source = "the bundled sample liquidations (Hyperliquid BTC, daily)"
    profile = _profile(args)
    half_life: float | str | None = args.half_life
    if half_life is not None:
        try:
            half_life = float(half_life)
        except ValueError:
            pass
    result = validate(df, realized, leverage=profile, split=args.split, half_life=half_life, entry=args.entry)
    if args.format == "csv":
        sys.stdout.write(result.table.to_csv())
        return 0
    print(f"Realized: {source}.")
    print(result.summary())
    return 0


def _validate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="predicted vs realized liquidations: rank correlation and R^2 against a baseline")
    p.add_argument("--realized", metavar="FILE", help="realized liquidations (.parquet or .csv: a UTC time index and "
                   "long_usd, short_usd per period); default: the bundled sample liquidations")
    p.add_argument("--data", metavar="FILE", help="market frame (.parquet or .csv); default: the bundled sample")
    p.add_argument("--leverage", metavar="SPEC", help="leverage profile 'L:w,L:w,...' or one leverage (default MODEL.md's)")
    p.add_argument("--mmr", type=float, default=0.004, help="maintenance margin rate for every tier (default 0.004)")
    p.add_argument("--split", type=_split, default="both", help="both | taker | candle | long share (default both)")
    p.add_argument("--half-life", metavar="T", help="beyond MODEL.md: decay of positions, in candles or a time such as 7D")
    p.add_argument("--entry", choices=("typical", "path"), default="typical", help="beyond MODEL.md: 'path' entries (default typical)")
    p.add_argument("--format", choices=("table", "csv"), default="table", help="output format (default table)")
    p.set_defaults(func=cmd_validate)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from liqtools.app import serve_dashboard

    return serve_dashboard(args.port, open_browser=args.open)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqtools",
        description="See and measure leverage liquidations: estimated liquidation clusters from candles and open interest.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("clusters", help="liquidation clusters at a moment, as a table and sentences")
    _model_options(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format (default table)")
    p.set_defaults(func=cmd_clusters)
    p = sub.add_parser("report", help="standalone HTML report: heatmap, map and clusters")
    _model_options(p)
    p.add_argument("-o", "--output", default="liqtools-report.html", help="HTML file to write (default liqtools-report.html)")
    p.add_argument("--cdn", action="store_true", help="load BokehJS from the CDN instead of embedding it (smaller file, needs internet)")
    _cascade_options(p)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("cascade", help="simulate the liquidation cascade after a price shock")
    _model_options(p)
    _cascade_options(p)
    p.add_argument("--target", type=float, metavar="PRICE", help="also print the tipping point: the smallest shock that reaches this price")
    p.set_defaults(func=cmd_cascade)
    p = sub.add_parser("dashboard", help="serve the interactive dashboard (Voila) on 127.0.0.1 on the bundled sample")
    p.add_argument("--port", type=int, help="port (default: a free one)")
    p.add_argument("--open", action="store_true", help="open it in the default web browser")
    p.set_defaults(func=cmd_dashboard)
    _fetch_parser(sub)
    _momentum_parser(sub)
    _validate_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except LiqtoolsError as exc:
        print(f"liqtools: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `liqtools clusters | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
