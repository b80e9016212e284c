"""fetch_positions and ``liqtools positions``: ccxt's real Hyperliquid parsing over recorded clearinghouseState
answers, the users file, the symbol filter, and a replayed sweep with faults and a crash mid-sweep. No network."""

from __future__ import annotations

import math

import ccxt
import numpy as np
import pandas as pd
import pytest
from cli_util import run
from exchange_replay import NOW, HyperliquidInfo, fast_exchange, hyperliquid_positions

import liqtools.data.exchange.positions as positions_mod
from liqtools.data import fetch_positions
from liqtools.data.exchange.positions import POSITION_COLUMNS, read_users
from liqtools.errors import DataError, FetchError

U1, U2, U3, U4, U5 = (f"0x{d * 40}" for d in "12345")


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_exchange(monkeypatch)


@pytest.fixture
def venue():
    info, fixture = hyperliquid_positions()
    return info, info.ex(fixture["markets"])


def test_real_parsing_over_the_recorded_answers(venue, tmp_path):
    info, ex = venue
    df = fetch_positions(ex, [U1, U2, U3, U4, U5], cache_dir=tmp_path, progress=False)
    assert list(df.columns) == list(POSITION_COLUMNS)
    assert info.asked == [U1, U2, U3, U4, U5]
    assert len(df) == 6  # 2 + 2 + 1 + 1 + 0
    assert (df["time"] == pd.Timestamp(NOW, unit="ms", tz="UTC")).all()
    rows = {(r.user, r.symbol): r for r in df.itertuples()}
    sol = rows[(U1, "SOL/USDC:USDC")]  # ccxt's own recorded answer
    assert (sol.side, sol.contracts, sol.notional_usd, sol.entry_price, sol.leverage, sol.margin_mode) == (
        "long",
        3.34,
        463.9594,
        112.0945,
        20.0,
        "cross",
    )
    assert math.isnan(sol.liquidation_price)
    btc_iso = rows[(U2, "BTC/USDC:USDC")]
    assert (btc_iso.side, btc_iso.contracts, btc_iso.margin_mode, btc_iso.liquidation_price) == (
        "long",
        0.25,
        "isolated",
        54300.0,
    )
    eth_short = rows[(U2, "ETH/USDC:USDC")]
    assert (eth_short.side, eth_short.contracts, eth_short.leverage, eth_short.liquidation_price) == (
        "short",
        2.0,
        5.0,
        3550.0,
    )
    assert rows[(U3, "BTC/USDC:USDC")].side == "short"
    assert math.isnan(rows[(U4, "BTC/USDC:USDC")].liquidation_price)
    assert (df["contracts"] > 0).all() and set(df["margin_mode"]) == {"cross", "isolated"}
    assert df.attrs["no_liquidation_price"] == 3 and df.attrs["accounts"] == 5 and df.attrs["failed"] == {}


def test_symbol_filter(venue, tmp_path):
    _, ex = venue
    df = fetch_positions(ex, [U1, U2, U3, U4, U5], symbol="BTC/USDC:USDC", cache_dir=tmp_path, progress=False)
    assert set(df["symbol"]) == {"BTC/USDC:USDC"} and sorted(df["user"]) == [U2, U3, U4]
    assert df.attrs["no_liquidation_price"] == 1
    with pytest.raises(FetchError, match="DOGE/USDC:USDC"):
        fetch_positions(ex, [U1], symbol="DOGE/USDC:USDC", cache_dir=tmp_path, progress=False)


def test_users_file(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text(f"# whales\n{U1}\n\n{U2.upper().replace('0X', '0x')}  # second\n{U1}\n")
    assert read_users(f) == [U1, U2]
    f.write_text(f"{U1}\n# ok\n0x123 not an address\n")
    with pytest.raises(DataError, match=r"users.txt line 3: '0x123 not an address' is not an account address"):
        read_users(str(f))
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(DataError, match="lists no account address"):
        read_users(tmp_path / "empty.txt")
    with pytest.raises(DataError, match="cannot read the users file"):
        read_users(tmp_path / "missing.txt")
    with pytest.raises(DataError, match=r"users\[1\]"):
        read_users([U1, "bob"])


def _many(fixture: dict, n: int) -> dict:
    shapes = list(fixture["accounts"].values())
    return {f"0x{i:040x}": shapes[i % len(shapes)] for i in range(n)}


def test_sweep_with_faults_and_a_crash_resumes_without_losing_an_account(tmp_path):
    _, fixture = hyperliquid_positions()
    accounts = _many(fixture, 40)
    users = list(accounts)
    whole = fetch_positions(
        HyperliquidInfo(accounts).ex(fixture["markets"]), users, cache_dir=tmp_path / "a", progress=False
    )

    info = HyperliquidInfo(accounts)
    seen: dict[str, int] = {}

    def faults(user: str, n: int) -> BaseException | None:
        seen[user] = seen.get(user, 0) + 1
        if n == 25:
            return RuntimeError("crash")  # not a ccxt error: the sweep stops here, as on kill -9
        if user in users[3:10:2] and seen[user] <= 2:  # transient: retried
            return ccxt.RateLimitExceeded("429") if seen[user] == 1 else ccxt.ExchangeNotAvailable("502")
        return None

    info.fail = faults
    with pytest.raises(RuntimeError, match="crash"):
        fetch_positions(info.ex(fixture["markets"]), users, cache_dir=tmp_path / "b", progress=False)
    done = len(set(info.asked)) - 1  # the crashed query's account was not saved
    assert done == 17 and len(info.asked) == 26  # 17 saved + 8 retried faults + the crashed query
    again = HyperliquidInfo(accounts)
    resumed = fetch_positions(again.ex(fixture["markets"]), users, cache_dir=tmp_path / "b", progress=True)
    assert again.asked == users[done:]  # only the accounts not yet saved
    pd.testing.assert_frame_equal(resumed, whole)
    third = HyperliquidInfo(accounts)  # everything saved (the empty accounts too): no query at all
    pd.testing.assert_frame_equal(
        fetch_positions(third.ex(fixture["markets"]), users, cache_dir=tmp_path / "b", progress=False), whole
    )
    assert third.asked == []


def test_cached_accounts_expire_after_max_age(monkeypatch, tmp_path):
    info, fixture = hyperliquid_positions()
    fetch_positions(info.ex(fixture["markets"]), [U2, U5], cache_dir=tmp_path, progress=False)
    import liqtools.data.exchange as exchange_mod

    monkeypatch.setattr(exchange_mod, "_now_ms", lambda: NOW + 3_601_000)
    later = HyperliquidInfo(fixture["accounts"])
    df = fetch_positions(later.ex(fixture["markets"]), [U2, U5], cache_dir=tmp_path, progress=False, max_age=None)
    assert later.asked == [] and len(df) == 2
    fetch_positions(later.ex(fixture["markets"]), [U2, U5], cache_dir=tmp_path, progress=False)
    assert later.asked == [U2, U5]


def test_permanent_failure_raises_naming_the_account_or_is_skipped(tmp_path):
    info, fixture = hyperliquid_positions()
    info.fail = lambda user, n: ccxt.BadRequest('hyperliquid {"status":"err"}') if user == U3 else None
    with pytest.raises(FetchError, match=f"account {U3}"):
        fetch_positions(info.ex(fixture["markets"]), [U1, U2, U3, U4], cache_dir=tmp_path, progress=False)
    info.asked.clear()
    with pytest.warns(UserWarning, match="1 of 4 accounts failed"):
        df = fetch_positions(
            info.ex(fixture["markets"]), [U1, U2, U3, U4], cache_dir=tmp_path, progress=False, on_error="skip"
        )
    assert info.asked == [U3, U4] and list(df.attrs["failed"]) == [U3] and U3 not in set(df["user"])
    # a timeout that outlasts the retries is not the account's fault: it raises even with on_error="skip"
    info.fail = lambda user, n: ccxt.ExchangeNotAvailable("502")
    with pytest.raises(FetchError, match="after 2 attempts"):
        fetch_positions(
            info.ex(fixture["markets"]), [U3], cache_dir=tmp_path, progress=False, on_error="skip", retries=1
        )


def test_bad_position_from_the_venue_is_a_clear_error(tmp_path):
    _, fixture = hyperliquid_positions()
    bad = {
        "assetPositions": [
            {
                "type": "oneWay",
                "position": {
                    **fixture["accounts"][U3]["assetPositions"][0]["position"],
                    "leverage": {"type": "portfolio", "value": "3"},
                },
            }
        ]
    }
    info = HyperliquidInfo({U3: bad})
    with pytest.raises(FetchError, match=f"account {U3}, BTC/USDC:USDC: unknown margin mode 'portfolio'"):
        fetch_positions(info.ex(fixture["markets"]), [U3], cache_dir=False, progress=False)


def test_cli_positions(monkeypatch, tmp_path):
    info, fixture = hyperliquid_positions()
    made: list[bool] = []

    def factory(exchange, rate_limit):
        made.append(rate_limit)
        return info.ex(fixture["markets"])

    monkeypatch.setattr(positions_mod, "_instance", factory)
    users = tmp_path / "users.txt"
    users.write_text(f"{U1}\n{U2}\n{U3}\n{U4}\n{U5}\n")
    out = tmp_path / "btc.parquet"
    argv = [
        "positions",
        "hyperliquid",
        "BTC/USDC:USDC",
        "--users",
        str(users),
        "-o",
        str(out),
        "--cache-dir",
        str(tmp_path / "c"),
        "--no-rate-limit",
        "--no-progress",
    ]
    status, stdout, stderr = run(argv)
    assert status == 0, stderr
    assert made == [False]
    df = pd.read_parquet(out)
    assert list(df.columns) == list(POSITION_COLUMNS) and len(df) == 3 and set(df["symbol"]) == {"BTC/USDC:USDC"}
    assert "3 positions" in stdout and "5 accounts" in stdout and "1 without a liquidation price" in stdout
    status, _, stderr = run(argv)
    assert status == 2 and "exists: pass --force" in stderr
    status, _, stderr = run([*argv, "--force"])
    assert status == 0 and made == [False, False]
    users.write_text(f"{U1}\nnot-an-address\n")
    status, _, stderr = run([*argv, "--force"])
    assert status == 2 and "line 2" in stderr and "'not-an-address'" in stderr
    assert np.isfinite(df["notional_usd"]).all()


def test_rate_limit_is_ccxts_limiter_at_hyperliquids_weight():
    limited = positions_mod._instance("hyperliquid", True)
    assert limited.enableRateLimit is True and limited.rateLimit == 50  # ms per unit of cost
    config = limited.describe()["api"]["public"]["post"]["info"]
    cost = limited.calculate_rate_limiter_cost(["public"], "POST", "info", {"type": "clearinghouseState"}, config)
    assert cost == 2 and 60_000 / (limited.rateLimit * cost) * cost == 1200  # 600 accounts, 1,200 weight a minute
    free = positions_mod._instance("hyperliquid", False)
    assert free.enableRateLimit is False and free is not limited
    with pytest.raises(DataError, match="unknown exchange"):
        positions_mod._instance("hyperliqiud", False)


def test_a_users_file_that_is_not_utf8_is_refused(tmp_path):
    bad = tmp_path / "users.txt"
    bad.write_bytes(b"\xff\xfe0x" + b"1" * 40)
    with pytest.raises(DataError, match="is not UTF-8 text"):
        read_users(bad)
    status, _, err = run(["positions", "hyperliquid", "BTC/USDC:USDC", "--users", str(bad), "-o", str(tmp_path / "p.parquet")])
    assert status == 2 and "not UTF-8" in err and "Traceback" not in err
