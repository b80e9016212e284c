"""Position sweep speed (issue 11): ``liqtools positions`` over 1,000 recorded accounts, offline, limiter off.

    python benchmarks/bench_positions_sweep.py              # 1,000 accounts, best of 3 (target < 10 s)
    python benchmarks/bench_positions_sweep.py --accounts 5000 --repeat 1

The accounts are the recorded ``clearinghouseState`` answers of tests/fixtures/exchanges/hyperliquid_positions.json
repeated under 1,000 new addresses; ccxt's own request building and parsing run for real, only its HTTP
``fetch`` is replaced (tests/exchange_replay.py), and the rate limiter is off (``--no-rate-limit``): over
the network ccxt's limiter spaces the queries 100 ms apart (Hyperliquid's 1,200 weight a minute, 2 a query),
so the same sweep takes about 100 s live. What is timed is the whole command in-process: reading the users
file, one query per account through the retry loop, each account saved atomically (with fsync) as it
arrives, the frame and the parquet file. "Rerun" is the same command with every account cached (no query).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from exchange_replay import FIXTURES, HyperliquidInfo

import liqtools.data.exchange.positions as positions_mod
from liqtools.cli import main as cli


def run(n: int) -> tuple[float, float, int, int, str]:
    fixture = json.loads((FIXTURES / "hyperliquid_positions.json").read_text())
    shapes = list(fixture["accounts"].values())
    accounts = {f"0x{i:040x}": shapes[i % len(shapes)] for i in range(n)}
    info = HyperliquidInfo(accounts)
    positions_mod._instance = lambda exchange, rate_limit: info.ex(fixture["markets"])  # type: ignore[assignment]
    folder = Path(tempfile.mkdtemp(prefix="liqtools-bench-positions-"))
    try:
        users = folder / "users.txt"
        users.write_text("# generated addresses\n" + "\n".join(accounts) + "\n")
        out = folder / "btc.parquet"
        argv = [
            "positions",
            "hyperliquid",
            "BTC/USDC:USDC",
            "--users",
            str(users),
            "-o",
            str(out),
            "--cache-dir",
            str(folder / "cache"),
            "--no-rate-limit",
            "--no-progress",
            "--force",
        ]
        with contextlib.redirect_stdout(io.StringIO()):  # the command's own "wrote ..." line
            t = time.perf_counter()
            status = cli(argv)
            cold = time.perf_counter() - t
            queries = len(info.asked)
            t = time.perf_counter()
            status |= cli(argv)
            warm = time.perf_counter() - t
        if status != 0 or len(info.asked) != queries or queries != n:
            sys.exit(
                f"sweep failed: status {status}, {queries} queries for {n} accounts, {len(info.asked) - queries} on the rerun"
            )
        command = "liqtools " + " ".join(a if " " not in a else repr(a) for a in argv)
        return cold, warm, queries, len(__import__("pandas").read_parquet(out)), command
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = [run(args.accounts) for _ in range(args.repeat)]
    cold = min(r[0] for r in results)
    warm = min(r[1] for r in results)
    _, _, queries, rows, command = results[0]
    print(f"command: {command}")
    print(
        f"{queries:,} accounts queried (offline replay, limiter off), {rows:,} BTC positions written (best of {args.repeat})"
    )
    print(f"  sweep (cold cache): {cold:.2f} s   (target < 10 s for 1,000 accounts)")
    print(f"  rerun (all cached): {warm:.2f} s")
    if args.accounts <= 1000 and cold >= 10.0:
        sys.exit("slower than the target")


if __name__ == "__main__":
    main()
