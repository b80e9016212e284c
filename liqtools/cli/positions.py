"""``liqtools positions``: the open positions of a list of accounts (Hyperliquid) to a parquet file."""

from __future__ import annotations

import argparse

from liqtools.cli._common import output_path, whole
from liqtools.errors import DataError

__all__ = ["register"]


def cmd_positions(args: argparse.Namespace) -> int:
    from liqtools.data.exchange import positions as positions_mod
    from liqtools.data.exchange.positions import fetch_positions

    output = output_path(args.output, force=args.force)  # before any query: a regular file, its folder exists
    cache: str | bool | None = False if args.no_cache else args.cache_dir
    users = args.users
    if args.leaderboard is not None:
        from liqtools.data.exchange.leaderboard import hyperliquid_leaderboard

        if args.exchange != "hyperliquid":
            raise DataError(
                f"--leaderboard reads Hyperliquid's leaderboard; {args.exchange!r} has none: use --users FILE"
            )
        ex = positions_mod._instance(args.exchange, not args.no_rate_limit)
        users = hyperliquid_leaderboard(args.leaderboard, exchange=ex, cache_dir=cache)["user"].tolist()
        if not users:
            raise DataError("the leaderboard lists no account")
    df = fetch_positions(
        args.exchange,
        users,
        symbol=args.symbol,
        cache_dir=cache,
        progress=not args.no_progress,
        rate_limit=not args.no_rate_limit,
    )
    from liqtools._io import atomic_write

    atomic_write(output, (lambda fh: df.to_csv(fh, index=False)) if output.suffix.lower() == ".csv" else (lambda fh: df.to_parquet(fh, index=False)))
    missing = df.attrs.get("no_liquidation_price", 0)
    print(
        f"wrote {output}: {len(df)} positions in {args.symbol} of {df.attrs.get('accounts', 0)} accounts, "
        f"{missing} without a liquidation price (well-funded cross margin)"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "positions",
        help="download the open positions of a list of accounts (Hyperliquid) to a parquet file",
        description="One clearinghouseState query per account through ccxt (rate-limited: about 10 accounts a "
        "second on Hyperliquid); each answer is cached at once, so an interrupted sweep resumes where it stopped.",
    )
    p.add_argument("exchange", help="ccxt exchange id: hyperliquid")
    p.add_argument("symbol", help="ccxt unified symbol, e.g. BTC/USDC:USDC")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", metavar="FILE", help="text file, one 0x account address a line (# comments)")
    who.add_argument(
        "--leaderboard",
        type=whole(low=1),
        metavar="N",
        help="the N largest accounts of Hyperliquid's public leaderboard (by account value; cached a day)",
    )
    p.add_argument("-o", "--output", required=True, help="parquet file to write")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.add_argument("--cache-dir", help="cache directory (default $LIQTOOLS_CACHE_DIR or the user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the disk cache")
    p.add_argument("--no-rate-limit", action="store_true", help="turn ccxt's rate limiter off (replays only)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_positions)
