"""Nothing wrong is cached (issue 12): every page is checked before it is cached, a span is complete only
when its rows cover the candle grid, a gap the exchange really has is recorded with its reason, and an
offline machine fails at once. Faults are injected in the exchanges' own JSON shapes (see exchange_replay)."""

from __future__ import annotations

import dataclasses
import re

import ccxt
import numpy as np
import pandas as pd
import pytest
from exchange_replay import H, History, Replay, SimVenue, fast_exchange, instance, make_market

import liqtools.data.exchange as exchange_mod
from liqtools.data import fetch_market_data, fetch_series
from liqtools.data.cache import SeriesCache
from liqtools.errors import FetchError

T0 = int(pd.Timestamp("2024-03-01", tz="UTC").value // 1_000_000)
VENUES = ["binanceusdm", "bybit", "okx"]
HTML = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_exchange(monkeypatch)
    # pages of 100 candles on every venue, so that a few hundred hours make several pages
    venues = {k: dataclasses.replace(v, ohlcv_limit=100, mark_limit=100) for k, v in exchange_mod._VENUES.items()}
    monkeypatch.setattr(exchange_mod, "_VENUES", venues)


def on_call(n: int, kind: str, fault):
    """A tamper hook applying ``fault(q, page, venue)`` to the n-th request (1-based) of ``kind`` only."""
    seen = {"n": 0}

    def hook(k, q, page):
        if k != kind:
            return page
        seen["n"] += 1
        return fault(q, page) if seen["n"] == n else page

    return hook


def cached(tmp_path, venue_id, series="ohlcv"):
    return SeriesCache(tmp_path, venue_id, "BTC/USDT:USDT", "1h", series)


def ohlcv(venue, tmp_path, start=T0, end=T0 + 300 * H, **kw):
    return fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=start, end=end, include=("ohlcv",),
                             cache_dir=tmp_path, progress=False, **kw)


def truth(venue, start=T0, end=T0 + 300 * H):
    c = venue.h.candles
    return c[(c[:, 0] >= start) & (c[:, 0] < end)]


# -- invalid pages: an error naming venue, series and time; nothing of the page cached ---------------


def null_close(q, page):
    page = page.copy()
    page[len(page) // 2, 4] = np.nan  # the exchange sent "close": null
    return page


def seconds(q, page):
    page = page.copy()
    page[:, 0] = page[:, 0] // 1000
    return page


def html(q, page):
    return HTML


FAULTS = {
    "null value": (null_close, "no close"),
    "html page": (html, "not JSON"),
    "timestamps in seconds": (seconds, "seconds"),
}


@pytest.mark.parametrize("venue_id", VENUES)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_an_invalid_page_is_an_error_and_is_not_cached(venue_id, fault, tmp_path):
    tamper, words = FAULTS[fault]
    venue = SimVenue(venue_id, History(T0, 400, seed=40), overlap=0)
    venue.tamper = on_call(2, "klines", tamper)  # the second page (2024-03-05 04:00 UTC on) is bad
    with pytest.raises(FetchError) as info:
        ohlcv(venue, tmp_path)
    msg = str(info.value)
    assert venue_id in msg and "ohlcv" in msg and "BTC/USDT:USDT" in msg and "2024-03-05 04:00 UTC" in msg, msg
    assert words in msg and "asks again" in msg, msg
    # the first page is kept, nothing of the second
    rows, covered = cached(tmp_path, venue_id).read()
    assert covered == [(T0, T0 + 100 * H - 1)]
    assert rows["timestamp"].max() < T0 + 100 * H
    # the next run asks for the rest and gets the truth
    venue.tamper = None
    n = len(venue.calls)
    df = ohlcv(venue, tmp_path)
    assert len(venue.calls) - n == 2
    np.testing.assert_array_equal(df["close"].to_numpy(), truth(venue)[:, 4])


def oldest_page(venue):
    def fault(q, page):
        return venue.h.candles[:100]  # ignores since: always the first page of the history
    return fault


def newest_page(venue):
    def fault(q, page):
        return venue.h.candles[-100:]  # ignores since: always the latest page
    return fault


@pytest.mark.parametrize("venue_id", VENUES)
@pytest.mark.parametrize("which", ["oldest", "newest", "same page again"])
def test_a_venue_that_ignores_since_is_an_error(venue_id, which, tmp_path):
    venue = SimVenue(venue_id, History(T0, 400, seed=41), overlap=0)
    if which == "same page again":  # the third window gets the second window's page
        fault = lambda q, page: venue.h.candles[100:200]
        when, at = 3, "2024-03-09 08:00 UTC"
    else:
        fault = (oldest_page if which == "oldest" else newest_page)(venue)
        when, at = 2, "2024-03-05 04:00 UTC"
    venue.tamper = on_call(when, "klines", fault)
    with pytest.raises(FetchError, match="since") as info:
        ohlcv(venue, tmp_path)
    assert venue_id in str(info.value) and at in str(info.value)
    _, covered = cached(tmp_path, venue_id).read()
    assert covered == [(T0, T0 + (when - 1) * 100 * H - 1)]


@pytest.mark.parametrize("series", ["open_interest", "funding"])
@pytest.mark.parametrize("venue_id", VENUES)
def test_null_open_interest_or_funding_is_an_error(series, venue_id, tmp_path):
    venue = SimVenue(venue_id, History(T0, 400, seed=42), overlap=0)
    kind = {"open_interest": "oi", "funding": "funding"}[series]

    def null(q, page):
        page = page.copy()
        if len(page):
            page[0, 1] = np.nan
        return page

    venue.tamper = on_call(1, kind, null)
    with pytest.raises(FetchError, match=f"{venue_id} .*{series}.*no ") as info:
        fetch_series(venue.ex(), "BTC/USDT:USDT", series, "1h", start=T0, end=T0 + 300 * H, cache_dir=tmp_path,
                     progress=False)
    assert "UTC" in str(info.value)
    assert cached(tmp_path, venue_id, series).read()[1] == []


def test_a_double_without_ccxt_sending_seconds_or_old_rows_is_refused(tmp_path):
    """A hand-made exchange object (no ccxt parsing in between): rows in seconds, rows before `since`."""

    class Double:
        id = "binanceusdm"

        def __init__(self, shift):
            self.shift = shift
            self.has = {"fetchOHLCV": True}
            self.features = {}
            self.markets = {"BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "contractSize": 1.0}}

        def market(self, symbol):
            return self.markets[symbol]

        def fetch_ohlcv(self, symbol, timeframe, since, limit, params):
            return [[(since + i * H) // self.shift[0] - self.shift[1], 1.0, 2.0, 0.5, 1.5, 3.0] for i in range(10)]

    for shift, words in (((1000, 0), "seconds"), ((1, 500 * H), "since")):
        with pytest.raises(FetchError, match=words):
            fetch_series(Double(shift), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 10 * H,
                         cache_dir=tmp_path, progress=False)
    assert cached(tmp_path, "binanceusdm").read()[1] == []


# -- the candle grid: rows missing once are asked again, a real gap is recorded with its reason ---


@pytest.mark.parametrize("venue_id", VENUES)
def test_rows_missing_from_a_page_are_asked_again(venue_id, tmp_path):
    venue = SimVenue(venue_id, History(T0, 400, seed=43), overlap=0)
    # each missing from the first page serving it; pages 2 and 3 are asked again in full (100 slots, 100 rows)
    flaky = {T0 + h * H for h in (0, 5, 57, 58, 100, 150, 199, 200, 299)}

    def drop_first_time(kind, q, page):
        if kind != "klines":
            return page
        drop = np.isin(page[:, 0], list(flaky))
        flaky.difference_update(page[drop, 0].tolist())
        return page[~drop]

    venue.tamper = drop_first_time
    df = ohlcv(venue, tmp_path)
    np.testing.assert_array_equal(df["close"].to_numpy(), truth(venue)[:, 4])
    assert not flaky and df.attrs["gaps"] == {"ohlcv": []}
    assert len(venue.calls) == 6  # three pages, each asked again once
    assert cached(tmp_path, venue_id).read_gaps() == []


@pytest.mark.parametrize("venue_id", VENUES)
def test_a_gap_the_exchange_really_has_is_recorded_with_its_reason(venue_id, tmp_path):
    hist = History(T0, 400, seed=44)
    hist.candles = hist.candles[~np.isin(hist.candles[:, 0], [T0 + 150 * H, T0 + 151 * H, T0 + 220 * H])]
    venue = SimVenue(venue_id, hist, overlap=0)
    df = ohlcv(venue, tmp_path)
    assert len(df) == 297
    gaps = [(T0 + 150 * H, T0 + 152 * H - 1), (T0 + 220 * H, T0 + 221 * H - 1)]
    reason = "the exchange returned no rows here on two requests"
    assert df.attrs["gaps"]["ohlcv"] == [(a, b, reason) for a, b in gaps]
    assert cached(tmp_path, venue_id).read_gaps() == [(a, b, reason) for a, b in gaps]
    assert cached(tmp_path, venue_id).read()[1] == [(T0, T0 + 300 * H - 1)]  # complete: rows and known gaps
    # three pages, and one more request for each page with a hole
    assert len(venue.calls) == 5
    n = len(venue.calls)
    again = ohlcv(venue, tmp_path)
    assert len(venue.calls) == n
    assert again.attrs["gaps"] == df.attrs["gaps"]


def test_candles_before_the_listing_are_a_gap_without_asking_twice(tmp_path):
    listed = T0 + 50 * H
    venue = SimVenue("okx", History(listed, 350, seed=45), overlap=0)
    market = make_market("BTC-USDT-SWAP", "BTC/USDT:USDT", contractSize=0.01, info={"instFamily": "BTC-USDT"},
                         created=listed)
    ex = instance("okx", venue.replay, market)
    df = fetch_market_data(ex, "BTC/USDT:USDT", "1h", start=T0, end=T0 + 300 * H, include=("ohlcv",),
                           cache_dir=tmp_path, progress=False)
    assert len(df) == 250 and len(venue.calls) == 3
    assert df.attrs["gaps"]["ohlcv"] == [(T0, listed - 1, "before the listing (2024-03-03 02:00 UTC)")]


def test_an_exchange_that_answers_nothing_at_all_caches_nothing(tmp_path):
    venue = SimVenue("bybit", History(T0 + 5000 * H, 10, seed=46), overlap=0)  # nothing in the asked range
    rows = fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 300 * H, cache_dir=tmp_path,
                        progress=False)
    assert len(rows) == 0
    assert cached(tmp_path, "bybit").read()[1] == []  # not "complete": the next run asks again
    n = len(venue.calls)
    fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 300 * H, cache_dir=tmp_path,
                 progress=False)
    assert len(venue.calls) > n


# -- offline ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [ccxt.NetworkError, ccxt.RequestTimeout])
def test_offline_fails_at_once_with_no_retries(error, monkeypatch, tmp_path):
    sleeps: list[float] = []
    monkeypatch.setattr(exchange_mod, "_sleep", sleeps.append)
    replay = Replay({("GET", "/fapi/v1/klines"): error("binanceusdm GET https://fapi.binance.com/fapi/v1/klines")})
    with pytest.raises(FetchError, match="no network connection to binanceusdm"):
        fetch_market_data(instance("binanceusdm", replay), "BTC/USDT:USDT", "1h", start=T0, end=T0 + 10 * H,
                          cache_dir=tmp_path, progress=False)
    assert len(replay.calls) == 1 and sleeps == []


def test_a_closed_port_is_no_network_at_once(tmp_path):
    """Real ccxt HTTP (requests) against a closed port on 127.0.0.1: a connection error, reported at once."""
    ex = ccxt.binanceusdm({"enableRateLimit": False, "timeout": 3000})
    ex.set_markets([make_market("BTCUSDT", "BTC/USDT:USDT")])
    ex.urls["api"] = {k: "http://127.0.0.1:9/fapi/v1" for k in ex.urls["api"]}
    with pytest.raises(FetchError, match="no network connection to binanceusdm") as info:
        fetch_market_data(ex, "BTC/USDT:USDT", "1h", start=T0, end=T0 + 10 * H, cache_dir=tmp_path, progress=False)
    assert isinstance(info.value.__cause__, ccxt.NetworkError)


def test_faults_after_a_first_answer_are_still_retried(monkeypatch, tmp_path):
    sleeps: list[float] = []
    monkeypatch.setattr(exchange_mod, "_sleep", sleeps.append)
    venue = SimVenue("okx", History(T0, 400, seed=47), overlap=0)
    fails = {"left": 3, "calls": 0}

    def after_the_first(path, q):
        fails["calls"] += 1
        if fails["calls"] > 1 and fails["left"]:
            fails["left"] -= 1
            return ccxt.NetworkError("connection reset")
        return None

    venue.fail = after_the_first
    df = ohlcv(venue, tmp_path)
    assert len(df) == 300 and len(sleeps) == 3


def test_cli_fetch_offline_is_one_line_naming_flags_that_exist(monkeypatch, tmp_path, capsys):
    from liqtools.cli import build_parser, main

    replay = Replay({("GET", "/fapi/v1/klines"): ccxt.NetworkError("getaddrinfo failed")})
    monkeypatch.setattr(exchange_mod, "_resolve_exchange", lambda exchange: instance("binanceusdm", replay))
    code = main(["fetch", "binanceusdm", "BTC/USDT:USDT", "--start", "2024-03-01", "--end", "2024-03-02",
                 "-o", str(tmp_path / "x.parquet"), "--cache-dir", str(tmp_path / "c"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "no network connection to binanceusdm" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and len(replay.calls) == 1
    fetch_parser = build_parser()._subparsers._group_actions[0].choices["fetch"]
    known = {s for a in fetch_parser._actions for s in a.option_strings}
    named = set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", err))
    assert named <= known, named - known
    assert "retries=" not in err


def test_the_latest_candles_missing_just_after_they_closed_are_not_a_gap(monkeypatch, tmp_path):
    """An exchange may publish a closed candle a moment late: missing at the edge of now is asked again next run."""
    monkeypatch.setattr(exchange_mod, "_now_ms", lambda: T0 + 300 * H + 60_000)
    venue = SimVenue("binanceusdm", History(T0, 299, seed=48), overlap=0)  # the 299th hour is not out yet
    rows = fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, cache_dir=tmp_path, progress=False)
    assert len(rows) == 299 and rows.attrs["gaps"] == []
    cache = cached(tmp_path, "binanceusdm")
    assert cache.read()[1] == [(T0, T0 + 299 * H - 1)] and cache.read_gaps() == []
    n = len(venue.calls)
    fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, cache_dir=tmp_path, progress=False)
    assert len(venue.calls) > n
