"""Rebuild the bundled sample in liqtools/data/samples/ from ../shared/data/funding-the-fall.

Run from the project root: ``python scripts/make_sample.py [SOURCE_DIR]``. The output is committed;
users and CI never run this.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "funding-the-fall"
OUT = ROOT / "liqtools" / "data" / "samples"


def main() -> None:
    candles = pd.read_parquet(SOURCE / "btc_candles_1h.parquet")
    candles = candles[candles["venue"] == "binance"].set_index("timestamp").sort_index()
    oi = pd.read_parquet(SOURCE / "btc_open_interest_1h.parquet")
    oi = oi[oi["venue"] == "hyperliquid"].set_index("timestamp")["oi_usd"].sort_index()
    funding = pd.read_parquet(SOURCE / "btc_funding.parquet")
    funding = funding[funding["venue"] == "binance"].set_index("timestamp")["funding_rate"].sort_index()

    start, end = oi.index[0], candles.index[-1]
    market = candles.loc[start:end, ["o", "h", "l", "c", "v"]].set_axis(
        ["open", "high", "low", "close", "volume"], axis=1
    )
    market["oi_usd"] = oi.reindex(market.index)  # NaN in Hyperliquid's 18-hour gap of 2026-01-19
    # the last settled Binance funding rate in force at each candle's open (settlements at 00/08/16 UTC)
    settled = funding.groupby(funding.index.floor("h")).last()
    market["funding_rate"] = settled.reindex(settled.index.union(market.index)).ffill().reindex(market.index)
    market.index = market.index.astype("datetime64[ns, UTC]")
    market.index.name = "time"
    market = market.astype("float64")

    liq = pd.read_parquet(SOURCE / "btc_liquidations_1d.parquet").set_index("timestamp").sort_index()
    liq = liq[["long_usd", "short_usd", "total_usd", "liq_count"]].astype("float64")
    liq.index = liq.index.astype("datetime64[ns, UTC]")
    liq.index.name = "date"

    depth = pd.read_parquet(SOURCE / "orderbook_depth.parquet")[["coin", "venue", "bid_depth_usd", "mid_price"]]

    OUT.mkdir(parents=True, exist_ok=True)
    opts = {"compression": "zstd", "compression_level": 19, "index": None}
    market.to_parquet(OUT / "btc_1h.parquet", **opts)
    liq.to_parquet(OUT / "btc_liquidations_1d.parquet", **opts)
    depth.reset_index(drop=True).to_parquet(OUT / "orderbook_depth.parquet", **opts)
    print(f"market {market.shape} {market.index[0]} .. {market.index[-1]}, liquidations {liq.shape}, depth {depth.shape}")


if __name__ == "__main__":
    main()
