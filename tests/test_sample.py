from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import liqtools as lt
from liqtools.schema import LONG_SHORT_RATIO, OHLCV


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
    # the validated frame and the caller's are independent: writing to one leaves the other as it was
    checked = lt.validate_market(df)
    checked.iloc[0, 0] = -2.0
    checked["close"] *= 2.0
    assert df.iloc[0, 0] > 0 and df["close"].iloc[1] * 2.0 == checked["close"].iloc[1]
    # unless asked not to copy: then its float64 columns are the caller's own
    assert np.shares_memory(lt.validate_market(df, copy=False)["close"].to_numpy(), df["close"].to_numpy())
    assert not np.shares_memory(lt.validate_market(df)["close"].to_numpy(), df["close"].to_numpy())
    df.iloc[1, 0] = -3.0
    assert checked.iloc[1, 0] > 0
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


# --- the named samples: btc (default), eth-2024, sol-2024 (Binance 2024, MIT) ---

HOUR = 3_600_000_000_000
RAW_2024 = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance-2024-summer"
# name -> (candle hours, liquidation hours, long_short_ratio NaN hours)
COUNTS_2024 = {"eth-2024": (1465, 1433, 2), "sol-2024": (1463, 1443, 2)}


def test_sample_names_lists_every_sample_with_a_description():
    names = lt.sample_names()
    assert list(names) == ["btc", "eth-2024", "sol-2024"]
    assert all(isinstance(d, str) and 20 < len(d) < 200 and "\n" not in d for d in names.values())


def test_default_is_still_the_btc_sample():
    assert lt.load_sample().equals(lt.load_sample("btc"))
    assert lt.load_sample_liquidations().equals(lt.load_sample_liquidations("btc"))


@pytest.mark.parametrize("name", ["btc", "eth-2024", "sol-2024"])
def test_every_sample_is_a_valid_market_frame(name):
    df = lt.load_sample(name)
    assert str(df.index.tz) == "UTC" and df.index.is_monotonic_increasing and df.index.is_unique
    assert lt.validate_market(df, require=("oi_usd",)).equals(df)
    assert all(df[c].dtype == np.float64 for c in df.columns)
    df.iloc[0, 0] = -1  # a fresh copy each call
    assert lt.load_sample(name).iloc[0, 0] > 0


@pytest.mark.parametrize("name", list(COUNTS_2024))
def test_2024_market_frames(name):
    n_candles, _, n_ratio_nan = COUNTS_2024[name]
    df = lt.load_sample(name)
    assert list(df.columns) == [*OHLCV, "taker_buy_volume", "oi_usd", LONG_SHORT_RATIO, "trades", "taker_buy_trades"]
    assert len(df) == n_candles
    assert df.index[0] == pd.Timestamp("2024-06-20 03:00", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-08-20 03:00", tz="UTC")
    assert df.drop(columns=LONG_SHORT_RATIO).notna().all().all()
    assert df[LONG_SHORT_RATIO].isna().sum() == n_ratio_nan and (df[LONG_SHORT_RATIO].dropna() > 0).all()
    assert (df["taker_buy_trades"] <= df["trades"]).all()
    steps = np.diff(df.index.asi8)
    if name == "eth-2024":
        assert (steps == HOUR).all()
    else:  # SOL: the source skips 2024-07-19 15:00 and 16:00; those candles are absent, not invented
        assert sorted(set(steps)) == [HOUR, 3 * HOUR]
        assert df.index[np.flatnonzero(steps == 3 * HOUR)[0]] == pd.Timestamp("2024-07-19 14:00", tz="UTC")


def test_2024_usd_conversion_on_known_rows():
    # raw CSV rows of 2024-08-05 03:00 (ETH) and 01:00 (SOL): ohlcv close, oi_close, liquidated long/short
    eth, eth_liq = lt.load_sample("eth-2024"), lt.load_sample_liquidations("eth-2024")
    t = pd.Timestamp("2024-08-05 03:00", tz="UTC")
    assert eth.loc[t, "close"] == 2729.06 and eth.loc[t, "volume"] == 110417.75000000004  # in ETH, unchanged
    assert eth.loc[t, "oi_usd"] == pytest.approx(902213.695 * 2729.06, rel=1e-12)
    assert eth_liq.loc[t, "long_usd"] == pytest.approx(303.86 * 2729.06, rel=1e-12)
    assert eth_liq.loc[t, "short_usd"] == pytest.approx(6.591 * 2729.06, rel=1e-12)
    assert eth.loc[t, LONG_SHORT_RATIO] == 4.2329
    sol, sol_liq = lt.load_sample("sol-2024"), lt.load_sample_liquidations("sol-2024")
    t = pd.Timestamp("2024-08-05 01:00", tz="UTC")
    assert sol.loc[t, "oi_usd"] == pytest.approx(5014585 * 141.922, rel=1e-12)
    assert sol_liq.loc[t, ["long_usd", "short_usd"]].tolist() == pytest.approx([771 * 141.922, 4129 * 141.922])


@pytest.mark.parametrize("name", list(COUNTS_2024))
def test_2024_liquidations_are_hourly_usd_with_missing_hours_absent(name):
    _, n_hours, _ = COUNTS_2024[name]
    liq = lt.load_sample_liquidations(name)
    assert list(liq.columns) == ["long_usd", "short_usd"] and len(liq) == n_hours
    assert str(liq.index.tz) == "UTC" and liq.index.is_monotonic_increasing and liq.index.is_unique
    assert (liq.index == liq.index.floor("h")).all()
    assert liq.notna().all().all() and (liq >= 0).all().all()
    assert liq.index.isin(lt.load_sample(name).index).all()  # every hour has a close to price it
    # the source repeats an hour and skips the one before it: the skipped hour is absent, not zero
    skipped = {"eth-2024": "2024-06-22 04:00", "sol-2024": "2024-06-22 20:00"}[name]
    assert pd.Timestamp(skipped, tz="UTC") not in liq.index
    assert pd.Timestamp(skipped, tz="UTC") + pd.Timedelta(hours=1) in liq.index


@pytest.mark.skipif(not RAW_2024.is_dir(), reason="the raw CSVs of ../shared/data are not here")
@pytest.mark.parametrize(("name", "symbol"), [("eth-2024", "ETHUSDT"), ("sol-2024", "SOLUSDT")])
def test_2024_samples_match_the_raw_csvs(name, symbol):
    def raw(kind):
        df = pd.read_csv(RAW_2024 / f"{symbol}_{kind}-history_1h.csv", header=None).drop_duplicates()
        return df.set_index(pd.to_datetime(df.pop(0)).dt.tz_localize("UTC").rename("time"))

    market, liq = lt.load_sample(name), lt.load_sample_liquidations(name)
    candles, oi, liquidated = raw("ohlcv"), raw("open-interest"), raw("liquidation")
    assert np.array_equal(market.index, candles.index) and np.array_equal(liq.index, liquidated.index)
    assert np.array_equal(market[["open", "high", "low", "close", "volume"]].to_numpy(), candles[[1, 2, 3, 4, 5]].to_numpy())
    np.testing.assert_allclose(market["oi_usd"], oi.loc[market.index, 4] * candles[4], rtol=1e-12)
    np.testing.assert_allclose(liq.to_numpy(), liquidated.to_numpy() * candles.loc[liq.index, [4]].to_numpy(), rtol=1e-12)


def test_unknown_sample_name_lists_the_available_ones():
    for load in (lt.load_sample, lt.load_sample_liquidations):
        with pytest.raises(lt.DataError, match=r"unknown sample 'doge'.*'btc', 'eth-2024', 'sol-2024'"):
            load("doge")


def test_mit_licence_notice_ships_with_the_2024_samples():
    samples = resources.files("liqtools.data").joinpath("samples")
    text = samples.joinpath("LICENSE-binance-2024-summer.txt").read_text(encoding="utf-8")
    assert "Copyright (c) 2024 deniz" in text and "MIT License" in text
    assert "denizyts/Coinalyze-Backtester" in text and "src/csvFolder/" in text and "b980ee94" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    for name in ("eth_2024", "sol_2024"):
        assert samples.joinpath(f"{name}_1h.parquet").is_file()
        assert samples.joinpath(f"{name}_liquidations_1h.parquet").is_file()
    for load in (lt.load_sample, lt.load_sample_liquidations):
        assert "Coinalyze-Backtester" in load.__doc__ and "MIT" in load.__doc__
