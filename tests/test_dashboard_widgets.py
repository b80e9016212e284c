"""The dashboard driven from Python: lazy tabs, the market switch, CSV downloads, shared heatmaps and time."""

import re

import numpy as np
import pandas as pd
import pytest
from widget_util import check_map_explorer

import liqtools as lt
from liqtools.widgets import Dashboard, MapExplorer


@pytest.fixture(scope="module")
def sample():
    return lt.load_sample()


def test_dashboard_builds_tabs_when_opened():
    dash = Dashboard()
    assert dash.built == ("Map",)
    pages = dash.tabs.children
    assert "building the Heatmap tab" in pages[1].children[0].value
    dash.time.value = 250  # moved before the heatmap exists: it starts at the current time
    dash.tabs.selected_index = 1
    assert dash.built == ("Map", "Heatmap")
    assert pages[1].children[0] is dash.heatmap.widget
    assert dash.heatmap.sources["side_price"].data["x"] == [float(dash.df["close"].iloc[250])]
    assert "building the Cascade tab" in pages[2].children[0].value
    assert set(dash.build_seconds) == {"Map", "Heatmap"}


def test_dashboard_switches_market():
    dash = Dashboard()
    assert list(dash.market.options) == list(lt.sample_names())
    btc_bars = np.asarray(dash.map.sources["map_bars"].data["long_usd"]).copy()
    dash.tabs.selected_index = 1
    dash.market.value = "eth-2024"
    eth = lt.load_sample("eth-2024")
    assert dash.built == ("Heatmap",)  # the open tab rebuilt for the new market, the others wait
    pd.testing.assert_frame_equal(dash.df, eth)
    assert dash.time.max == len(eth) - 1
    assert dash.heatmap.sources["side_price"].data["x"] == [float(eth["close"].iloc[-1])]
    assert list(dash.heatmap.sources["realized"].data["long_usd"]) == lt.load_sample_liquidations("eth-2024")["long_usd"].tolist()
    assert "taker" in dash.heatmap.controls["split"].options  # ETH has taker volume
    hm = lt.liquidation_heatmap(eth, leverage=lt.LeverageProfile.default(), every=len(eth), bin_size=lt.analysis.heatmap.nice_bin_size(float(eth["close"].median()), 0.05))
    check_map_explorer(dash.map, hm.levels_at(len(eth) - 1), float(eth["close"].iloc[-1]))
    assert not np.array_equal(np.asarray(dash.map.sources["map_bars"].data["long_usd"]), btc_bars)
    assert dash.cascade.up.start_price == float(eth["close"].iloc[-1])
    assert "ETHUSDT" in dash.market_note.value


def test_map_downloads_match_the_picture(sample):
    import base64
    import io

    ex = MapExplorer(sample)
    ex.update(time=900, price_move=-150)
    assert ex.downloads.value == ""  # made on request
    ex.download_button.click()
    links = dict(re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', ex.downloads.value))
    stem = f"liqtools-20260113-2300-at-{ex.current_price():.6g}"
    assert sorted(links) == [f"{stem}-clusters.csv", f"{stem}-map.csv"]
    got = {name.rsplit("-", 1)[1]: pd.read_csv(io.BytesIO(base64.b64decode(b)), index_col=0) for name, b in links.items()}
    pd.testing.assert_frame_equal(got["map.csv"], ex.map, check_exact=False, rtol=1e-12, check_index_type=False)
    pd.testing.assert_frame_equal(got["clusters.csv"], ex.clusters, check_exact=False, rtol=1e-12, check_index_type=False)
    ex.controls["price_move"].value = 0  # a new picture: the old links go
    assert ex.downloads.value == ""


def test_heatmaps_are_shared_within_the_process(sample):
    from liqtools.widgets._cache import cached_heatmap

    a, b = MapExplorer(sample), MapExplorer(lt.load_sample())
    assert a.heatmap() is b.heatmap()
    edited = sample.copy()
    edited.iloc[5, edited.columns.get_loc("oi_usd")] *= 2
    assert cached_heatmap(edited, every=100) is not cached_heatmap(sample, every=100)


def test_dashboard_shares_time():
    dash = Dashboard()
    dash.time.value = 300
    close = float(dash.df["close"].iloc[300])
    assert dash.map.current_price() == close
    assert dash.map.sources["map_price"].data["x"] == [close]
    assert dash.heatmap.sources["side_price"].data["x"] == [close]
    assert dash.cascade.up.start_price == close
    assert dash.momentum.t == 300
    assert [dash.tabs.get_title(i) for i in range(4)] == ["Map", "Heatmap", "Cascade", "Momentum"]


def test_hidden_tabs_wait_for_the_shared_time_and_catch_up_once(monkeypatch):
    import liqtools.widgets.heatmap_explorer as heat_mod

    dash = Dashboard()
    heat = dash.heatmap  # built while the Map tab is shown: it waits
    calls = []
    original = heat_mod.map_data
    monkeypatch.setattr(heat_mod, "map_data", lambda *a, **k: (calls.append(1), original(*a, **k))[1])
    for t in (300, 301, 302):
        dash.time.value = t
    assert calls == [] and dash.map.sources["map_price"].data["x"] == [float(dash.df["close"].iloc[302])]
    dash.tabs.selected_index = 1  # opening the tab refreshes it once, at the current time
    assert calls == [1] and heat.sources["side_price"].data["x"] == [float(dash.df["close"].iloc[302])]
    dash.time.value = 303  # now shown: at once
    assert calls == [1, 1]
    dash.tabs.selected_index = 0
    dash.time.value = 304
    assert len(calls) == 2
    heat.update(bin_size=heat.controls["bin_size"].value)  # an explicit update from Python: now, hidden or not
    assert len(calls) == 3 and heat.sources["side_price"].data["x"] == [float(dash.df["close"].iloc[304])]
