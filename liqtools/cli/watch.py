"""``liqtools watch``: watch the levels and the velocity, live from an exchange or replayed from stored candles.

    liqtools watch binanceusdm BTC/USDT:USDT --timeframe 1m --every 60s   # live (network)
    liqtools watch --replay btc --from 2026-01-25 --speed 3600x            # the bundled sample's crash
    liqtools watch --replay candles.parquet --log alerts.jsonl --webhook https://hooks.example/...

One status line per candle (close, speed, volume, the nearest band each side), the alerts as they fire
(also appended to ``--log`` as JSON lines, and posted to ``--webhook``). Model estimates, not positions.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Literal

import pandas as pd

from liqtools.cli._common import parse_time
from liqtools.errors import DataError
from liqtools.watch.monitor import Reading

__all__ = ["register"]


def seconds(text: str) -> float:
    """``60s``, ``5m``, ``1h`` or a plain number of seconds, > 0.

    >>> seconds("60s"), seconds("5m"), seconds("2")
    (60.0, 300.0, 2.0)
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a time like 60s, 5m or 1h, got {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _replay_frame(source: str) -> pd.DataFrame:
    from liqtools.data.sample import load_sample, sample_names

    if source in sample_names():
        return load_sample(source)
    path = Path(source)
    if not path.exists():
        raise DataError(f"--replay {source!r} is neither a bundled sample ({', '.join(sample_names())}) nor a file")
    from liqtools.data.files import read_market

    return read_market(path)


def cmd_watch(args: argparse.Namespace) -> int:
    from liqtools.watch.sinks import AlertLog, Webhook

    sinks = ([AlertLog(args.log)] if args.log else []) + ([Webhook(args.webhook)] if args.webhook else [])

    def show(reading: Reading) -> None:
        if not args.quiet or reading.alert is not None:
            print(reading.status if not args.quiet else f"ALERT {reading.alert}", flush=True)

    if args.replay is not None:
        if args.exchange or args.symbol:
            raise DataError("--replay plays stored candles: give no EXCHANGE SYMBOL with it")
        from liqtools.watch.replay import replay

        df = _replay_frame(args.replay)
        start = parse_time(args.start) if args.start else None
        if start is not None and not df.index[0] < start <= df.index[-1]:
            raise DataError(f"--from {args.start} lies outside the data ({df.index[0]} to {df.index[-1]})")
        mon = replay(df, start=start, speed=args.speed, sinks=sinks, show=show)
        print(f"replayed {mon.readings:,} candles: {len(mon.alerts)} alert(s). {mon.rule.describe()}")
        return 0
    if not (args.exchange and args.symbol):
        raise DataError("give EXCHANGE SYMBOL to watch live (e.g. binanceusdm BTC/USDT:USDT), or --replay FILE|SAMPLE")
    from liqtools.watch.live import watch_live

    cache: str | Literal[False] | None = False if args.no_cache else args.cache_dir
    watch_live(args.exchange, args.symbol, timeframe=args.timeframe, every=args.every, history=args.history,
               polls=args.polls, cache_dir=cache, sinks=sinks, show=show)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="watch the levels and the velocity: live alerts, or a replay of stored candles")
    p.add_argument("exchange", nargs="?", help="ccxt exchange id for a live watch, e.g. binanceusdm")
    p.add_argument("symbol", nargs="?", help="ccxt unified symbol, e.g. BTC/USDT:USDT")
    live = p.add_argument_group("live")
    live.add_argument("--timeframe", default="1m", help="candle length (default 1m)")
    live.add_argument("--every", type=seconds, default=60.0, metavar="TIME", help="time between polls (default 60s)")
    live.add_argument("--history", default="2D", help="how far back the first map reaches (default 2D)")
    live.add_argument("--polls", type=int, metavar="N", help="stop after N polls (default: until Ctrl-C)")
    live.add_argument("--cache-dir", help="cache directory (default $LIQTOOLS_CACHE_DIR or the user cache dir)")
    live.add_argument("--no-cache", action="store_true", help="do not read or write the disk cache")
    rep = p.add_argument_group("replay")
    rep.add_argument("--replay", metavar="FILE|SAMPLE", help="play stored candles (a .parquet/.csv market file, or btc, eth-2024, sol-2024)")
    rep.add_argument("--from", dest="start", metavar="T", help="first candle watched (default: the middle of the data)")
    rep.add_argument("--speed", default="max", help="times real time, e.g. 3600x (an hour a second); default max")
    out = p.add_argument_group("alerts")
    out.add_argument("--log", metavar="FILE", help="append every alert to FILE as a JSON line")
    out.add_argument("--webhook", metavar="URL", help="POST every alert as JSON to this http(s) URL")
    out.add_argument("--quiet", action="store_true", help="print only the alerts")
    p.set_defaults(func=cmd_watch)
