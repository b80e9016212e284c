"""Venue specifics (Binance open-interest window, liquidations, leverage tiers, long/short ratios) through
real ccxt classes with a replaced HTTP layer (no network). The general paths are in test_exchange.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from exchange_replay import H, History, Replay, SimVenue, fast_exchange, instance

from liqtools.data import fetch_leverage_tiers, fetch_liquidations, fetch_market_data, fetch_series
from liqtools.errors import NotSupportedError

START = pd.Timestamp("2024-03-01", tz="UTC")
T0 = int(START.value // 1_000_000)


@pytest.fixture(autouse=True)
def _fast(monkeypatch, request):
    """See :func:`exchange_replay.fast_exchange`; tests marked ``real_oi_window`` use the real now."""
    fast_exchange(monkeypatch, real_oi_window="real_oi_window" in request.keywords)


# -- Binance specifics -------------------------------------------------------------------------------


@pytest.mark.real_oi_window
def test_binance_open_interest_older_than_30_days_warns_with_source_rest(tmp_path):
    now = pd.Timestamp.now(tz="UTC").floor("h")
    start, end = now - pd.Timedelta(days=40), now - pd.Timedelta(days=20)
    first = int(start.value // 1_000_000)
    venue = SimVenue("binanceusdm", History(first - 100 * H, 24 * 41 + 200, seed=14))
    with pytest.warns(UserWarning, match=r"about 30 days only.*source='auto'"):
        df = fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=start, end=end, cache_dir=tmp_path,
                               progress=False, include=("ohlcv", "open_interest"))
    cutoff = now - pd.Timedelta(days=30)
    assert df.loc[df.index < cutoff - pd.Timedelta("1h"), "oi_usd"].isna().all()
    assert df.loc[df.index > cutoff + pd.Timedelta("1h"), "oi_usd"].notna().all()
    oi_starts = [int(q["startTime"]) for _, p, q in venue.calls if p == "/futures/data/openInterestHist"]
    assert min(oi_starts) >= int(cutoff.value // 1_000_000) - 2 * H


def test_liquidations_and_tiers_name_the_alternative():
    ex = instance("binanceusdm", Replay({}))
    with pytest.raises(NotSupportedError, match="liquidationSnapshot"):
        fetch_liquidations(ex, "BTC/USDT:USDT", start="2024-01-01")
    with pytest.raises(NotSupportedError, match="BINANCE_BTCUSDT_BRACKETS"):
        fetch_leverage_tiers(ex, "BTC/USDT:USDT")
    with pytest.raises(NotSupportedError, match="bitfinex, deribit, gate and htx"):
        fetch_liquidations(instance("bybit", Replay({})), "BTC/USDT:USDT", start="2024-01-01")


def test_leverage_tiers_from_bybit_recorded_shape():
    # Bybit v5 GET /v5/market/risk-limit (documented shape; values of Bybit's BTCUSDT tiers)
    body = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
        {"id": 1, "symbol": "BTCUSDT", "riskLimitValue": "2000000", "maintenanceMargin": "0.005", "initialMargin": "0.01",
         "isLowestRisk": 1, "maxLeverage": "100.00", "mmDeduction": ""},
        {"id": 2, "symbol": "BTCUSDT", "riskLimitValue": "3600000", "maintenanceMargin": "0.0056", "initialMargin": "0.0116",
         "isLowestRisk": 0, "maxLeverage": "86.20", "mmDeduction": "1200"}], "nextPageCursor": ""},
        "retExtInfo": {}, "time": 1730729903941}
    replay = Replay({("GET", "/v5/market/risk-limit"): body})
    tiers = fetch_leverage_tiers(instance("bybit", replay), "BTC/USDT:USDT")
    assert tiers["maintenance_margin_rate"].tolist() == [0.005, 0.0056]
    assert tiers["max_notional"].tolist() == [2_000_000.0, 3_600_000.0]
    assert tiers["min_notional"].tolist() == [0.0, 2_000_000.0]


def test_liquidations_paginate_on_an_exchange_that_has_them():
    # Gate v4 GET /futures/usdt/liq_orders (documented shape): time in seconds, size < 0 for a liquidated long
    rows = [{"time": 1704067200 + 60 * i, "contract": "BTC_USDT", "size": -10 - i, "order_price": "42000.1",
             "fill_price": "42010.5", "left": 0} for i in range(5)]

    def liq(q):  # ccxt 4.5.90 passes 'from'/'to' in milliseconds; two rows a page
        lo, hi = int(q.get("from", 0)), int(q.get("to", 10**15))
        return [r for r in rows if lo <= r["time"] * 1000 <= hi][:2]

    replay = Replay({("GET", "/api/v4/futures/usdt/liq_orders"): liq})
    market = {"id": "BTC_USDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
              "baseId": "BTC", "quoteId": "USDT", "settleId": "usdt", "type": "swap", "spot": False, "swap": True,
              "future": False, "option": False, "contract": True, "linear": True, "inverse": False,
              "contractSize": 0.0001, "active": True, "precision": {}, "limits": {}, "info": {}}
    ex = instance("gate", replay, market)
    df = fetch_liquidations(ex, "BTC/USDT:USDT", start="2024-01-01", end="2024-01-01 01:00", progress=False)
    assert len(df) == 5 and df.index.is_monotonic_increasing
    assert set(df["side"]) == {"sell"}
    np.testing.assert_allclose(df["amount"], [0.001, 0.0011, 0.0012, 0.0013, 0.0014])
    assert len(replay.calls) == 4  # 2 + 2 + 1 rows, then an empty page


def test_long_short_ratio_from_binance_documented_shape():
    # GET /futures/data/globalLongShortAccountRatio, response example of Binance's documentation
    body = [{"symbol": "BTCUSDT", "longShortRatio": "0.1960", "longAccount": "0.6622", "shortAccount": "0.3378",
             "timestamp": "1583139600000"},
            {"symbol": "BTCUSDT", "longShortRatio": "1.9559", "longAccount": "0.6617", "shortAccount": "0.3382",
             "timestamp": "1583139900000"}]
    replay = Replay({("GET", "/futures/data/globalLongShortAccountRatio"): lambda q: body if q["period"] == "5m" else []})
    rows = fetch_series(instance("binanceusdm", replay), "BTC/USDT:USDT", "long_short", "5m", start=1583139600000,
                        end=1583139600000 + 10 * 300_000, cache_dir=False, progress=False)
    assert rows["long_short_ratio"].tolist() == [0.196, 1.9559]
