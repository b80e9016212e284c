"""HeatmapExplorer driven from Python: the picture, the tooltip's cells, the colour scale and the time
line each hold exactly the analysis result."""

import numpy as np
import pandas as pd
import pytest
from bokeh.palettes import Inferno256
from widget_util import assert_source

import liqtools as lt
from liqtools.plotting.figures import heatmap_data, map_data
from liqtools.widgets import HeatmapExplorer


@pytest.fixture(scope="module")
def sample():
    return lt.load_sample()


def to_ms_last(df):
    return df.index[-1].value / 1e6


def test_heatmap_explorer(sample):
    realized = lt.load_sample_liquidations()
    ex = HeatmapExplorer(sample, realized=realized)
    hm = lt.liquidation_heatmap(sample, bin_size=float(ex.controls["bin_size"].value), every=ex.every)
    assert_source(ex, "heatmap_image", heatmap_data(hm, sample)["heatmap_image"])
    assert_source(ex, "heatmap_cells", heatmap_data(hm, sample)["heatmap_cells"])
    ex.update(w25x=0, w5x=40, split="candle", bin_size=ex.controls["bin_size"].options[-1][1])
    hm = lt.liquidation_heatmap(sample, leverage=ex.leverage.profile(), split="candle", bin_size=float(ex.controls["bin_size"].value), every=ex.every)
    data = heatmap_data(hm, sample, version=1)  # one refresh for the four controls: the picture's first new version
    assert_source(ex, "heatmap_image", data["heatmap_image"])
    assert_source(ex, "heatmap_cells", data["heatmap_cells"])  # the tooltip's cells follow the picture
    ex.controls["time"].value = 700
    price = float(sample["close"].iloc[700])
    m = lt.liquidation_map(hm.levels_at(700), price, bin_size=hm.bin_size, price_range=(hm.edges[0], hm.edges[-1]))
    data = map_data(m, price)
    assert_source(ex, "side_bars", data["map_bars"])
    assert_source(ex, "side_cumulative", data["map_cumulative"])
    assert ex.sources["side_price"].data["x"] == [price]
    # predicted liquidations summed per realized day
    pred = ex.sources["predicted"].data
    day = pd.Timestamp("2025-12-20", tz="UTC")
    i = list(realized.index).index(day)
    want = hm.liquidated.loc[day : day + pd.Timedelta("23h59min"), "long_usd"].sum()
    assert pred["long_usd"][i] == pytest.approx(want, rel=1e-12)
    assert list(ex.sources["realized"].data["long_usd"]) == realized["long_usd"].tolist()
    # the panel spans the realized days, each series on an axis that fits it
    from liqtools.plotting.figures import liquidations_ranges

    liq_fig = ex.figure.children[1]
    assert liq_fig.x_range.start < realized.index[0].value / 1e6 < realized.index[-1].value / 1e6 < liq_fig.x_range.end
    assert liq_fig.x_range.end < to_ms_last(sample)
    want = liquidations_ranges({"predicted": dict(pred), "realized": dict(ex.sources["realized"].data)})
    assert (liq_fig.y_range.start, liq_fig.y_range.end) == want["model"]
    assert (liq_fig.extra_y_ranges["realized"].start, liq_fig.extra_y_ranges["realized"].end) == want["realized"]


def test_heatmap_colour_scale_and_saturation(sample):
    ex = HeatmapExplorer(sample)
    total = ex.hm.long + ex.hm.short
    positive = total[total > 0]
    assert ex.mapper.high == pytest.approx(np.percentile(positive, 99.5))
    shown = lambda: {n for n, m in ex._scale_models.items() if m.visible}
    img = ex.sources["heatmap_image"].data
    palette = np.array([int(c[1:], 16) for c in Inferno256])  # 0xRRGGBB

    def colours(rgba):  # the picture's pixels as palette positions (RGBA words: R is the low byte)
        rgb = ((rgba & 0xFF) << 16) | (rgba & 0xFF00) | ((rgba >> 16) & 0xFF)
        assert ((rgba >> 24) == 255).all()
        return np.searchsorted(np.sort(palette), rgb), np.argsort(palette)

    def palette_index(rgba):
        pos, order = colours(np.asarray(rgba, dtype=np.int64))
        return order[pos]

    assert shown() == {"heatmap_colorbar"}
    high = ex.mapper.high
    expected = np.clip(np.floor(256 * total.T / high), 0, 255)
    np.testing.assert_array_equal(palette_index(img["image"][0]), expected)  # linear from 0 to the 99.5th pct
    ex.update(color_scale="log", saturation=95.0)
    assert shown() == {"heatmap_log_colorbar"}
    assert ex.log_mapper.high == ex.mapper.high == pytest.approx(np.percentile(positive, 95))
    assert ex.log_mapper.low == pytest.approx(ex.log_mapper.high / 1000)
    def log_index(high):  # three decades below the top
        return np.clip(np.floor(256 * np.log(np.maximum(total.T, high / 1000) / (high / 1000)) / np.log(1000)), 0, 255)

    np.testing.assert_array_equal(palette_index(img["image"][0]), log_index(ex.mapper.high))
    assert (palette_index(img["image"][0]) == 255).sum() > (total >= positive.max()).sum()  # the hottest 5% saturate
    ex.controls["saturation"].value = 100.0
    assert ex.mapper.high == pytest.approx(positive.max())
    np.testing.assert_array_equal(palette_index(img["image"][0]), log_index(positive.max()))
    # tooltips read longs and shorts per cell, in USD, of the picture's version (a colour change keeps it)
    cells = ex.sources["heatmap_cells"].data
    np.testing.assert_array_equal(cells["long"][0], ex.hm.long.T.astype(np.float32))
    np.testing.assert_array_equal(cells["short"][0], ex.hm.short.T.astype(np.float32))
    assert cells["version"] == img["version"] == [0]
    assert "LeverageProfile(" not in ex.readout.value and "leverage mix 5x 10%" in ex.readout.value


def test_heatmap_columns_start_at_their_candle_close(sample):
    hm = lt.liquidation_heatmap(sample, every=24)
    img = heatmap_data(hm, sample)["heatmap_image"]
    close_of_first = pd.Timestamp(hm.times[0]) + pd.Timedelta("1h")
    assert img["x"][0] == close_of_first.value / 1e6  # ms
    assert img["dw"][0] == 24 * 3_600_000 * len(hm.times)


def test_candles_are_drawn_one_per_column_of_the_picture(sample):
    """2,112 hourly candles in 704 columns: the page draws 704 candles of 3h (first open, highest high, lowest
    low, last close), each as wide as its column, and the tooltip names their length."""
    from bokeh.models import GlyphRenderer, HoverTool, VBar

    ex = HeatmapExplorer(sample)
    assert ex.every == 3
    c = ex.sources["candles"].data
    assert len(c["time"]) == 704 == len(ex.hm.times)
    for k in (0, 1, 350, 703):
        rows = sample.iloc[3 * k : 3 * k + 3]
        assert (c["open"][k], c["high"][k], c["low"][k], c["close"][k]) == (
            rows["open"].iloc[0], rows["high"].max(), rows["low"].min(), rows["close"].iloc[-1])
        assert c["time"][k] == rows.index[1].value / 1e6  # the middle candle's open time
    # the picture's column k (levels after snapshot candle 3k+2) spans the next merged candle
    image = ex.sources["heatmap_image"].data
    assert image["x"][0] == sample.index[3].value / 1e6 and image["dw"][0] == 704 * 3 * 3_600_000
    (bar,) = [r.glyph for r in ex.figure.select({"type": GlyphRenderer}) if isinstance(r.glyph, VBar) and r.data_source is ex.sources["candles"]]
    assert bar.width == pytest.approx(0.7 * 3 * 3_600_000)
    (hover,) = [t for t in ex.figure.select({"type": HoverTool}) if t.tooltips and "candle (3h)" in dict(t.tooltips)]
    assert hover is not None
    short = HeatmapExplorer(sample.iloc[:500])  # fewer candles than columns: drawn as they are
    assert short.every == 1 and list(short.sources["candles"].data["close"]) == sample["close"].iloc[:500].tolist()


def test_the_side_map_and_liquidation_ranges_are_fitted_in_python(sample):
    """The side map's x ranges and the liquidations panel's y ranges are set from the data with it (and the
    reset tool returns there), so the page draws each step once and fits nothing itself."""
    from liqtools.plotting.figures import liquidations_ranges
    from liqtools.plotting.maps import side_ranges

    ex = HeatmapExplorer(sample, realized=lt.load_sample_liquidations())
    for change in ({"w100x": 40}, {"time": 300}, {"w5x": 60, "time": 1800}):
        ex.update(**change)
        want = side_ranges({"map_bars": ex.sources["side_bars"].data, "map_cumulative": ex.sources["side_cumulative"].data})
        for name, r in (("bars", ex.figure.select_one({"name": "side_x_range"})), ("cum", ex.figure.select_one({"name": "side_cum_range"}))):
            assert (r.start, r.end, r.reset_start, r.reset_end) == (*want[name], *want[name])
        assert want["bars"][1] == pytest.approx(1.05 * max(np.max(ex.sources["side_bars"].data["long_usd"]), np.max(ex.sources["side_bars"].data["short_usd"])))
        liq = liquidations_ranges({"predicted": ex.sources["predicted"].data, "realized": ex.sources["realized"].data})
        model = ex.figure.select_one({"name": "liq_model_range"})
        assert (model.start, model.end, model.reset_start, model.reset_end) == (*liq["model"], *liq["model"])
