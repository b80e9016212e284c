"""Binance archive files: readers, and the downloader against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import liqtools.data.archive as archive_mod
from liqtools.data import (
    fetch_binance_archive,
    fetch_market_data,
    read_binance_klines,
    read_binance_liquidations,
    read_binance_metrics,
)
from liqtools.errors import DataError, FetchError

KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                "taker_buy_quote_volume,ignore")
METRICS_HEADER = ("create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
                  "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio")
LIQ_HEADER = ("time,side,order_type,time_in_force,original_quantity,price,average_price,order_status,"
              "last_fill_quantity,accumulated_fill_quantity")
H = 3_600_000


def kline_csv(day: str, interval_ms: int = H, *, header: bool = True, seed: int = 0, mark: bool = False) -> str:
    rng = np.random.default_rng(seed + int(pd.Timestamp(day).value // 10**9) % 1000)
    t0 = int(pd.Timestamp(day, tz="UTC").value // 1_000_000)
    n = 86_400_000 // interval_ms
    close = np.round(42000 * np.exp(np.cumsum(rng.normal(0, 0.003, n))), 1)
    open_ = np.concatenate([[42000.0], close[:-1]])
    lines = [KLINE_HEADER] if header else []
    for i in range(n):
        hi, lo = max(open_[i], close[i]) + 5.0, min(open_[i], close[i]) - 5.0
        vol = 0.0 if mark else round(float(rng.uniform(100, 900)), 3)
        buy = round(vol * 0.55, 3)
        lines.append(f"{t0 + i * interval_ms},{open_[i]:.1f},{hi:.1f},{lo:.1f},{close[i]:.1f},{vol},"
                     f"{t0 + (i + 1) * interval_ms - 1},{vol * close[i]:.4f},{1000 + i},{buy},{buy * close[i]:.4f},0")
    return "\n".join(lines) + "\n"


def metrics_csv(day: str) -> str:
    t0 = pd.Timestamp(day)
    lines = [METRICS_HEADER]
    for i in range(288):
        t = t0 + pd.Timedelta(minutes=5 * i)
        oi = 80000 + i
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},BTCUSDT,{oi}.123,{oi * 42000.5:.2f},1.61,1.34,1.87,0.96")
    return "\n".join(lines) + "\n"


def liq_csv(day: str) -> str:
    t0 = int(pd.Timestamp(day, tz="UTC").value // 1_000_000)
    rows = [f"{t0 + 1000},SELL,LIMIT,IOC,0.010,34530.12,34712.50,FILLED,0.010,0.010",
            f"{t0 + 7000},BUY,LIMIT,IOC,0.500,35001.00,34999.10,FILLED,0.500,0.500"]
    return "\n".join([LIQ_HEADER, *rows]) + "\n"


def zipped(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, text)
    return buf.getvalue()


class Archive:
    """A directory laid out like data.binance.vision, served on 127.0.0.1 with a request log."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []
        self.fail_next: dict[str, int] = {}
        # faults served instead of the file, in order: "truncate" (the body stops half-way, short of its
        # Content-Length), "html" (a 200 with an HTML page), "cut" (half a zip, with a matching length)
        self.faults: dict[str, list[str]] = {}
        archive = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a, **k):
                super().__init__(*a, directory=str(root), **k)

            def do_GET(self):
                archive.requests.append(self.path)
                left = archive.fail_next.get(self.path, 0)
                if left:
                    archive.fail_next[self.path] = left - 1
                    self.send_error(503, "busy")
                    return
                faults = archive.faults.get(self.path)
                if faults:
                    self.fault(faults.pop(0))
                    return
                super().do_GET()

            def fault(self, kind):
                data = (root / self.path.lstrip("/")).read_bytes()
                body = {"html": b"<html><body>Service temporarily unavailable</body></html>",
                        "cut": data[: len(data) // 2]}.get(kind, data)
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if kind == "html" else "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if kind == "truncate" else body)
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def put(self, kind: str, day: str, text: str, *, interval: str | None = None, checksum: bool = True,
            bad_checksum: bool = False) -> str:
        stem = f"BTCUSDT-{interval or kind}-{day}"
        folder = self.root / "data/futures/um/daily" / kind / "BTCUSDT" / (interval or "")
        folder.mkdir(parents=True, exist_ok=True)
        data = zipped(stem + ".csv", text)
        (folder / f"{stem}.zip").write_bytes(data)
        if checksum:
            digest = hashlib.sha256(data + (b"x" if bad_checksum else b"")).hexdigest()
            (folder / f"{stem}.zip.CHECKSUM").write_text(f"{digest}  {stem}.zip\n")
        return f"/data/futures/um/daily/{kind}/BTCUSDT/{interval + '/' if interval else ''}{stem}.zip"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def archive(tmp_path):
    a = Archive(tmp_path / "www")
    yield a
    a.close()


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(archive_mod, "_sleep", lambda s: None)


# -- readers -----------------------------------------------------------------------------------------


def test_klines_with_and_without_header_zip_or_csv(tmp_path):
    text = kline_csv("2024-01-01")
    z = tmp_path / "BTCUSDT-1h-2024-01-01.zip"
    z.write_bytes(zipped("BTCUSDT-1h-2024-01-01.csv", text))
    c = tmp_path / "old.csv"
    c.write_text(kline_csv("2024-01-01", header=False))
    a, b = read_binance_klines(z), read_binance_klines(c)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 24 and str(a.index[0]) == "2024-01-01 00:00:00+00:00"
    assert list(a.columns) == ["open", "high", "low", "close", "volume", "taker_buy_volume"]
    assert (a["taker_buy_volume"] <= a["volume"]).all()
    # two days at once, overlapping rows once
    two = read_binance_klines(z, c, kline_csv("2024-01-02").encode())
    assert len(two) == 48 and two.index.is_unique


def test_metrics_reader_gives_usd_open_interest_and_ratios():
    df = read_binance_metrics(zipped("m.csv", metrics_csv("2024-01-01")))
    assert len(df) == 288 and df.index[1] - df.index[0] == pd.Timedelta("5min")
    assert df["oi_usd"].iloc[0] == pytest.approx(80000 * 42000.5)
    assert df["oi_contracts"].iloc[0] == pytest.approx(80000.123)
    assert set(df.columns) >= {"top_trader_account_ratio", "top_trader_position_ratio", "account_ratio", "taker_buy_sell_ratio"}


def test_liquidation_snapshot_reader():
    df = read_binance_liquidations(zipped("l.csv", liq_csv("2021-07-01")))
    assert df["side"].tolist() == ["long", "short"]
    assert df["notional_usd"].tolist() == pytest.approx([0.01 * 34712.5, 0.5 * 34999.1])


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(DataError, match="x.zip: not a valid zip"):
        read_binance_klines(bad)
    with pytest.raises(DataError, match="missing metrics column"):
        read_binance_metrics(b"a,b\n1,2\n")
    with pytest.raises(DataError, match="no such file"):
        read_binance_klines(tmp_path / "nope.zip")


# -- downloader --------------------------------------------------------------------------------------


def test_download_caches_and_a_second_call_makes_no_request(archive, tmp_path):
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        archive.put("klines", day, kline_csv(day), interval="1h")
    kw = {"start": "2024-01-01", "end": "2024-01-04", "interval": "1h", "base_url": archive.url, "cache_dir": tmp_path / "c",
              "progress": False}
    df = fetch_binance_archive("klines", "BTC/USDT:USDT", **kw)
    assert len(df) == 72 and df.index.is_monotonic_increasing
    assert len(archive.requests) == 6  # three zips, three checksums
    again = fetch_binance_archive("klines", "BTCUSDT", **kw)
    assert len(archive.requests) == 6
    pd.testing.assert_frame_equal(df, again)
    part = fetch_binance_archive("klines", "BTCUSDT", **{**kw, "start": "2024-01-02 05:00", "end": "2024-01-02 07:00"})
    assert len(part) == 2 and len(archive.requests) == 6


def test_a_day_the_archive_does_not_have_is_skipped_and_remembered(archive, tmp_path):
    archive.put("metrics", "2024-01-01", metrics_csv("2024-01-01"))
    kw = {"start": "2024-01-01", "end": "2024-01-03", "base_url": archive.url, "cache_dir": tmp_path / "c", "progress": False}
    df = fetch_binance_archive("metrics", "BTCUSDT", **kw)
    assert len(df) == 288
    n = len(archive.requests)
    fetch_binance_archive("metrics", "BTCUSDT", **kw)
    assert len(archive.requests) == n


def test_checksum_mismatch_is_refused_and_nothing_is_cached(archive, tmp_path):
    archive.put("klines", "2024-01-01", kline_csv("2024-01-01"), interval="1h", bad_checksum=True)
    with pytest.raises(FetchError, match="does not match its .CHECKSUM"):
        fetch_binance_archive("klines", "BTCUSDT", start="2024-01-01", end="2024-01-02", interval="1h",
                              base_url=archive.url, cache_dir=tmp_path / "c", progress=False)
    assert not list((tmp_path / "c").rglob("*.zip"))


def test_server_errors_are_retried_then_reported(archive, tmp_path):
    path = archive.put("klines", "2024-01-01", kline_csv("2024-01-01"), interval="1h")
    archive.fail_next[path] = 2
    df = fetch_binance_archive("klines", "BTCUSDT", start="2024-01-01", end="2024-01-02", interval="1h",
                               base_url=archive.url, cache_dir=False, progress=False, retries=3)
    assert len(df) == 24 and archive.requests.count(path) == 3
    archive.fail_next[path] = 10
    with pytest.raises(FetchError, match=r"failed after 3 attempts .* run the same call again later"):
        fetch_binance_archive("klines", "BTCUSDT", start="2024-01-01", end="2024-01-02", interval="1h",
                              base_url=archive.url, cache_dir=False, progress=False, retries=2)


def test_market_frame_from_the_archive(archive, tmp_path, monkeypatch):
    for day in ("2024-01-01", "2024-01-02"):
        archive.put("klines", day, kline_csv(day), interval="1h")
        archive.put("markPriceKlines", day, kline_csv(day, seed=5, mark=True), interval="1h")
        archive.put("metrics", day, metrics_csv(day))
    monkeypatch.setenv("LIQTOOLS_BINANCE_ARCHIVE_URL", archive.url)
    df = fetch_market_data("binanceusdm", "BTC/USDT:USDT", "1h", start="2024-01-01", end="2024-01-03",
                           include=("ohlcv", "open_interest", "mark"), source="archive", cache_dir=tmp_path / "c",
                           progress=False)
    assert len(df) == 48
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "taker_buy_volume", "oi_usd",
                                "mark_close", "mark_high", "mark_low"]
    # the candle 00:00-01:00 reads the 01:00 snapshot (index 12 of the 5-minute file)
    assert df["oi_usd"].iloc[0] == pytest.approx((80000 + 12) * 42000.5)
    assert df["oi_usd"].iloc[-1] == pytest.approx((80000 + 287) * 42000.5)  # 2024-01-03 00:00 is not in the archive


def test_source_auto_takes_old_binance_open_interest_from_the_archive(archive, tmp_path, monkeypatch):
    from exchange_replay import History, SimVenue

    monkeypatch.setenv("LIQTOOLS_BINANCE_ARCHIVE_URL", archive.url)
    # the span straddles the 30-day REST window at any time of day (a span cut at midnight fell wholly
    # outside it late in the day)
    hour = pd.Timestamp.now(tz="UTC").floor("h")
    start, end = hour - pd.Timedelta(days=33), hour - pd.Timedelta(days=29)
    for d in pd.date_range((start - pd.Timedelta(days=1)).floor("D"), (end + pd.Timedelta(days=1)).floor("D"), freq="D"):
        archive.put("metrics", f"{d:%Y-%m-%d}", metrics_csv(f"{d:%Y-%m-%d}"))
    first = int(start.value // 1_000_000)
    venue = SimVenue("binanceusdm", History(first - 48 * H, 24 * 8, seed=30))
    df = fetch_market_data(venue.ex(), "BTC/USDT:USDT", "1h", start=start, end=end, include=("ohlcv", "open_interest"),
                           source="auto", cache_dir=tmp_path / "c", progress=False)
    assert len(df) == 96 and df["oi_usd"].notna().all()
    cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=30) + pd.Timedelta(hours=1)
    old = df[df.index + pd.Timedelta(hours=1) < cutoff]
    assert len(old) > 24
    # archive values: 80000 + i contracts at 42000.5, i = 5-minute slot of the day
    slot = ((old.index + pd.Timedelta(hours=1)).hour * 12).to_numpy()
    np.testing.assert_allclose(old["oi_usd"], (80000 + slot) * 42000.5)
    assert any("metrics" in r for r in archive.requests)
    assert any(p == "/futures/data/openInterestHist" for _, p, _ in venue.calls)


# -- bodies that must never be cached ----------------------------------------------------------------


def _kw(archive, tmp_path, **kw):
    return dict(start="2024-01-01", end="2024-01-02", interval="1h", base_url=archive.url, cache_dir=tmp_path / "c",
                progress=False, **kw)


def cached_zips(tmp_path):
    return sorted(p.name for p in (tmp_path / "c").rglob("*.zip"))


def test_a_truncated_body_is_retried_like_a_transient_fault(archive, tmp_path):
    path = archive.put("klines", "2024-01-01", kline_csv("2024-01-01"), interval="1h")
    archive.faults[path] = ["truncate", "truncate"]
    df = fetch_binance_archive("klines", "BTCUSDT", **_kw(archive, tmp_path, retries=3))
    assert len(df) == 24 and archive.requests.count(path) == 3
    assert cached_zips(tmp_path) == ["BTCUSDT-1h-2024-01-01.zip"]
    pd.testing.assert_frame_equal(df, read_binance_klines(next((tmp_path / "c").rglob("*.zip"))))


def test_a_body_truncated_every_time_is_an_error_and_nothing_is_cached(archive, tmp_path):
    path = archive.put("klines", "2024-01-01", kline_csv("2024-01-01"), interval="1h")
    archive.faults[path] = ["truncate"] * 10
    with pytest.raises(FetchError, match=r"failed after 3 attempts .*(truncated|IncompleteRead)"):
        fetch_binance_archive("klines", "BTCUSDT", **_kw(archive, tmp_path, retries=2))
    assert cached_zips(tmp_path) == []


@pytest.mark.parametrize("fault", ["html", "cut"])
@pytest.mark.parametrize("checksum", [True, False])
def test_a_body_that_is_not_a_valid_zip_is_never_cached(fault, checksum, archive, tmp_path):
    path = archive.put("klines", "2024-01-01", kline_csv("2024-01-01"), interval="1h", checksum=checksum)
    archive.faults[path] = [fault] * 10
    with pytest.raises(FetchError, match="not a valid zip|does not match its .CHECKSUM") as info:
        fetch_binance_archive("klines", "BTCUSDT", **_kw(archive, tmp_path, retries=2))
    assert "nothing was cached" in str(info.value)
    assert archive.requests.count(path) == 3  # retried like a transient fault
    assert cached_zips(tmp_path) == []
    # the next call, with the archive healthy again, downloads the file
    archive.faults.clear()
    assert len(fetch_binance_archive("klines", "BTCUSDT", **_kw(archive, tmp_path))) == 24
    assert cached_zips(tmp_path) == ["BTCUSDT-1h-2024-01-01.zip"]


def test_a_bad_file_cached_by_an_older_version_is_fetched_again(archive, tmp_path):
    archive.put("klines", "2024-01-01", kline_csv("2024-01-01"), interval="1h")
    fetch_binance_archive("klines", "BTCUSDT", **_kw(archive, tmp_path))
    local = next((tmp_path / "c").rglob("*.zip"))
    local.write_bytes(b"<html>cached by mistake</html>")
    n = len(archive.requests)
    assert len(fetch_binance_archive("klines", "BTCUSDT", **_kw(archive, tmp_path))) == 24
    assert len(archive.requests) > n and zipfile.is_zipfile(local)


def test_offline_fails_at_once_without_retries(tmp_path, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(archive_mod, "_sleep", sleeps.append)
    with pytest.raises(FetchError, match=r"no network connection to 127\.0\.0\.1:9"):
        fetch_binance_archive("klines", "BTCUSDT", start="2024-01-01", end="2024-01-03", interval="1h",
                              base_url="http://127.0.0.1:9", cache_dir=tmp_path / "c", progress=False)
    assert sleeps == []


def test_a_connection_lost_after_a_first_answer_is_retried(archive, tmp_path, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(archive_mod, "_sleep", sleeps.append)
    for day in ("2024-01-01", "2024-01-02"):
        archive.put("klines", day, kline_csv(day), interval="1h")
    real = archive_mod.download._get_once
    lost = {"n": 0}

    def flaky(url, what):
        if "2024-01-02.zip" in url and not url.endswith("CHECKSUM") and lost["n"] < 2:
            lost["n"] += 1
            raise archive_mod.download._Transient("URLError: connection reset", offline=True)
        return real(url, what)

    monkeypatch.setattr(archive_mod.download, "_get_once", flaky)
    df = fetch_binance_archive("klines", "BTCUSDT", start="2024-01-01", end="2024-01-03", interval="1h",
                               base_url=archive.url, cache_dir=tmp_path / "c", progress=False)
    assert len(df) == 48 and len(sleeps) == 2
