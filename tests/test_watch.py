"""The watch: the monitor equals the batch model candle by candle, replays of the bundled crashes fire where a
hand check expects, alerts reach the log and a webhook on 127.0.0.1, and the live feed survives a venue pausing
and a restart (ccxt's real parsing over a simulated venue; no network)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import ccxt
import numpy as np
import pandas as pd
import pytest
from cli_util import run
from exchange_replay import NOW, History, SimVenue, fast_exchange

import liqtools as lt
import liqtools.data.exchange as exchange_mod
from liqtools.analysis.engagement import AlertRule, engagement_at
from liqtools.errors import DataError
from liqtools.watch import Monitor
from liqtools.watch.live import OI_WAIT, watch_live
from liqtools.watch.replay import parse_speed, replay

H = 3_600_000


def test_monitor_reads_each_candle_like_the_batch_model():
    df = lt.load_sample().iloc[-700:]
    rule = AlertRule(velocity_min=0.001, volume_ratio_min=2.0)
    mon = Monitor(df.iloc[:400], rule=rule, bin_size=200.0, price_range=(20_000, 200_000), every=24)
    readings = mon.step(df.iloc[400:])
    batch = lt.liquidation_heatmap(df, bin_size=200.0, price_range=(20_000, 200_000), every=24)
    assert np.allclose(mon.heatmap.long, batch.long, rtol=1e-9, atol=1e-3)
    for t in range(400, 700, 37):  # the bands before candle t, from the batch model's levels
        levels = batch.levels_at(t - 1)
        price = float(df["close"].iloc[t - 1])
        clusters = lt.find_clusters(lt.liquidation_map(levels, price, bin_size=200.0), price)
        want = engagement_at(df.iloc[: t + 1], t, clusters, levels, rule)
        got = readings[t - 400].engagement
        assert (got.time, got.inside, got.entered, got.side) == (want.time, want.inside, want.entered, want.side)
        assert got.notional_ahead_usd == pytest.approx(want.notional_ahead_usd, rel=1e-9, abs=1e-3)
        assert (got.alert is None) == (want.alert is None)
    assert [a.time for a in mon.alerts] == [r.engagement.time for r in readings if r.alert is not None]


def hand_check(df, start, end, rule):
    """Candles a trader would flag by hand: a move at or beyond the rule's speed on at least its volume."""
    w = df[pd.Timestamp(start, tz="UTC") : end]
    speed = np.log(df["close"]).diff(rule.lookback).abs() / rule.lookback
    vol = df["volume"] / df["volume"].shift(1).rolling(rule.lookback).median()
    return set(w.index[(speed[w.index] >= rule.velocity_min) & (vol[w.index] >= rule.volume_ratio_min)])


@pytest.mark.parametrize(
    ("sample", "start", "crash_day", "crash_candle"),
    [("btc", "2026-02-03", "2026-02-05", "2026-02-05 15:00"), ("eth-2024", "2024-08-03", "2024-08-05", "2024-08-05 06:00")],
)
def test_replay_of_a_bundled_crash_fires_where_a_hand_check_expects(sample, start, crash_day, crash_candle):
    df = lt.load_sample(sample)
    mon = replay(df, start=start)
    rule = mon.rule
    assert rule.note.endswith(f"to {(pd.Timestamp(start) - pd.Timedelta('1D')):%Y-%m-%d}")  # thresholds from the past only
    flagged = hand_check(df, start, df.index[-1], rule)
    fired = {a.time for a in mon.alerts}
    assert fired and fired <= flagged  # every alert is a fast, heavy candle...
    on_crash_day = [a for a in mon.alerts if f"{a.time:%Y-%m-%d}" == crash_day]
    assert pd.Timestamp(crash_candle, tz="UTC") in {a.time for a in on_crash_day}  # ...and the crash fires
    assert all(a.side == "long" and a.pct_per_hour < 0 for a in on_crash_day)  # a flush: long bands, falling
    for a in mon.alerts:
        assert a.band_low < a.band_high and a.notional_ahead_usd >= 0 and np.isfinite(a.pct_per_hour)
        assert a.text.startswith(f"price entered the ${a.band_low:,.0f}") and "modelled" in a.text


def test_speed_waits_one_candle_over_the_speed():
    waits = []
    df = lt.load_sample()
    replay(df.iloc[-80:], start=df.index[-3], speed="60x", sleep=waits.append)
    assert waits == [60.0, 60.0]  # hourly candles at 60x: a minute each, none before the first
    assert parse_speed("max") is None and parse_speed("3600x") == 3600.0
    for bad in ("0x", "fast", "-2x", "infx"):
        with pytest.raises(DataError, match="speed must be"):
            parse_speed(bad)


class _Hook(BaseHTTPRequestHandler):
    got: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.got.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_cli_replay_log_and_webhook_on_localhost(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.got = []
    log = tmp_path / "alerts.jsonl"
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        status, out, err = run(["watch", "--replay", "btc", "--from", "2026-02-03", "--log", str(log), "--webhook", url])
    finally:
        server.shutdown()
    assert status == 0, err
    alerts = [line for line in out.splitlines() if line.startswith("  ALERT: ")]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(alerts) == len(records) == len(_Hook.got) >= 3
    assert [r["text"] for r in records] == [a.removeprefix("  ALERT: ") for a in alerts]
    assert [h["alert"] for h in _Hook.got] == records
    assert _Hook.got[0]["text"].startswith(records[0]["time"][:10])
    assert "UTC  $" in out.splitlines()[0] and "replayed" in out.splitlines()[-1] and "Thresholds:" in out


def test_cli_watch_refusals_and_a_webhook_that_does_not_answer(tmp_path):
    cases = [
        (["watch", "--replay", "nowhere.parquet"], "neither a bundled sample"),
        (["watch", "--replay", "btc", "--from", "2030-01-01"], "lies outside the data"),
        (["watch", "--replay", "btc", "--speed", "fast"], "speed must be like 60x"),
        (["watch", "--replay", "btc", "--webhook", "ftp://x"], "must be an http(s) URL"),
        (["watch", "--replay", "btc", "--log", str(tmp_path)], "is a directory"),
        (["watch", "binanceusdm", "BTC/USDT:USDT", "--replay", "btc"], "give no EXCHANGE SYMBOL"),
        (["watch"], "give EXCHANGE SYMBOL"),
        (["watch", "--replay", "btc", "--every", "0s"], "expected a time like 60s"),
        (["watch", "binanceusdm", "BTC/USDT:USDT", "--history", "xyz"], "history must be a time span"),
        (["watch", "binanceusdm", "BTC/USDT:USDT", "--history", "5"], "at least one 1m candle"),
    ]
    for argv, message in cases:
        status, _, err = run(argv)
        assert status == 2 and message in err and "Traceback" not in err, (argv, err)
    status, out, err = run(["watch", "--replay", "btc", "--from", "2026-02-03", "--quiet", "--webhook", "http://127.0.0.1:9/x",
                            "--log", "/dev/null"])  # nothing listens on port 9; /dev/null takes no fsync
    assert status == 0 and "Traceback" not in err
    assert out.count("ALERT") >= 3 and err.count("did not take the alert") == out.count("ALERT")


# -- live, over ccxt's real parsing of a simulated Binance --------------------------------------------------
def test_live_watch_survives_a_pause_and_resumes_after_a_restart(monkeypatch, tmp_path):
    fast_exchange(monkeypatch)
    clock = {"now": NOW}
    monkeypatch.setattr(exchange_mod, "_now_ms", lambda: clock["now"])
    venue = SimVenue("binanceusdm", History(NOW - 120 * H, 130, seed=8), overlap=0, shuffle=False)
    paused = {"on": False}
    venue.fail = lambda path, q: ccxt.ExchangeNotAvailable("maintenance") if paused["on"] else None
    lines, readings = [], []

    def tick(seconds):
        clock["now"] += int(seconds * 1000)
        paused["on"] = clock["now"] == NOW + 2 * H  # the venue pauses during the second poll

    def now():
        return pd.Timestamp(clock["now"], unit="ms", tz="UTC")

    mon = watch_live(venue.ex(), "BTC/USDT:USDT", timeframe="1h", every=3600, history="4D", polls=4, cache_dir=tmp_path,
                     show=readings.append, say=lines.append, sleep=tick, now=now)
    assert any("poll failed" in line and "maintenance" in line for line in lines)  # said, not raised
    times = pd.DatetimeIndex([r.engagement.time for r in readings])
    first = pd.Timestamp(lines[0].split(" from ")[1].split(" UTC")[0], tz="UTC")  # the history's last candle
    assert times[0] == first + pd.Timedelta(1, "h") and (times.diff()[1:] == pd.Timedelta(1, "h")).all()  # none lost
    assert mon.last_time == times[-1] >= now() - OI_WAIT * pd.Timedelta(1, "h")  # the newest wait for open interest
    assert all(np.isfinite(r.engagement.price) for r in readings)
    # a restart reads the history from the cache: no candle request before the first poll
    calls = len(venue.calls)
    watch_live(venue.ex(), "BTC/USDT:USDT", timeframe="1h", every=3600, history="4D", polls=0, cache_dir=tmp_path,
               say=lines.append, sleep=tick, now=now)
    assert len(venue.calls) - calls <= 2  # at most the still-open newest page of each series
    # a poll with no new closed candle says so
    watch_live(venue.ex(), "BTC/USDT:USDT", timeframe="1h", every=1, history="4D", polls=1, cache_dir=tmp_path,
               say=lines.append, sleep=lambda s: None, now=now)
    assert "no new closed candle" in lines[-1]
