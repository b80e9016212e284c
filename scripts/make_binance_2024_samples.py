"""Rebuild the ETH and SOL 2024 samples in liqtools/data/samples/ from ../shared/data/binance-2024-summer.

Run from the project root: ``python scripts/make_binance_2024_samples.py [SOURCE_DIR]``. The output is
committed; users and CI never run this.

The source CSVs (MIT, ``denizyts/Coinalyze-Backtester``, folder ``src/csvFolder/``, commit b980ee94) have
no header row and give every quantity in the base coin. The export repeats some hours; a repeated hour is
dropped only when its rows are identical (anything else stops the build), and each file's count of
dropped rows and of hours missing from its span is printed. Missing hours stay absent: no candle,
open interest or liquidation is invented. Outputs, per market (``eth_2024``, ``sol_2024``):

* ``<market>_1h.parquet``: the market frame. ``open, high, low, close`` (USDT), ``volume`` and
  ``taker_buy_volume`` in the coin (like the BTC sample), ``oi_usd`` = the hour's closing open interest
  (coin) times its close, then ``long_short_ratio`` (long / short accounts; NaN where the source skips the
  hour), ``trades`` and ``taker_buy_trades`` (counts). Rows: the hours that have a candle.
* ``<market>_liquidations_1h.parquet``: ``long_usd, short_usd``, realized liquidations (coin) times the
  hour's close, for the hours the liquidation file has.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "binance-2024-summer"
OUT = ROOT / "liqtools" / "data" / "samples"
MARKETS = {"eth_2024": "ETHUSDT", "sol_2024": "SOLUSDT"}
FILES = {
    "ohlcv": ["open", "high", "low", "close", "volume", "taker_buy_volume", "trades", "taker_buy_trades"],
    "open-interest": ["oi_open", "oi_high", "oi_low", "oi_close"],
    "liquidation": ["liquidated_long", "liquidated_short"],
    "long-short-ratio": ["long_short_ratio", "long_pct", "short_pct"],
}


def read_hourly(path: Path, columns: list[str]) -> pd.DataFrame:
    """One headerless CSV as a float64 frame on a UTC hour index, identical repeated rows dropped."""
    raw = pd.read_csv(path, header=None, names=["time", *columns])
    raw["time"] = pd.to_datetime(raw["time"], format="%Y-%m-%d %H:%M:%S").dt.tz_localize("UTC")
    repeated = raw[raw["time"].duplicated(keep=False)]
    conflicting = repeated.groupby("time").filter(lambda g: len(g.drop_duplicates()) > 1)
    if not conflicting.empty:
        raise SystemExit(f"{path.name}: repeated hour with different values:\n{conflicting}")
    frame = raw.drop_duplicates().set_index("time").sort_index().astype("float64")
    if frame.index.has_duplicates or (frame.index != frame.index.floor("h")).any():
        raise SystemExit(f"{path.name}: times are not unique hour starts")
    span = pd.date_range(frame.index[0], frame.index[-1], freq="h")
    missing = span.difference(frame.index)
    shown = ", ".join(str(t)[:16] for t in missing[:4]) + (", ..." if len(missing) > 4 else "")
    print(f"{path.name}: {len(raw)} rows, {len(raw) - len(frame)} identical repeats dropped, "
          f"{len(missing)} hours missing{' (' + shown + ')' if len(missing) else ''}, {len(frame)} hours kept")
    return frame


def build(symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The market frame and the hourly realized liquidations (USD) of one symbol."""
    part = {kind: read_hourly(SOURCE / f"{symbol}_{kind}-history_1h.csv", cols) for kind, cols in FILES.items()}
    candles = part["ohlcv"]
    close = candles["close"]
    market = candles[["open", "high", "low", "close", "volume", "taker_buy_volume"]].copy()
    market["oi_usd"] = part["open-interest"]["oi_close"].reindex(market.index) * close
    market["long_short_ratio"] = part["long-short-ratio"]["long_short_ratio"].reindex(market.index)
    market[["trades", "taker_buy_trades"]] = candles[["trades", "taker_buy_trades"]]
    market.index = market.index.astype("datetime64[ns, UTC]")
    market.index.name = "time"

    liq = part["liquidation"]
    without_candle = liq.index.difference(candles.index)
    if len(without_candle):
        raise SystemExit(f"{symbol}: liquidation hours without a candle (no close to price them): {list(without_candle)}")
    usd = liq.mul(close.reindex(liq.index), axis=0)
    usd.columns = ["long_usd", "short_usd"]
    usd.index = usd.index.astype("datetime64[ns, UTC]")
    return market.astype("float64"), usd.astype("float64")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    opts = {"compression": "zstd", "compression_level": 19, "index": None}
    for name, symbol in MARKETS.items():
        market, liq = build(symbol)
        market.to_parquet(OUT / f"{name}_1h.parquet", **opts)
        liq.to_parquet(OUT / f"{name}_liquidations_1h.parquet", **opts)
        print(f"{name}: market {market.shape} {market.index[0]} .. {market.index[-1]}, "
              f"liquidations {liq.shape}, oi_usd NaN {int(market['oi_usd'].isna().sum())}, "
              f"long_short_ratio NaN {int(market['long_short_ratio'].isna().sum())}\n")


if __name__ == "__main__":
    main()
