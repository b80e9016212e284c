"""Widgets driven from Python: every control change must put exactly the analysis result into the named source."""

import re

import numpy as np
import pandas as pd
import pytest
from bokeh.document import Document
from widget_util import assert_source, check_map_explorer

import liqtools as lt
from liqtools.data.depth import market_depth
from liqtools.plotting.figures import (
    cascade_data,
    effects_data,
    liquidations_data,
    paths_data,
    table_data,
)
from liqtools.widgets import CascadeExplorer, Dashboard, HeatmapExplorer, MapExplorer, MomentumExplorer


@pytest.fixture(scope="module")
def sample():
    return lt.load_sample()


def test_map_teaching_mode_controls(sample):
    ex = MapExplorer(price=100_000, open_interest_usd=2e9)

    def levels():
        c = ex.controls
        return lt.synthetic_levels(c["entry_price"].value, c["open_interest"].value, leverage=ex.profile(), split=ex.split.value(), spread=c["spread"].value / 1e4)

    check_map_explorer(ex, levels(), 100_000.0)
    assert repr(ex.profile()) == repr(lt.LeverageProfile.default())
    assert ex.profile().weights_array.tolist() == lt.LeverageProfile.default().weights_array.tolist()
    oi_options = [v for _, v in ex.controls["open_interest"].options]
    steps = [("price", 104_000.0), ("open_interest", oi_options[-1]), ("spread", 500), ("entry_price", 98_000.0), ("w100x", 60), ("dominance", 50), ("dominant", 10), ("bin_size", ex.controls["bin_size"].options[0][1])]
    for name, value in steps:
        ex.controls[name].value = value
        check_map_explorer(ex, levels(), ex.current_price())
    ex.controls["split"].value = "share"
    ex.controls["split_share"].value = 80
    check_map_explorer(ex, levels(), ex.current_price())
    assert ex.profile().weights_array.sum() == pytest.approx(1.0)
    assert 10.0 in ex.profile().leverages.tolist()


def test_map_data_mode_time_and_leverage(sample):
    ex = MapExplorer(sample)
    hm = lt.liquidation_heatmap(sample)
    check_map_explorer(ex, hm.levels_at(len(sample) - 1), float(sample["close"].iloc[-1]))
    ex.controls["time"].value = 1200
    close = float(sample["close"].iloc[1200])
    assert ex.current_price() == close
    check_map_explorer(ex, hm.levels_at(1200), close)
    assert ex.timebox.date.value == f"{sample.index[1200]:%Y-%m-%d %H:%M}"
    assert ex.time_label.value == f"close {lt._format.price_text(close)}"
    ex.update(w5x=0, w100x=50, split="candle")
    hm2 = lt.liquidation_heatmap(sample, leverage=ex.profile(), split="candle")
    check_map_explorer(ex, hm2.levels_at(1200), close)
    ex.controls["price_move"].value = 250  # what-if: +2.5% on the same levels
    check_map_explorer(ex, hm2.levels_at(1200), close * 1.025)


def test_update_refreshes_once(monkeypatch):
    import liqtools.widgets.map_explorer as mod

    ex = MapExplorer()
    calls = []
    original = mod.liquidation_map
    monkeypatch.setattr(mod, "liquidation_map", lambda *a, **k: (calls.append(1), original(*a, **k))[1])
    ex.update(price=101_000.0, spread=300, w50x=40)
    assert len(calls) == 1
    ex.controls["price"].value = 99_000.0
    assert len(calls) == 2
    with pytest.raises(KeyError, match="unknown control"):
        ex.update(colour="red")


def test_bad_combination_shows_an_error_and_keeps_the_picture():
    ex = MapExplorer()
    before = dict(ex.sources["map_bars"].data)
    ex.update(**{name: 0 for name in ex.leverage.tiers})
    assert "every leverage weight is zero" in ex.error.value
    np.testing.assert_array_equal(ex.sources["map_bars"].data["long_usd"], before["long_usd"])
    ex.controls["w10x"].value = 100
    assert ex.error.value == ""


def test_cascade_explorer_from_levels_and_df(sample):
    lv = lt.synthetic_levels(100.0, 1e8, split=0.6)
    ex = CascadeExplorer(lv, price=100.0, depth_usd=2e6)
    assert ex.controls["impact"].value == "sqrt"  # the square-root law is the default
    for name, value in (("shock", 200), ("ask_depth", 5e6), ("bid_depth", 3e7), ("impact", "linear")):
        ex.controls[name].value = value
        impact = ex.controls["impact"].value
        up = lt.simulate_cascade(lv, 100.0, ex.controls["shock"].value / 1e4, depth_usd=ex.controls["ask_depth"].value, impact=impact)
        down = lt.simulate_cascade(lv, 100.0, -ex.controls["shock"].value / 1e4, depth_usd=ex.controls["bid_depth"].value, impact=impact)
        assert_source(ex, "cascade_up", cascade_data(up))
        assert_source(ex, "cascade_down", cascade_data(down))
        assert up.summary().splitlines()[1].strip() in ex.readout.value
    assert "Tipping point" in ex.readout.value
    exd = CascadeExplorer(df=sample)
    exd.controls["time"].value = 900
    hm = lt.liquidation_heatmap(sample)
    levels, close = hm.levels_at(900), float(sample["close"].iloc[900])
    up = lt.simulate_cascade(levels, close, 0.01, depth_usd=market_depth("BTC"))  # documented asks, square root
    down = lt.simulate_cascade(levels, close, -0.01, depth_usd=market_depth("BTC"))  # documented bids
    assert_source(exd, "cascade_up", cascade_data(up))
    assert_source(exd, "cascade_down", cascade_data(down))
    with pytest.raises(ValueError, match="either levels"):
        CascadeExplorer()
    with pytest.raises(ValueError, match="start price"):
        CascadeExplorer(lv)


def test_cascade_explorer_default_depth_readout_and_log_slider(sample):
    ex = CascadeExplorer(df=sample)
    btc = market_depth("BTC")
    for side in ("bid", "ask"):
        slider = ex.controls[f"{side}_depth"]
        values = [v for _, v in slider.options]
        assert values[0] == 1e6 and values[-1] == 1e10 and values == sorted(values)
        ratios = np.diff(np.log10([v for v in values if v != btc.usd(side)]))
        assert ratios.max() < 0.25  # a log scale: no step wider than a factor 1.8
        assert slider.value == btc.usd(side) and slider.label == f"${btc.usd(side) / 1e6:.1f}M (documented)"
        assert all(re.fullmatch(r"\$\d+\.\d{1,2}[MB]( \(documented\))?", label) for label, _ in slider.options), slider.options
    # the default +1% shock on the sample: a few percent, the assumption in the readout
    up = ex.up
    assert up.depth_usd == btc.ask_usd and up.impact == "sqrt" and 0 < up.move_pct < 5 and not up.runaway
    text = " ".join(ex.readout_lines)
    assert f"final price ${up.final_price:,.0f} ({up.move_pct:+.2f}%" in text
    assert "Impact: square-root law" in text
    assert f"Depth for the squeeze (asks): {btc.describe('ask')}." in ex.readout_lines
    assert f"Depth for the flush (bids): {btc.describe('bid')}." in ex.readout_lines
    assert "2024-06-02" in text and "Kaiko" in text and "within 2% of mid" in text
    assert ex.sources["cascade_up_flag"].data["text"] == [] and "RUNAWAY" not in text
    # a thin book set on the slider: the runaway label appears on the chart and in the readout
    ex.controls["ask_depth"].value = 1e6
    assert ex.up.depth_usd == 1e6 and ex.up.runaway
    flag = ex.sources["cascade_up_flag"].data
    assert flag["text"] == [f"RUNAWAY: {ex.up.runaway_reason}. Not a price: outside any measured range."]
    assert "RUNAWAY (forced flow" in ex.readout.value
    assert any(line.startswith("Depth for the squeeze (asks): $1.0M per 1%, set on the slider (documented: BTC asks") for line in ex.readout_lines)
    assert ex.sources["cascade_down_flag"].data["text"] == []  # the bids were not touched
    ex.controls["ask_depth"].value = btc.ask_usd  # back to the documented figure: the label goes
    assert ex.sources["cascade_up_flag"].data["text"] == [] and ex.up.depth == btc
    eth = CascadeExplorer(df=sample, market="eth-2024")
    assert eth.controls["bid_depth"].value == market_depth("ETH").bid_usd


def test_cascade_runaway_label_is_on_the_chart():
    from bokeh.models import LabelSet

    lv = pd.DataFrame({"price": [100.5], "notional_usd": [1e9], "side": "short"})
    ex = CascadeExplorer(lv, price=100.0, depth_usd=1e6)
    labels = [m for m in ex.figure.select({"type": LabelSet})]
    sources = {label.source.name for label in labels}
    assert sources == {"cascade_up_flag", "cascade_down_flag"}
    assert ex.sources["cascade_up_flag"].data["text"][0].startswith("RUNAWAY: forced flow 1,000x the depth")
    _ = ex.widget  # what display() shows: the label reaches the page
    assert decoded(ex, "cascade_up_flag")["text"] == ex.sources["cascade_up_flag"].data["text"]


def test_momentum_explorer(sample):
    from liqtools.analysis.momentum import event_study

    ex = MomentumExplorer(sample)
    view = lt.clusters_at(sample, cluster_options={"top": 3})
    pd.testing.assert_frame_equal(ex.clusters, view.clusters)

    def check(bands, horizon):
        study = event_study(sample, bands, horizons=(1, 4, 12, 24), map_df=ex.map)
        assert_source(ex, "momentum_paths", paths_data(study))
        assert_source(ex, "momentum_velocity", effects_data(study, "velocity"))
        assert_source(ex, "momentum_volume", effects_data(study, "volume_ratio"))
        assert_source(ex, "momentum_effects", table_data(study, horizon))
        r = study.effect("return", horizon)
        assert f"{r['effect']:+.4f}" in ex.readout_lines[1] and f"p = {r['pvalue']:.3f}" in ex.readout_lines[1]

    check(view.clusters, 24)
    ex.controls["band"].value = 1
    check(view.clusters.iloc[[1]], 24)
    ex.controls["horizon"].value = 4
    check(view.clusters.iloc[[1]], 4)
    assert ex.sources["momentum_horizon"].data["x"] == [4]
    chosen = view.clusters.iloc[1]
    ex.controls["time"].value = 1500
    v2 = lt.clusters_at(sample, 1500, cluster_options={"top": 3})
    pd.testing.assert_frame_equal(ex.clusters, v2.clusters)
    same = v2.clusters[(v2.clusters.side == chosen.side) & (v2.clusters.low == chosen.low) & (v2.clusters.high == chosen.high)]
    # the chosen band follows the cluster itself, not its list position; gone -> all clusters
    assert ex.controls["band"].value == (int(same.index[0]) if len(same) else -1)
    check(v2.clusters.iloc[[ex.controls["band"].value]] if ex.controls["band"].value >= 0 else v2.clusters, 4)
    assert "Hindsight" in ex.readout_lines[-1]


def test_map_opens_framed_and_fits_both_curves(sample):
    from liqtools.plotting.maps import map_ranges

    ex = MapExplorer(sample)
    price = ex.current_price()
    fig = ex.figure
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((0.75 * price, 1.25 * price))
    inside = ex.map[(ex.map["high"] > 0.75 * price) & (ex.map["low"] < 1.25 * price)]
    cum_long = inside["cum_long_usd"][inside["low"] <= price].max()
    cum_short = inside["cum_short_usd"][inside["high"] > price].max()
    top = fig.extra_y_ranges["cum"].end
    assert top >= max(cum_long, cum_short) and top == pytest.approx(1.08 * max(cum_long, cum_short))
    assert fig.y_range.end >= inside[["long_usd", "short_usd"]].to_numpy().max()
    assert fig.legend[0] in fig.below and fig.legend[0].click_policy == "hide"
    ex.controls["time"].value = 200  # a new candle: framed on its price
    p2 = float(sample["close"].iloc[200])
    assert (fig.x_range.start, fig.x_range.end) == pytest.approx((0.75 * p2, 1.25 * p2))
    assert fig.extra_y_ranges["cum"].end == map_ranges(ex.map, p2, ex.frame)["cum"][1]
    assert "LeverageProfile(" not in ex.readout.value and "(maintenance margin 0.4%)" in ex.readout.value
    assert all("e+" not in label and "e-" not in label for label, _ in ex.controls["bin_size"].options)


def press(slider, presses=1):
    """What ``presses`` arrow-right presses do to a slider in the browser: one step, or the next choice."""
    for _ in range(presses):
        if hasattr(slider, "options"):
            slider.index = min(slider.index + 1, len(slider.options) - 1)
        else:
            slider.value = min(slider.value + slider.step, slider.max)


def test_leverage_sliders_move_by_sensible_steps():
    ex = MapExplorer()
    dominant, share = ex.controls["dominant"], ex.controls["dominance"]
    share.value = 50
    assert dominant.value == 25
    press(dominant)
    assert dominant.value == 30 and ex.profile().weights[30.0] == pytest.approx(0.5)  # one press: the next venue value
    dominant.value = 25
    presses = 0
    while dominant.value < 125:
        before = dominant.value
        press(dominant)
        presses += 1
        assert before < dominant.value <= 2 * before  # never more than doubling
    assert presses >= 6  # 25x -> 125x is no longer four or five presses
    assert {2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 125} <= set(dominant.options)
    # the weights move by whole percents, the share by 5%
    for name in ("w5x", "w10x", "w25x", "w50x", "w100x"):
        before = ex.controls[name].value
        press(ex.controls[name])
        assert ex.controls[name].value - before == 1
    before = share.value
    press(share)
    assert share.value - before == 5


def test_controls_without_effect_are_disabled():
    ex = MapExplorer()
    assert ex.controls["split_share"].disabled
    ex.controls["split"].value = "share"
    assert not ex.controls["split_share"].disabled
    assert ex.controls["dominant"].disabled  # its share is 0
    ex.controls["dominance"].value = 40
    assert not ex.controls["dominant"].disabled and not ex.controls["w5x"].disabled
    ex.controls["dominance"].value = 100
    assert all(ex.controls[f"w{lev}x"].disabled for lev in (5, 10, 25, 50, 100))
    assert "sum to 100%" in ex.leverage.note.value and "25x 100%" in ex.leverage.note.value


def test_typed_date_moves_the_shared_time(sample):
    dash = Dashboard()
    dash.map.timebox.date.value = "2026-01-15 13:40"
    want = int(sample.index.searchsorted(pd.Timestamp("2026-01-15 13:40", tz="UTC"), side="right")) - 1
    assert dash.time.value == want
    assert dash.map.sources["map_price"].data["x"] == [float(sample["close"].iloc[want])]
    assert dash.map.timebox.date.value == "2026-01-15 13:00"
    dash.tabs.selected_index = 1
    assert dash.heatmap.timebox.date.value == "2026-01-15 13:00"
    dash.heatmap.timebox.date.value = "next tuesday"
    assert dash.time.value == want and "not a date" in dash.heatmap.timebox.note.value


def test_cascade_time_shows_and_takes_a_typed_date(sample):
    ex = CascadeExplorer(df=sample)
    box = ex.timebox
    assert box.slider is ex.controls["time"] and box.slider.readout is False  # the date replaces the bare number
    assert box.date.value == f"{sample.index[-1]:%Y-%m-%d %H:%M}"
    assert box.label.value == f"close {lt._format.price_text(float(sample['close'].iloc[-1]))}"
    shown = ex._controls_box.children[0]  # the first row of the controls: slider, date, "UTC", label (as on the map)
    assert shown.children[0].children[:2] == (ex.controls["time"], box.date) and box.label in shown.children[0].children
    box.date.value = "2026-01-15 13:40"
    want = int(sample.index.searchsorted(pd.Timestamp("2026-01-15 13:40", tz="UTC"), side="right")) - 1
    close = float(sample["close"].iloc[want])
    assert ex.controls["time"].value == want and box.date.value == "2026-01-15 13:00"
    assert box.label.value == f"close {lt._format.price_text(close)}"
    levels = lt.liquidation_heatmap(sample, every=len(sample), bin_size=float(sample["close"].median()) * 0.05).levels_at(want)
    up = lt.simulate_cascade(levels, close, 0.01, depth_usd=market_depth("BTC"))
    assert_source(ex, "cascade_up", cascade_data(up))
    ex.controls["time"].value = 900  # the slider moved: the date follows
    assert box.date.value == f"{sample.index[900]:%Y-%m-%d %H:%M}"
    box.date.value = "not a date"
    assert ex.controls["time"].value == 900 and "not a date" in box.note.value
    # in the dashboard, the cascade's box moves the time every tab shares
    dash = Dashboard()
    dash.tabs.selected_index = 2
    dash.cascade.timebox.date.value = "2026-01-15 13:40"
    assert dash.time.value == want and dash.map.timebox.date.value == "2026-01-15 13:00"


def decoded(explorer, name):
    """The data of source `name` as the page receives it: decoded from the BokehModel's render bundle."""
    bundle = explorer._bokeh_model.render_bundle
    (doc_json,) = bundle["docs_json"].values()
    doc = Document.from_json(doc_json)
    return doc.select_one({"name": name}).data


@pytest.mark.parametrize(
    "make, control, value, source, column",
    [
        (lambda s: MapExplorer(), "price", 107_000.0, "map_price", "x"),
        (lambda s: MapExplorer(s), "time", 250, "map_price", "x"),
        (lambda s: MapExplorer(s), "price_move", -100, "map_price", "x"),
        (lambda s: HeatmapExplorer(s), "time", 250, "side_price", "x"),
        (lambda s: CascadeExplorer(df=s), "shock", 350, "cascade_up", "price"),
        (lambda s: MomentumExplorer(s), "horizon", 12, "momentum_horizon", "x"),
    ],
)
def test_changes_before_display_reach_the_page(sample, make, control, value, source, column):
    # the Voila pitfall: build, change a control, then display; the page must show the changed state
    ex = make(sample)
    ex.controls[control].value = value
    assert ex._bokeh_model is None  # nothing wrapped before display
    _ = ex.widget  # what display() shows
    page = decoded(ex, source)
    np.testing.assert_array_equal(np.asarray(page[column]), np.asarray(ex.sources[source].data[column]))
    if source == "map_price" and control == "price":
        assert list(page["x"]) == [107_000.0]
    if control == "time":
        assert list(page["x"]) == [float(sample["close"].iloc[250])]
    if control == "price_move":
        assert list(page["x"]) == [float(sample["close"].iloc[-1]) * 0.99]


def test_bar_width_follows_the_bin_size():
    ex = MapExplorer()
    for _label, size in ex.controls["bin_size"].options:
        ex.controls["bin_size"].value = size
        widths = np.asarray(ex.sources["map_bars"].data["width"])
        np.testing.assert_allclose(widths, 0.9 * size)


def test_predicted_per_period_whatever_the_time_unit(sample):
    hm = lt.liquidation_heatmap(sample)
    realized = lt.load_sample_liquidations()
    ns = liquidations_data(hm.liquidated, realized)["predicted"]["long_usd"]
    us = realized.copy()
    us.index = us.index.as_unit("us")
    np.testing.assert_array_equal(liquidations_data(hm.liquidated, us)["predicted"]["long_usd"], ns)
    assert np.asarray(ns).sum() > 0


def test_voila_page_carries_bokehjs_once(monkeypatch):
    import bokeh.io.notebook as nb
    from bokeh.resources import Resources

    from liqtools.widgets._base import BOKEH_COMPONENTS, _output_notebook_lab_only

    published = []
    recorder = lambda data, *a, **k: published.append(data)
    monkeypatch.setattr(nb, "publish_display_data", recorder)
    _output_notebook_lab_only(Resources(mode="inline", components=list(BOKEH_COMPONENTS)))
    loads = [d for d in published if nb.JS_MIME_TYPE in d]
    assert len(loads) == 1 and nb.LOAD_MIME_TYPE not in loads[0]  # the copy Voila runs, once
    assert len(loads[0][nb.JS_MIME_TYPE]) < 2_500_000  # core, widgets and tables only: no MathJax or WebGL bundles
    assert nb.publish_display_data is recorder  # put back
