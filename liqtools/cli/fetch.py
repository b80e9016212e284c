"""``liqtools fetch``: candles, open interest, funding and mark price from an exchange (ccxt) to a parquet file."""

from __future__ import annotations

import argparse

from liqtools.cli._common import output_path

__all__ = ["register"]


def cmd_fetch(args: argparse.Namespace) -> int:
    from liqtools.data.exchange import fetch_market_data

    output = output_path(args.output, force=True)  # a regular file in an existing folder, before the download
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
    df.to_parquet(output)
    span = f"{df.index[0]:%Y-%m-%d %H:%M} to {df.index[-1]:%Y-%m-%d %H:%M} UTC"
    print(f"wrote {output}: {len(df)} candles, {span}, columns {', '.join(df.columns)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
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
