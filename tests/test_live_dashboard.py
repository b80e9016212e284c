"""LiveDashboard at the widget level: every source holds what the monitor gives, refreshed in place."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsStreamedEvent, ModelChangedEvent
from widget_util import assert_source

import liqtools as lt
from liqtools.errors import DataError
from liqtools.plotting.live import CROP, live_ranges
from liqtools.plotting.maps import map_data, to_ms
from liqtools.plotting.theme import CAVEAT
from liqtools.watch.replay import replay
from liqtools.widgets import LiveDashboard

START = "2026-02-04 12:00"


@pytest.fixture(scope="module")
def sample():
    return lt.load_sample()


def expected(dash):
    """What the plots must show, from the monitor itself (not through liqtools.plotting.live)."""
    m = dash.monitor
    hm = m.heatmap
    k0 = len(hm.times) - dash.window
    recent = m.df[m.df.index >= hm.times[k0]]
    img = dash.sources["live_heatmap"].data
    j0 = int(np.flatnonzero(hm.edges == img["y"][0])[0])
    j1 = int(np.flatnonzero(hm.edges == img["y"][0] + img["dh"][0])[0])
    # the rows sent cover the recent candles with the margin (and no more than one bin beyond it)
    assert hm.edges[j0] <= recent["low"].min() / (1 + CROP) < hm.edges[j0 + 1]
    assert hm.edges[j1 - 1] < recent["high"].max() * (1 + CROP) <= hm.edges[j1]
    candle = 3_600_000.0
    long_img = hm.long[k0:, j0:j1].T.astype(np.float32)
    levels, clusters, price = m.bands()
    map_df = lt.liquidation_map(levels, price, bin_size=hm.bin_size, price_range=(hm.edges[j0], hm.edges[j1]))
    side = map_data(map_df, price)
    return {
        "live_heatmap": {
            "image": [long_img + hm.short[k0:, j0:j1].T.astype(np.float32)], "long": [long_img],
            "x": [to_ms(hm.times[k0:k0 + 1])[0] + candle], "y": [hm.edges[j0]], "dw": [candle * dash.window],
            "dh": [hm.edges[j1] - hm.edges[j0]],
        },
        "live_candles": {
            "time": to_ms(recent.index), "open": recent["open"].to_numpy(), "high": recent["high"].to_numpy(),
            "low": recent["low"].to_numpy(), "close": recent["close"].to_numpy(),
            "color": ["#1a9c74" if c >= o else "#d6404e" for o, c in zip(recent["open"], recent["close"])],
        },
        "side_bars": side["map_bars"], "side_cumulative": side["map_cumulative"], "side_price": {"x": [price]},
        "live_clusters": {
            "bottom": clusters["low"].to_numpy(), "top": clusters["high"].to_numpy(), "side": clusters["side"].tolist(),
            "notional_usd": clusters["notional_usd"].to_numpy(),
            "color": ["#1a9c74" if s == "short" else "#d6404e" for s in clusters["side"]],
        },
        "live_alerts": {
            "time": [to_ms(pd.DatetimeIndex([a.time]))[0] + candle / 2 for a in m.alerts],
            "price": [a.price for a in m.alerts], "side": [a.side for a in m.alerts],
            "color": ["#1a9c74" if a.side == "short" else "#d6404e" for a in m.alerts], "text": [str(a) for a in m.alerts],
        },
    }


def check_sources(dash):
    want = expected(dash)
    assert set(dash.sources) == set(want)
    for name, cols in want.items():
        assert_source(dash, name, cols)


def test_feed_refreshes_every_source_in_place(sample):
    dash = LiveDashboard.replay(sample, start=START, window=48)
    check_sources(dash)
    models = {"figure": dash.figure, "heat": dash.figure.children[0], "side": dash.figure.children[1],
              "x": dash.x_range, "y": dash.y_range, "mapper": dash.mapper, **dash.sources}
    view = (dash.x_range.start, dash.x_range.end, dash.y_range.start, dash.y_range.end)
    readings = dash.feed(dash.replay_candles.iloc[:5])
    assert len(readings) == 5 and dash.monitor.last_time == pd.Timestamp("2026-02-04 16:00", tz="UTC")
    check_sources(dash)
    now = {"figure": dash.figure, "heat": dash.figure.children[0], "side": dash.figure.children[1],
           "x": dash.x_range, "y": dash.y_range, "mapper": dash.mapper, **dash.sources}
    assert all(now[k] is v for k, v in models.items())  # the same Python objects: nothing rebuilt
    assert dash.figure.children[0].x_range is dash.x_range and dash.figure.children[1].y_range is dash.y_range
    assert (dash.x_range.start, dash.x_range.end, dash.y_range.start, dash.y_range.end) == view  # follow is off
    # the status line, the alerts newest first under the rule, the caveat
    assert html.escape(readings[-1].status) in dash.status.value
    assert dash.alert_lines == [str(a) for a in reversed(dash.monitor.alerts)]
    assert [line[:16] for line in dash.alert_lines] == ["2026-02-04 15:00"]
    assert html.escape(dash.alert_lines[0]) in dash.alerts_box.value
    assert html.escape(dash.monitor.rule.describe()) in dash.alerts_box.value
    assert CAVEAT in html.unescape(dash.readout.value) and "5 candle(s) watched" in dash.readout_lines[0]
    assert dash.feed(dash.replay_candles.iloc[:5]) == []  # candles already seen change nothing


def test_the_page_gets_patches_not_new_models(sample):
    """One more candle sends data changes (the candles and alerts streamed), never a new figure nor a change to
    the heatmap's view (the user's zoom); the side map's x ranges follow its bars (fitted in Python, so the
    page draws once and sends nothing back)."""
    dash = LiveDashboard.replay(sample, start="2026-02-04 14:00", window=48)
    doc = Document()
    doc.add_root(dash.figure)
    events: list = []
    doc.on_change(events.append)
    dash.controls["play"].value = 1  # 14:00: no alert
    dash.controls["play"].value = 2  # 15:00: the alert fires
    streamed = [e.model.name for e in events if isinstance(e, ColumnsStreamedEvent)]
    assert streamed == ["live_candles", "live_candles", "live_alerts"]
    replaced = {e.model.name for e in events if isinstance(e, ColumnDataChangedEvent)}
    assert "live_heatmap" in replaced and "live_candles" not in replaced
    changed = {(type(e.model).__name__, e.model.name, e.attr) for e in events if isinstance(e, ModelChangedEvent)}
    assert not any(kind in ("Figure", "Row") or name in ("live_x_range", "live_y_range") for kind, name, _ in changed), changed
    assert {name for kind, name, _ in changed if kind == "Range1d"} <= {"side_x_range", "side_cum_range"}
    bars = dash.sources["side_bars"].data
    top = max(np.max(bars["long_usd"]), np.max(bars["short_usd"]))
    side = dash.figure.select_one({"name": "side_x_range"})
    assert (side.start, side.end, side.reset_end) == (0.0, round(1.05 * top, 10), round(1.05 * top, 10))
    check_sources(dash)


def test_play_tick_feeds_one_candle_and_the_alert_list_grows(sample):
    dash = LiveDashboard.replay(sample, start="2026-02-04 00:00", window=24, interval_ms=250)
    play = dash.controls["play"]
    assert (play.value, play.max, play.interval) == (0, len(dash.replay_candles), 250)
    grew = []
    for tick in range(1, 41):  # to 2026-02-05 15:00
        before = len(dash.alert_lines)
        play.value += 1
        assert dash.monitor.readings == tick and dash.monitor.last_time == dash.replay_candles.index[tick - 1]
        if len(dash.alert_lines) > before:
            grew.append(f"{dash.monitor.last_time:%m-%d %H:%M}")
            assert dash.alert_lines[0].startswith(f"{dash.monitor.last_time:%Y-%m-%d %H:%M} UTC: price entered")
    assert {"02-04 15:00", "02-05 15:00"} <= set(grew)
    # the same alerts as the command's replay of the same candles
    mon = replay(sample.loc[:"2026-02-05 15:00"], start="2026-02-04 00:00")
    assert dash.alert_lines == [str(a) for a in reversed(mon.alerts)]
    assert grew == [f"{a.time:%m-%d %H:%M}" for a in mon.alerts]
    check_sources(dash)
    dash.step_button.click()  # one more candle
    assert dash.monitor.readings == 41 and play.value == 41 and play.min == 41
    play.value = play.min  # the Play's stop button: rewinds to where the replay stands, feeds nothing
    assert dash.monitor.readings == 41
    dash.controls["speed"].value = 100
    assert play.interval == 100
    dash.feed(dash.replay_candles.iloc[41:44])  # candles fed in code move the replay on: the Play resumes after them
    assert (play.value, play.min, dash.fed, dash.monitor.readings) == (44, 44, 44, 44)
    assert "replay: 44 of " in dash.progress.value
    play.value = 45
    assert dash.monitor.readings == 45 and dash.monitor.last_time == dash.replay_candles.index[44]


def test_zoom_is_kept_and_follow_moves_the_view(sample):
    dash = LiveDashboard.replay(sample, start=START, window=48)
    dash.x_range.update(start=dash.x_range.start + 3.6e6 * 10, end=dash.x_range.end - 3.6e6 * 5)  # a zoom from the page
    dash.y_range.update(start=70_000.0, end=80_000.0)
    zoom = (dash.x_range.start, dash.x_range.end, 70_000.0, 80_000.0)
    dash.controls["play"].value = 3
    assert (dash.x_range.start, dash.x_range.end, dash.y_range.start, dash.y_range.end) == zoom
    dash.controls["follow"].value = True  # the toggle: the view jumps onto the newest candles, and keeps up
    view = live_ranges(dash.data)
    assert (dash.x_range.start, dash.x_range.end) == view["x"] and (dash.y_range.start, dash.y_range.end) == view["y"]
    dash.controls["play"].value = 5
    view = live_ranges(dash.data)
    assert (dash.x_range.start, dash.x_range.end) == view["x"]
    assert dash.x_range.end > dash.sources["live_candles"].data["time"][-1]
    dash.x_range.start = view["x"][0] + 3.6e6  # the user pans while following: following stops, the pan stays
    assert dash.controls["follow"].value is False
    dash.controls["play"].value = 6
    assert dash.x_range.start == view["x"][0] + 3.6e6


def test_built_from_a_monitor_or_candles(sample):
    history = sample.loc[:"2026-02-03 23:00"]
    a = LiveDashboard(lt.watch.Monitor(history), window=24)
    b = LiveDashboard(history, window=24)
    assert a.controls["play"].disabled and a.step_button.disabled  # nothing to replay
    readings = [d.feed(sample.loc["2026-02-04 00:00":"2026-02-04 03:00"]) for d in (a, b)]
    assert [r.status for r in readings[0]] == [r.status for r in readings[1]]
    check_sources(a)
    for name in a.sources:
        assert_source(b, name, a.sources[name].data)
    box = a.widget
    assert a.status in box.children and a.alerts_box in box.children
    with pytest.raises(DataError, match="window"):
        LiveDashboard(history, window=1)
    with pytest.raises(DataError, match="need candles"):
        LiveDashboard(lt.watch.Monitor(history), every=2)


def test_start_live_polls_in_a_thread(sample):
    """The live path with the exchange replaced by stored candles: each poll feeds what is new."""
    history = sample.loc[:"2026-02-03 23:00"]
    later = sample.loc["2026-02-04 00:00":]
    asked = []

    def fetch(start):
        asked.append(start)
        return later[later.index >= start].iloc[:2]

    dash = LiveDashboard(history, window=24)
    thread = dash.start_live("binanceusdm", "BTC/USDT:USDT", timeframe="1h", every=0.01, polls=3, fetch=fetch,
                             now=lambda: pd.Timestamp("2030-01-01", tz="UTC"))
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert dash.monitor.readings == 6 and dash.monitor.last_time == later.index[5]
    assert asked[0] == history.index[-1] + pd.Timedelta(1, "ms") and len(asked) == 3
    assert "stopped" in dash.live_status.value
    check_sources(dash)
    dash.stop_live()


def test_a_second_dashboard_on_the_same_market_stops_the_first(sample):
    """A re-run notebook cell: the older dashboard's poller stops; close() stops a dashboard's own."""
    history = sample.loc[:"2026-02-03 23:00"]

    def fetch(start):
        return sample[sample.index >= start].iloc[:0]  # nothing new: the pollers keep polling

    first, second = LiveDashboard(history, window=24), LiveDashboard(history, window=24)
    t1 = first.start_live("binanceusdm", "BTC/USDT:USDT", timeframe="1h", every=0.01, fetch=fetch)
    t2 = second.start_live("binanceusdm", "BTC/USDT:USDT", timeframe="1h", every=0.01, fetch=fetch)
    t1.join(timeout=30)
    assert not t1.is_alive() and t2.is_alive() and first._live is None
    second.close()
    assert not t2.is_alive() and second._live is None
