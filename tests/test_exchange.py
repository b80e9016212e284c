"""fetch_market_data and friends against real ccxt classes with a replaced HTTP layer (no network)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import ccxt
import numpy as np
import pandas as pd
import pytest
from exchange_replay import H, History, Replay, SimVenue, fast_exchange, instance, recorded

import liqtools.data.exchange as exchange_mod
from liqtools.data import fetch_market_data, fetch_series
from liqtools.data.cache import SeriesCache
from liqtools.errors import DataError, FetchError, NotSupportedError
from liqtools.schema import validate_market

START = pd.Timestamp("2024-03-01", tz="UTC")
T0 = int(START.value // 1_000_000)


@pytest.fixture(autouse=True)
def _fast(monkeypatch, request):
    """See :func:`exchange_replay.fast_exchange`; tests marked ``real_oi_window`` use the real now."""
    fast_exchange(monkeypatch, real_oi_window="real_oi_window" in request.keywords)


# -- recorded responses -----------------------------------------------------------------------------


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit", "okx"])
def test_recorded_responses_make_the_expected_frame(exchange_id, tmp_path):
    ex, replay, fixture = recorded(exchange_id)
    exp = fixture["expected"]
    index = pd.DatetimeIndex(exp["index"])
    step = index[1] - index[0]
    df = fetch_market_data(ex, "BTC/USDT:USDT", "1m" if step == pd.Timedelta("1min") else "1h",
                           start=index[0], end=index[-1] + step, cache_dir=tmp_path, progress=False)
    assert list(df.index) == list(index)
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "oi_usd", "funding_rate",
                                "mark_close", "mark_high", "mark_low"]
    np.testing.assert_allclose(df["close"], exp["close"])
    np.testing.assert_allclose(df["volume"], exp["volume"])
    np.testing.assert_allclose(df["oi_usd"], [np.nan if v is None else v for v in exp["oi_usd"]], rtol=1e-12)
    np.testing.assert_allclose(df["funding_rate"], exp["funding_rate"])
    np.testing.assert_allclose(df["mark_close"], exp["mark_close"])
    validate_market(df)
    # each series is one window here: one request each, and none the second time
    assert len(replay.calls) == 4
    again = fetch_market_data(ex, "BTC/USDT:USDT", "1m" if step == pd.Timedelta("1min") else "1h",
                              start=index[0], end=index[-1] + step, cache_dir=tmp_path, progress=False)
    assert len(replay.calls) == 4
    pd.testing.assert_frame_equal(df, again)


def test_ccxt_builds_the_documented_requests():
    ex, replay, _ = recorded("binanceusdm")
    fetch_market_data(ex, "BTC/USDT:USDT", "1m", start="2024-04-10 08:41", end="2024-04-10 08:44",
                      cache_dir=False, progress=False)
    by_path = {path: q for _, path, q in replay.calls}
    assert by_path["/fapi/v1/klines"] == {"interval": "1m", "limit": "1000", "symbol": "BTCUSDT",
                                          "startTime": "1712738460000", "endTime": "1712738639999"}
    assert by_path["/futures/data/openInterestHist"]["period"] == "5m"
    assert by_path["/futures/data/openInterestHist"]["startTime"] == "1712738400000"  # the snapshot before start
    assert by_path["/fapi/v1/fundingRate"]["startTime"] == "1712649600000"  # 24 h back, hour-aligned


# -- pagination --------------------------------------------------------------------------------------


def _expected_frame(venue: SimVenue, first: int, end: int, *, oi_from_value: bool) -> pd.DataFrame:
    e = venue.expected(first, end)
    c = e["candles"]
    df = pd.DataFrame({"open": c[:, 1], "high": c[:, 2], "low": c[:, 3], "close": c[:, 4], "volume": c[:, 5]},
                      index=pd.DatetimeIndex(pd.to_datetime(c[:, 0].astype(np.int64), unit="ms", utc=True), name="time").as_unit("ns"))
    oi_t, oi_v = e["oi"][:, 0], e["oi"][:, 1]
    oi_usd, funding, mark = [], [], []
    marks = {int(r[0]): r for r in e["mark"]}
    for t in c[:, 0]:
        close_t = t + H
        j = np.flatnonzero(oi_t <= close_t)
        if len(j) and close_t - oi_t[j[-1]] <= H:
            snap_t = oi_t[j[-1]]
            if oi_from_value:
                oi_usd.append(oi_v[j[-1]] * 60000)
            else:  # contracts x the close of the candle that ended at the snapshot
                ended = np.flatnonzero(c[:, 0] + H <= snap_t)
                price = c[ended[-1], 4] if len(ended) else c[0, 1]
                oi_usd.append(oi_v[j[-1]] * price)
        else:
            oi_usd.append(np.nan)
        k = np.flatnonzero(e["funding"][:, 0] <= close_t)
        funding.append(e["funding"][k[-1], 1] if len(k) else np.nan)
        mark.append(marks[int(t)][4])
    df["oi_usd"] = oi_usd
    df["funding_rate"] = funding
    df["mark_close"] = mark
    return df


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit", "okx"])
def test_pagination_over_many_pages(exchange_id, tmp_path):
    hours = 1200  # okx: 12 candle pages; funding windows of 100 h: 12 pages with 0-13 rows each
    venue = SimVenue(exchange_id, History(T0, hours + 48, seed=3, gap=(500, 530)), overlap=3, shuffle=True)
    end = T0 + hours * H
    df = fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False)
    expected = _expected_frame(venue, T0, end, oi_from_value=exchange_id != "bybit")
    assert len(df) == hours - 30  # the exchange's gap stays a gap
    pd.testing.assert_frame_equal(df[expected.columns], expected, check_freq=False, rtol=1e-12)
    paths = [p for _, p, _ in venue.calls]
    candle_pages = sum("mark-price" not in p and "markPrice" not in p and ("kline" in p or "candles" in p) for p in paths)
    limit = exchange_mod._VENUES[exchange_id].ohlcv_limit
    # one request a page, and one more asking the exchange's 30-hour gap again (it is still missing)
    assert candle_pages == -(-hours // limit) + 1
    assert df.attrs["gaps"]["ohlcv"] == [(T0 + 500 * H, T0 + 530 * H - 1, "the exchange returned no rows here on two requests")]


def test_short_pages_do_not_end_the_series(tmp_path):
    """Funding every 8 h in 1000-hour windows: pages of ~125 rows of a 1000 limit; all pages are read."""
    venue = SimVenue("binanceusdm", History(T0, 3000, seed=4))
    end = T0 + 3000 * H
    rows = fetch_series(venue.ex(), "BTC/USDT:USDT", "funding", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(rows["timestamp"], venue.h.funding[:, 0].astype(np.int64))
    funding_calls = [q for _, p, q in venue.calls if p == "/fapi/v1/fundingRate"]
    assert len(funding_calls) == 3


def test_empty_window_probes_to_the_end_then_stops(tmp_path):
    """A listing that starts late: the first windows are empty; one probe finds the data, none is lost."""
    venue = SimVenue("bybit", History(T0 + 2500 * H, 400, seed=5), overlap=0)
    end = T0 + 2900 * H
    rows = fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False)
    assert len(rows) == 400
    # a probe past the end of the data is empty: the series stops and the range counts as covered
    venue2 = SimVenue("binanceusdm", History(T0, 100, seed=5), overlap=0)
    rows = fetch_series(venue2.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 5000 * H, cache_dir=tmp_path,
                        progress=False)
    assert len(rows) == 100
    # a short page and the rest of its window asked again, an empty window, an empty probe to the end, and
    # the empty span asked again
    assert len(venue2.calls) == 5
    cache = SeriesCache(tmp_path, "binanceusdm", "BTC/USDT:USDT", "1h", "ohlcv")
    assert cache.read()[1] == [(T0, T0 + 5000 * H - 1)]
    assert cache.read_gaps() == [(T0 + 100 * H, T0 + 5000 * H - 1, "the exchange returned no rows here on two requests")]


# -- faults ------------------------------------------------------------------------------------------

TRANSIENT = [ccxt.NetworkError, ccxt.RequestTimeout, ccxt.RateLimitExceeded, ccxt.ExchangeNotAvailable, ccxt.DDoSProtection]


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit", "okx"])
def test_transient_errors_on_random_pages_still_give_the_complete_frame(exchange_id, tmp_path, monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(exchange_mod, "_sleep", delays.append)
    venue = SimVenue(exchange_id, History(T0, 700, seed=6))
    rng = np.random.default_rng(11)
    failures = {"n": 0}

    def flaky(path, q):  # not the first request: a fault there, with no answer yet, means offline
        if venue.calls[1:] and rng.random() < 0.3:
            failures["n"] += 1
            return TRANSIENT[int(rng.integers(len(TRANSIENT)))]("simulated outage")
        return None

    venue.fail = flaky
    end = T0 + 600 * H
    df = fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False,
                           retries=8, backoff=0.01)
    clean = SimVenue(exchange_id, History(T0, 700, seed=6))
    expected = fetch_market_data(clean.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=False, progress=False)
    pd.testing.assert_frame_equal(df, expected)
    assert failures["n"] >= 3 and len(delays) == failures["n"]
    assert all(0 < d <= 60 for d in delays)


def test_backoff_grows_exponentially_with_jitter(monkeypatch):
    delays: list[float] = []
    monkeypatch.setattr(exchange_mod, "_sleep", delays.append)
    venue = SimVenue("binanceusdm", History(T0, 1500, seed=17))
    venue.fail = lambda path, q: ccxt.RequestTimeout("timed out") if int(q["startTime"]) > T0 else None
    with pytest.raises(FetchError) as info:  # the first page arrives, then the exchange times out
        fetch_series(venue.ex(), "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 1500 * H, cache_dir=False,
                     progress=False, retries=4, backoff=1.0)
    assert len(venue.calls) == 1 + 5 and len(delays) == 4
    for k, d in enumerate(delays):
        assert 0.5 * 2**k <= d <= 1.5 * 2**k
    msg = str(info.value)
    assert "binanceusdm" in msg and "fetchOHLCV" in msg and "BTC/USDT:USDT" in msg and "again" in msg
    assert isinstance(info.value.__cause__, ccxt.RequestTimeout)
    assert (info.value.exchange, info.value.method, info.value.symbol) == ("binanceusdm", "fetchOHLCV", "BTC/USDT:USDT")


@pytest.mark.parametrize("error", [ccxt.BadSymbol, ccxt.AuthenticationError, ccxt.NotSupported])
def test_no_retry_on_permanent_errors(error):
    replay = Replay({("GET", "/fapi/v1/klines"): error("refused")})
    ex = instance("binanceusdm", replay)
    with pytest.raises(FetchError) as info:
        fetch_series(ex, "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 10 * H, cache_dir=False, progress=False)
    assert len(replay.calls) == 1
    assert isinstance(info.value.__cause__, error)
    assert isinstance(info.value, NotSupportedError) == (error is ccxt.NotSupported)


def test_unknown_symbol_is_a_clear_error():
    ex = instance("binanceusdm", Replay({}))
    with pytest.raises(FetchError, match="unified symbol"):
        fetch_series(ex, "ETH/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 10 * H, cache_dir=False, progress=False)


def test_an_unexpected_url_fails_the_test_not_a_retry():
    ex = instance("binanceusdm", Replay({}))
    with pytest.raises(AssertionError, match="unexpected request GET https://fapi.binance.com/fapi/v1/klines"):
        fetch_series(ex, "BTC/USDT:USDT", "ohlcv", "1h", start=T0, end=T0 + 10 * H, cache_dir=False, progress=False)


def test_permanent_failure_keeps_pages_and_the_next_run_resumes(tmp_path):
    venue = SimVenue("okx", History(T0, 800, seed=8), overlap=2)
    served = {"klines": 0}

    def die_after_four_pages(path, q):
        if path == "klines" and "after" in q:
            served["klines"] += 1
            if served["klines"] > 4:
                return ccxt.ExchangeNotAvailable("503 Service Unavailable")
        return None

    venue.fail = die_after_four_pages
    end = T0 + 700 * H
    with pytest.raises(FetchError, match=r"okx fetchOHLCV for BTC/USDT:USDT failed after 3 attempts") as info:
        fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False,
                          retries=2, include=("ohlcv",))
    assert isinstance(info.value.__cause__, ccxt.ExchangeNotAvailable)
    rows, covered = SeriesCache(tmp_path, "okx", "BTC/USDT:USDT", "1h", "ohlcv").read()
    assert covered == [(T0, T0 + 400 * H - 1)]  # four pages of 100 candles
    assert len(rows) >= 400 and rows["timestamp"].is_monotonic_increasing
    # the next run asks only for the missing three pages
    venue.fail = lambda path, q: None
    n = len(venue.calls)
    df = fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False,
                           include=("ohlcv",))
    assert len(venue.calls) - n == 3
    assert len(df) == 700
    fresh = SimVenue("okx", History(T0, 800, seed=8))
    pd.testing.assert_frame_equal(
        df, fetch_market_data(fresh.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=False, progress=False,
                              include=("ohlcv",)))


def test_second_identical_call_makes_no_request_and_needs_no_markets(tmp_path):
    venue = SimVenue("bybit", History(T0, 500, seed=9))
    end = T0 + 480 * H
    first = fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False)
    assert venue.calls

    def no_network(*a, **k):
        raise AssertionError("no request expected")

    # a string id and a cold instance: ccxt is not even asked to load markets
    ex = ccxt.bybit()
    ex.fetch = no_network
    second = fetch_market_data(ex, "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False)
    pd.testing.assert_frame_equal(first, second)
    third = fetch_market_data("bybit", "BTC/USDT:USDT", "1h", start=T0, end=end, cache_dir=tmp_path, progress=False)
    pd.testing.assert_frame_equal(first, third)
    # a sub-range too
    sub = fetch_market_data(ex, "BTC/USDT:USDT", "1h", start=T0 + 100 * H, end=T0 + 200 * H, cache_dir=tmp_path,
                            progress=False)
    pd.testing.assert_frame_equal(sub, first.iloc[100:200])


def test_extending_the_range_fetches_only_the_new_part(tmp_path):
    venue = SimVenue("binanceusdm", History(T0, 3000, seed=10))
    fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0 + 1000 * H, end=T0 + 2000 * H, cache_dir=tmp_path,
                      progress=False, include=("ohlcv",))
    n = len(venue.calls)
    fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=T0 + 3000 * H, cache_dir=tmp_path,
                      progress=False, include=("ohlcv",))
    windows = [(int(q["startTime"]), int(q["endTime"])) for _, _, q in venue.calls[n:]]
    assert windows == [(T0, T0 + 1000 * H - 1), (T0 + 2000 * H, T0 + 3000 * H - 1)]


def test_cache_disabled_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LIQTOOLS_CACHE_DIR", str(tmp_path))
    venue = SimVenue("binanceusdm", History(T0, 50, seed=12))
    fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=T0 + 40 * H, cache_dir=False, progress=False)
    assert list(tmp_path.iterdir()) == []
    fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=T0 + 40 * H, progress=False)
    assert (tmp_path / "binanceusdm" / "BTC_USDT_USDT").is_dir()


def test_progress_bar_per_series(tmp_path, capsys):
    venue = SimVenue("binanceusdm", History(T0, 50, seed=13))
    fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=T0 + 40 * H, cache_dir=False, progress=True)
    err = capsys.readouterr().err
    for series in ("ohlcv", "open_interest", "funding", "mark"):
        assert f"binanceusdm BTC/USDT:USDT {series}" in err


# -- input checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exchange": "binanceusdmm"}, "did you mean binanceusdm"),
        ({"timeframe": "1 hour"}, "timeframe must look like"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "end must be after start"),
        ({"start": "yesterday-ish"}, "start must be a date"),
        ({"include": ("funding",)}, "must contain 'ohlcv'"),
        ({"include": ("ohlcv", "oi")}, "unknown series"),
        ({"source": "web"}, "source must be"),
        ({"exchange": 42}, "ccxt id or a ccxt Exchange instance"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    args = {"exchange": "binanceusdm", "timeframe": "1h", "start": "2024-01-01", "end": "2024-01-02", **kwargs}
    ex = args.pop("exchange")
    with pytest.raises(DataError, match=message):
        fetch_market_data(ex, "BTC/USDT:USDT", cache_dir=False, progress=False, **args)


def test_importing_the_module_does_not_import_ccxt():
    code = "import sys, liqtools.data.exchange, liqtools.data.cache, liqtools.data.archive; print('ccxt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_cli_fetch_writes_a_readable_file(tmp_path, monkeypatch, capsys):
    from liqtools.cli import main
    from liqtools.data.files import read_market

    venue = SimVenue("binanceusdm", History(T0, 80, seed=15))
    monkeypatch.setattr(exchange_mod, "_resolve_exchange", lambda exchange: venue.ex())
    out = tmp_path / "btc.parquet"
    code = main(["fetch", "binanceusdm", "BTC/USDT:USDT", "--timeframe", "1h", "--start", "2024-03-01",
                 "--end", "2024-03-03", "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    assert code == 0
    df = read_market(out)
    assert len(df) == 48 and "oi_usd" in df and "mark_close" in df
    assert "48 candles" in capsys.readouterr().out
    # errors come out as liqtools errors with exit code 2
    assert main(["fetch", "binanceusdm", "BTC/USDT:USDT", "--start", "2024-03-03", "--end", "2024-03-01",
                 "-o", str(out), "--no-progress"]) == 2
    assert "end must be after start" in capsys.readouterr().err


def test_no_warnings_on_a_clean_fetch(tmp_path):
    venue = SimVenue("okx", History(T0, 60, seed=16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=T0, end=T0 + 48 * H, cache_dir=tmp_path, progress=False)
