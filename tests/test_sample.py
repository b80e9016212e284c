import numpy as np
import pandas as pd

import liqtools as lt
from liqtools.schema import OHLCV


def test_market_sample_schema():
    df = lt.load_sample()
    assert len(df) == 2112
    assert df.index.tz is not None and str(df.index.tz) == "UTC"
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert (np.diff(df.index.asi8) == 3_600_000_000_000).all()  # hourly, no holes in the candles
    assert list(df.columns) == [*OHLCV, "oi_usd", "funding_rate"]
    assert all(df[c].dtype == np.float64 for c in df.columns)
    assert df[list(OHLCV)].notna().all().all()
    # the only missing open interest is Hyperliquid's gap of 2026-01-19
    gap = df.index[df["oi_usd"].isna()]
    assert len(gap) == 18 and gap.normalize().unique().tolist() == [pd.Timestamp("2026-01-19", tz="UTC")]
    assert df["oi_usd"].min() > 1e9 and df["funding_rate"].notna().all()
    assert lt.validate_market(df).equals(df)
    # every call returns a fresh copy
    df.iloc[0, 0] = -1
    assert lt.load_sample().iloc[0, 0] > 0


def test_liquidations_sample():
    liq = lt.load_sample_liquidations()
    assert len(liq) == 50 and list(liq.columns[:2]) == ["long_usd", "short_usd"]
    assert str(liq.index.tz) == "UTC" and liq.index[0] == pd.Timestamp("2025-12-07", tz="UTC")
    assert (liq[["long_usd", "short_usd"]] >= 0).all().all()
    # the source's total is at least long + short (up to 14% of it is not split by side)
    assert (liq["total_usd"] >= (liq["long_usd"] + liq["short_usd"]) * (1 - 1e-9)).all()


def test_depth_sample():
    depth = lt.load_sample_depth()
    assert list(depth.columns) == ["coin", "venue", "bid_depth_usd", "mid_price"]
    btc = depth[depth["coin"] == "BTC"]
    assert len(btc) == 2 and (btc["bid_depth_usd"] > 1e5).all() and (btc["mid_price"] > 50_000).all()


def test_short_cluster_at_the_end_of_the_sample_overlaps_the_traders_zone():
    # "shorts stacked between $72.5k and $79.5k": computed by the default model, not hard-coded
    view = lt.clusters_at(lt.load_sample())
    shorts = view.clusters[view.clusters["side"] == "short"]
    top = shorts.iloc[0]
    assert top["low"] < 80_000 and top["high"] > 72_500
    assert view.price == lt.load_sample()["close"].iloc[-1]
    assert view.sentences()[0].startswith("Shorts: $") and "above $73,400" in view.sentences()[0]
