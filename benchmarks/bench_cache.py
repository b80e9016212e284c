"""Cache speed (issue 5): one year of 1-minute candles through the converter and the disk cache.

    python benchmarks/bench_cache.py            # 525,600 candles (one year), best of 3
    python benchmarks/bench_cache.py --quick    # one month, for a smoke run
    python benchmarks/bench_cache.py --flush-seconds 0   # persist every page (526 files) instead of each second

The exchange is a stand-in answering ``fetch_ohlcv`` from memory with ccxt's unified rows
(``[ts, open, high, low, close, volume]``, 1,000 a page as on Binance), so what is timed is liqtools'
own work: 526 pages converted, persisted as they arrive (part files, atomic writes with fsync),
compacted into one file, and the market frame built and validated. "Read back" is the second, identical
call: the cache answers it without any request. Targets: write under 2 s, read under 0.3 s. "Page checks"
is the part of the write spent checking pages before they are cached (issue 12: values, timestamps, the
window, and the candle grid), timed alone over the same pages.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import liqtools.data.exchange as ex_mod
from liqtools.data.cache import SeriesCache
from liqtools.data.exchange import fetch_market_data
from liqtools.data.exchange.convert import _page_array
from liqtools.data.exchange.pages import Ask, check_page, missing_slots

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MIN = 60_000


class MemoryExchange:
    """Just enough of a ccxt Exchange for fetch_market_data: markets loaded, fetch_ohlcv from memory."""

    id = "binanceusdm"
    has: ClassVar[dict] = {"fetchOHLCV": True}
    features: ClassVar[dict] = {}

    def __init__(self, rows: list[list[float]]):
        self.rows = rows
        self.markets = {"BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "contractSize": 1.0, "linear": True}}
        self.calls = 0

    def market(self, symbol):
        return self.markets[symbol]

    def fetch_ohlcv(self, symbol, timeframe, since, limit, params):
        self.calls += 1
        i = (since - T0) // MIN
        j = min((params["until"] - T0) // MIN + 1, i + limit)
        return self.rows[max(i, 0) : max(j, 0)]


def ccxt_rows(n: int, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    close = np.round(60_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n))), 1)
    open_ = np.concatenate([[60_000.0], close[:-1]])
    high = np.round(np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.0005, n))), 1)
    low = np.round(np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.0005, n))), 1)
    vol = np.round(rng.uniform(1, 50, n), 3)
    ts = T0 + MIN * np.arange(n)
    return [[int(t), float(o), float(h), float(lo), float(c), float(v)] for t, o, h, lo, c, v in zip(ts, open_, high, low, close, vol, strict=True)]


def run(n: int, repeat: int) -> dict[str, float]:
    rows = ccxt_rows(n)
    ex_mod._now_ms = lambda: T0 + (n + 10) * MIN  # every candle is closed
    best_write = best_read = best_raw = float("inf")
    for _ in range(repeat):
        root = Path(tempfile.mkdtemp(prefix="liqtools-bench-"))
        try:
            ex = MemoryExchange(rows)
            t = time.perf_counter()
            df = fetch_market_data(ex, "BTC/USDT:USDT", "1m", start=T0, end=T0 + n * MIN, include=("ohlcv",),
                                   cache_dir=root, progress=False)
            best_write = min(best_write, time.perf_counter() - t)
            pages = ex.calls
            assert len(df) == n, len(df)
            t = time.perf_counter()
            again = fetch_market_data(ex, "BTC/USDT:USDT", "1m", start=T0, end=T0 + n * MIN, include=("ohlcv",),
                                      cache_dir=root, progress=False)
            best_read = min(best_read, time.perf_counter() - t)
            assert ex.calls == pages and again.equals(df)
            t = time.perf_counter()
            SeriesCache(root, "binanceusdm", "BTC/USDT:USDT", "1m", "ohlcv").read()
            best_raw = min(best_raw, time.perf_counter() - t)
            size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    ask = Ask("binanceusdm", "fetchOHLCV", "BTC/USDT:USDT", "ohlcv", "1m", MIN, 1000)
    best_convert = best_checks = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for i in range(0, n, 1000):
            _page_array("ohlcv", rows[i : i + 1000])
        best_convert = min(best_convert, time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(0, n, 1000):
            a = T0 + i * MIN
            b = a + 1000 * MIN - 1
            arr, _sig = check_page(ask, a, b, rows[i : i + 1000], None, None)
            missing_slots(arr[:, 0].astype(np.int64), a, b, MIN)
        best_checks = min(best_checks, time.perf_counter() - t)
    return {"rows": n, "pages": pages, "write_s": best_write, "read_s": best_read, "raw_read_s": best_raw, "mb": size / 1e6,
            "checks_s": best_checks - best_convert}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one month instead of one year")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flush-seconds", type=float, default=ex_mod.FLUSH_SECONDS,
                        help="seconds between cache writes while downloading (0: every page; default %(default)s)")
    args = parser.parse_args()
    default_flush = ex_mod.FLUSH_SECONDS
    ex_mod.FLUSH_SECONDS = args.flush_seconds
    n = 43_200 if args.quick else 525_600
    r = run(n, args.repeat)
    print(f"{r['rows']:,} one-minute candles, {r['pages']} pages of 1,000, cache file {r['mb']:.1f} MB "
          f"(best of {args.repeat}; pages persisted every {args.flush_seconds:g} s)")
    print(f"  convert + cache (fetch_market_data, cold cache): {r['write_s']:.3f} s   (target < 2 s)")
    print(f"  read back      (fetch_market_data, warm cache):  {r['read_s']:.3f} s   (target < 0.3 s)")
    print(f"  of which the parquet read (SeriesCache.read):    {r['raw_read_s']:.3f} s")
    print(f"  page checks beyond converting rows (and grid):   {r['checks_s']:.3f} s   (part of the write)")
    ok = r["write_s"] < 2.0 and r["read_s"] < 0.3
    if not args.quick and args.flush_seconds == default_flush and not ok:
        sys.exit("slower than the targets")


if __name__ == "__main__":
    main()
