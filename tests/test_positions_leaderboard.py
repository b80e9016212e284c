"""hyperliquid_leaderboard and ``liqtools positions --leaderboard N``: the public leaderboard's JSON (recorded
shape, illustrative values) through a ccxt instance's HTTP layer, cached, feeding the position sweep. No network."""

from __future__ import annotations

import ccxt
import pandas as pd
import pytest
from cli_util import run
from exchange_replay import NOW, fast_exchange, hyperliquid_positions

import liqtools.data.exchange as exchange_mod
import liqtools.data.exchange.positions as positions_mod
from liqtools.data import fetch_positions, hyperliquid_leaderboard
from liqtools.errors import DataError, FetchError


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_exchange(monkeypatch)


def _leaderboard_calls(info) -> int:
    return sum(1 for method, path, _ in info.replay.calls if path == "/Mainnet/leaderboard")


def test_leaderboard_parsed_ordered_and_cached(monkeypatch, tmp_path):
    info, fixture = hyperliquid_positions()
    ex = info.ex(fixture["markets"])
    top = hyperliquid_leaderboard(3, exchange=ex, cache_dir=tmp_path)
    assert list(top.columns) == ["user", "display_name", "account_value", "pnl", "roi", "volume"]
    assert top["user"].tolist() == [f"0x{d * 40}" for d in "413"]  # by account value, largest first
    assert top.iloc[0].to_dict() == {
        "user": "0x" + "4" * 40,
        "display_name": "patient-whale",
        "account_value": 50000.0,
        "pnl": 4100.0,
        "roi": 0.0893,
        "volume": 12200.0,
    }  # the month window
    assert top.attrs["time"] == pd.Timestamp(NOW, unit="ms", tz="UTC")
    by_pnl = hyperliquid_leaderboard(None, window="allTime", order_by="pnl", exchange=ex, cache_dir=tmp_path)
    assert len(by_pnl) == 5 and by_pnl["pnl"].is_monotonic_decreasing and pd.isna(by_pnl.iloc[0]["display_name"])
    assert _leaderboard_calls(info) == 1  # the second call read the cache
    monkeypatch.setattr(exchange_mod, "_now_ms", lambda: NOW + 86_401_000)
    hyperliquid_leaderboard(3, exchange=ex, cache_dir=tmp_path)
    assert _leaderboard_calls(info) == 2  # older than a day: downloaded again
    hyperliquid_leaderboard(3, exchange=ex, cache_dir=False)
    assert _leaderboard_calls(info) == 3


def test_leaderboard_feeds_the_sweep(tmp_path):
    info, fixture = hyperliquid_positions()
    ex = info.ex(fixture["markets"])
    users = hyperliquid_leaderboard(2, exchange=ex, cache_dir=tmp_path)["user"].tolist()
    df = fetch_positions(ex, users, symbol="BTC/USDC:USDC", cache_dir=tmp_path, progress=False)
    assert info.asked == users == ["0x" + "4" * 40, "0x" + "1" * 40]
    assert df["user"].tolist() == ["0x" + "4" * 40]  # 0x1111 holds SOL and ETH only


def test_leaderboard_bad_arguments_and_answers(tmp_path):
    info, fixture = hyperliquid_positions()
    ex = info.ex(fixture["markets"])
    with pytest.raises(DataError, match="window must be one of"):
        hyperliquid_leaderboard(window="year", exchange=ex, cache_dir=False)
    with pytest.raises(DataError, match="order_by must be one of"):
        hyperliquid_leaderboard(order_by="luck", exchange=ex, cache_dir=False)
    with pytest.raises(DataError, match="top must be"):
        hyperliquid_leaderboard(0, exchange=ex, cache_dir=False)
    info.replay.routes[("GET", "/Mainnet/leaderboard")] = {"rows": []}
    with pytest.raises(FetchError, match="no 'leaderboardRows' list"):
        hyperliquid_leaderboard(exchange=ex, cache_dir=False)
    info.replay.routes[("GET", "/Mainnet/leaderboard")] = {
        "leaderboardRows": [{"ethAddress": "0x1", "accountValue": "x"}]
    }
    with pytest.raises(FetchError, match="leaderboard row 0: unexpected shape"):
        hyperliquid_leaderboard(exchange=ex, cache_dir=False)
    good = fixture["leaderboard"]
    faults = iter([ccxt.ExchangeNotAvailable("502"), ccxt.RequestTimeout("slow")])
    info.replay.routes[("GET", "/Mainnet/leaderboard")] = lambda q: next(faults, good)
    assert len(hyperliquid_leaderboard(exchange=ex, cache_dir=False)) == 5  # transient faults retried


def test_cli_positions_from_the_leaderboard(monkeypatch, tmp_path):
    info, fixture = hyperliquid_positions()
    monkeypatch.setattr(positions_mod, "_instance", lambda exchange, rate_limit: info.ex(fixture["markets"]))
    out = tmp_path / "btc.parquet"
    argv = [
        "positions",
        "hyperliquid",
        "BTC/USDC:USDC",
        "--leaderboard",
        "3",
        "-o",
        str(out),
        "--cache-dir",
        str(tmp_path / "c"),
        "--no-progress",
    ]
    status, stdout, stderr = run(argv)
    assert status == 0, stderr
    assert info.asked == [f"0x{d * 40}" for d in "413"] and "of 3 accounts" in stdout
    assert pd.read_parquet(out)["side"].tolist() == ["long", "short"]  # 0x4444 long, 0x1111 none in BTC, 0x3333 short
    status, _, stderr = run(
        ["positions", "bybit", "BTC/USDT:USDT", "--leaderboard", "3", "-o", str(tmp_path / "x.parquet")]
    )
    assert status == 2 and "--leaderboard reads Hyperliquid's leaderboard" in stderr
    status, _, stderr = run(["positions", "hyperliquid", "BTC/USDC:USDC", "-o", str(tmp_path / "y.parquet")])
    assert status == 2 and "one of the arguments --users --leaderboard is required" in stderr
