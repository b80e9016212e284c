"""Real-browser tests: Voila serves the dashboard, JupyterLab runs a notebook, Chromium moves the sliders.

In CI (``CI`` set) a missing browser part is an error, never a skip.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from browser_util import (
    ARRAY_SUM,
    ARTIFACTS,
    MODEL,
    READ_SOURCE,
    ROOT,
    biggest_canvas,
    browser_marks,
    key_latency_ms,
    lab_server,
    open_page,
    open_tab,
    real_errors,
    record_sent,
    sent_messages,
    shot,
    visible_key_latency_ms,
    wait_equal,
)

import liqtools as lt

pytestmark = browser_marks()


def read(page, name, column):
    return page.evaluate(READ_SOURCE, [name, column])


@pytest.fixture(scope="module")
def python_twin():
    """The same dashboard in this process, to compute what the page must show after each key press."""
    from liqtools.widgets import Dashboard

    return Dashboard()


def test_dashboard_renders_without_errors(dashboard_page):
    page, errors = dashboard_page
    shot(page, "dashboard-map.png")
    assert read(page, "map_price", "x") == [float(lt.load_sample()["close"].iloc[-1])]
    # only the open tab is built: the heatmap's sources are not in the page yet
    assert read(page, "heatmap_image", "x") is None
    assert page.get_by_text("building the Heatmap tab...").count() == 1
    assert real_errors(errors) == []


def test_map_tab_price_move_key(dashboard_page, python_twin):
    page, errors = dashboard_page
    ms = key_latency_ms(page, "price move bp", "ArrowRight", "map_price", "x")
    assert ms > 0
    python_twin.map.controls["price_move"].value = 5  # one step: +5 basis points
    close = float(python_twin.df["close"].iloc[-1])
    assert read(page, "map_price", "x") == [close * 1.0005]
    twin = python_twin.map.sources["map_cumulative"].data
    wait_equal(page, "map_cumulative", "short_edge", twin["short_edge"])
    got = np.array(read(page, "map_cumulative", "cum_short_usd"), dtype=float)
    np.testing.assert_allclose(got, np.asarray(twin["cum_short_usd"], dtype=float), rtol=1e-12)
    shot(page, "dashboard-map-moved.png")
    assert real_errors(errors) == []


def test_cascade_tab_shock_key(dashboard_page, python_twin):
    page, errors = dashboard_page
    open_tab(page, "Cascade", "shock size bp", "cascade_up")
    ms = visible_key_latency_ms(page, "shock size bp", "ArrowRight", "cascade_up", "price")
    assert ms > 0
    python_twin.cascade.controls["shock"].value = 105
    for name in ("cascade_up", "cascade_down"):
        wait_equal(page, name, "price", python_twin.cascade.sources[name].data["price"])
        np.testing.assert_allclose(read(page, name, "cumulative_usd"), python_twin.cascade.sources[name].data["cumulative_usd"], rtol=1e-12)
    time.sleep(0.5)
    shot(page, "dashboard-cascade.png")
    assert real_errors(errors) == []


def test_cascade_default_readout(dashboard_page):
    """The cascade tab opens on a plausible answer: square-root impact, a stated depth, a move of a few percent."""
    page, errors = dashboard_page
    open_tab(page, "Cascade", "shock size bp", "cascade_up")
    readout = page.locator(".widget-html-content:visible", has_text="final price").first
    readout.wait_for(timeout=30_000)
    text = readout.inner_text()
    assert "sqrt impact" in text and "per 1% of asks" in text and "square-root law" in text, text
    moves = [float(m) for m in re.findall(r"final price \$[\d,]+ \(([+-]\d+\.\d\d)%", text)]
    assert len(moves) == 2 and moves[0] > 0 > moves[1] and max(map(abs, moves)) < 10, (moves, text)
    assert real_errors(errors) == []


CELLS_OF_PICTURE = """() => {
  for (const doc of [...Bokeh.documents].reverse()) {
    const image = doc.get_model_by_name('heatmap_image'), cells = doc.get_model_by_name('heatmap_cells');
    if (image && cells) return image.data.version[0] === cells.data.version[0] && image.data.version[0] > 0;
  }
  return false;
}"""

def test_heatmap_tab_time_and_leverage_keys(dashboard_page, python_twin):
    page, errors = dashboard_page
    open_tab(page, "Heatmap", "split", "side_price")
    # the time slider is shared by the tabs: use the heatmap tab's copy (the visible one)
    ms = visible_key_latency_ms(page, "time", "ArrowLeft", "side_price", "x")
    assert ms > 0
    python_twin.time.value = len(python_twin.df) - 2
    wait_equal(page, "side_price", "x", python_twin.heatmap.sources["side_price"].data["x"])
    wait_equal(page, "side_bars", "short_usd", python_twin.heatmap.sources["side_bars"].data["short_usd"])
    record_sent(page)
    ms = visible_key_latency_ms(page, "100x weight %", "ArrowRight", "side_bars", "long_usd")
    assert ms > 0
    python_twin.heatmap.controls["w100x"].value = 16
    wait_equal(page, "side_bars", "long_usd", python_twin.heatmap.sources["side_bars"].data["long_usd"])
    # the page told the kernel about the key (the slider's value) but sent none of the kernel's new data back
    sent = sent_messages(page)
    assert any('"value":16' in m for m in sent)
    echoed = [m[:300] for m in sent if '"event":"jsevent"' in m and re.search(r'"attr":"(data|low|high)"', m)]
    assert echoed == []
    # the tooltip's cells follow the picture: same version, the twin's longs
    page.wait_for_function(CELLS_OF_PICTURE, timeout=30_000)
    twin = python_twin.heatmap.sources["heatmap_cells"].data["long"][0].astype(np.float64)
    assert page.evaluate(ARRAY_SUM, ["heatmap_cells", "long"]) == pytest.approx([twin.size, float(twin.sum())], rel=1e-9)
    time.sleep(0.5)
    shot(page, "dashboard-heatmap.png")
    assert real_errors(errors) == []


def test_momentum_tab_horizon_key(dashboard_page, python_twin):
    page, errors = dashboard_page
    open_tab(page, "Momentum", "horizon", "momentum_effects")
    ms = visible_key_latency_ms(page, "horizon", "ArrowLeft", "momentum_effects", "effect")
    assert ms > 0
    python_twin.momentum.controls["horizon"].value = 12
    wait_equal(page, "momentum_horizon", "x", [12])
    assert read(page, "momentum_effects", "effect") == python_twin.momentum.sources["momentum_effects"].data["effect"]
    time.sleep(0.5)
    shot(page, "dashboard-momentum.png")
    assert real_errors(errors) == []


def test_map_downloads(dashboard_page, python_twin):
    page, errors = dashboard_page
    page.get_by_role("tab", name="Map", exact=True).click()
    wait_equal(page, "map_price", "x", python_twin.map.sources["map_price"].data["x"])
    page.locator("button:visible", has_text="CSV files of this map").click()
    link = page.locator("a", has_text="download the map (CSV)").first
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith("-map.csv")
    assert Path(download.path()).read_text() == python_twin.map.map.to_csv()
    with page.expect_download() as info:
        page.locator("a", has_text="the clusters (CSV)").first.click()
    assert Path(info.value.path()).read_text() == python_twin.map.clusters.to_csv()
    assert real_errors(errors) == []


FORMAT = """([name, attr, ticks]) => {
  for (const doc of [...Bokeh.documents].reverse()) {
    const m = doc.get_model_by_name(name);
    if (m) return m[attr].doFormat(ticks, {loc: 0});
  }
  return null;
}"""

def test_heatmap_colour_bar_in_usd_and_log_toggle(dashboard_page, python_twin):
    page, errors = dashboard_page
    open_tab(page, "Heatmap", "split", "heatmap_image")
    assert page.evaluate(FORMAT, ["heatmap_colorbar", "formatter", [0, 2.5e6, 2.5e8, 1.5e9]]) == ["$0", "$2.5M", "$250M", "$1.5B"]
    assert page.evaluate(MODEL, ["heatmap_colorbar", ["visible"]]) == [True]
    high = python_twin.heatmap.mapper.high
    assert page.evaluate(MODEL, ["heatmap_mapper", ["high"]]) == [pytest.approx(high, rel=1e-12)]
    page.locator(".widget-toggle-button:visible", has_text="log").click()
    page.wait_for_function(MODEL.replace("return attrs.map(a => m[a]);", "return m.visible;"), arg=["heatmap_log_colorbar", []], timeout=30_000)
    assert page.evaluate(MODEL, ["heatmap_colorbar", ["visible"]]) == [False]
    python_twin.heatmap.controls["color_scale"].value = "log"
    # the picture comes coloured from the kernel: the page's pixels are the twin's log-scale colours
    twin = python_twin.heatmap.sources["heatmap_image"].data["image"][0]
    expected = [twin.size, float(twin.astype(np.float64).sum())]
    page.wait_for_function(f"(want) => {{ const got = ({ARRAY_SUM})(['heatmap_image', 'image']); return got !== null && got[1] === want[1]; }}", arg=expected, timeout=30_000)
    assert page.evaluate(ARRAY_SUM, ["heatmap_image", "image"]) == expected
    assert page.evaluate(MODEL, ["heatmap_log_mapper", ["low", "high"]]) == pytest.approx([python_twin.heatmap.log_mapper.low, python_twin.heatmap.log_mapper.high], rel=1e-12)
    time.sleep(0.5)
    shot(page, "dashboard-heatmap-log.png")
    assert real_errors(errors) == []


TOOLTIP_TEXT = """() => {
  const stack = [document]; const out = [];
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.classList && [...el.classList].some(c => c.includes('tooltip')) && el.offsetParent !== null) out.push(el.innerText);
    }
  }
  return out.join(' | ');
}"""


READ_LABEL = """(name) => {
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name(name);
    if (m) return {text: m.text, visible: m.visible, y: m.y};
  }
  return null;
}"""


def test_heatmap_tooltip(dashboard_page):
    """Hover the heatmap: the tooltip gives longs and shorts in USD, the distance from that candle's close and its OHLC."""
    page, errors = dashboard_page
    open_tab(page, "Heatmap", "split", "heatmap_image")
    page.evaluate("() => window.scrollTo(0, 0)")
    box = biggest_canvas(page)  # the heatmap is the largest plot of the tab
    assert box is not None
    page.mouse.move(box["x"] + 0.6 * box["w"], box["y"] + 0.5 * box["h"])
    page.wait_for_function(f"() => ({TOOLTIP_TEXT})().includes('from that close')", timeout=30_000)
    text = page.evaluate(TOOLTIP_TEXT)
    assert "longs" in text and "shorts" in text and " UTC" in text
    assert "O $" in text and "C $" in text
    assert "e+" not in text and "NaN" not in text and "n/a" not in text
    label = page.evaluate(READ_LABEL, "heatmap_crosshair_price")  # the crosshair's price, written on the axis
    assert label is not None and label["visible"] and label["text"].startswith("$"), label
    assert abs(float(label["text"][1:].replace(",", "")) - label["y"]) <= 0.5, label
    shot(page, "dashboard-heatmap-tooltip.png")
    page.mouse.move(0, 0)
    assert real_errors(errors) == []


def test_map_framed_units_and_typed_date(dashboard_page, python_twin):
    page, errors = dashboard_page
    page.get_by_role("tab", name="Map", exact=True).click()
    ex = python_twin.map
    wait_equal(page, "map_price", "x", ex.sources["map_price"].data["x"])
    got = page.evaluate(MODEL, ["map_x_range", ["start", "end"]])
    assert got == pytest.approx([ex.figure.x_range.start, ex.figure.x_range.end], rel=1e-12)
    close = float(python_twin.df["close"].iloc[python_twin.time.value])
    assert got == pytest.approx([0.75 * close, 1.25 * close], rel=1e-12)
    assert page.evaluate(MODEL, ["map_cum_range", ["end"]]) == [pytest.approx(ex.figure.extra_y_ranges["cum"].end, rel=1e-12)]
    text = page.locator(".widget-tab-contents").first.inner_text()
    assert "LeverageProfile(" not in text and "leverage mix 5x 10%" in text
    # a typed date moves the shared time
    box = page.locator(".widget-text:visible input").first
    box.fill("2026-01-15 13:40")
    box.press("Enter")
    python_twin.map.timebox.date.value = "2026-01-15 13:40"
    wait_equal(page, "map_price", "x", ex.sources["map_price"].data["x"])
    page.wait_for_function("() => [...document.querySelectorAll('.widget-text input')].some(i => i.value === '2026-01-15 13:00')", timeout=30_000)
    wait_equal(page, "map_bars", "long_usd", ex.sources["map_bars"].data["long_usd"])
    got = page.evaluate(MODEL, ["map_x_range", ["start", "end"]])
    assert got == pytest.approx([ex.figure.x_range.start, ex.figure.x_range.end], rel=1e-12)
    assert real_errors(errors) == []


def test_notebook_in_jupyterlab(chromium, tmp_path):
    errors: list[str] = []
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "02_liquidation_map.ipynb", tmp_path / "notebooks")
    shutil.copytree(ROOT / "docs" / "pictures", tmp_path / "docs" / "pictures")  # the repository's layout, as on Binder
    with lab_server(tmp_path, ARTIFACTS / "jupyterlab.log") as url:
        page = open_page(chromium, url.replace("/lab", "/lab/tree/notebooks/02_liquidation_map.ipynb?reset"), errors)
        page.locator(".jp-Notebook").wait_for(timeout=120_000)
        # the static picture above each explorer (for readers without a kernel) loads
        page.wait_for_function("() => [...document.querySelectorAll('.jp-RenderedMarkdown img')].some(i => i.naturalWidth > 600)", timeout=60_000)
        page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=120_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        page.wait_for_function("() => window.Bokeh && Bokeh.documents && Bokeh.documents.length >= 2", timeout=180_000)
        page.locator(".noUi-handle").first.wait_for(timeout=60_000)
        first = read(page, "map_price", "x")
        assert first in ([100_000.0], [103_000.0])  # the teaching explorer (the notebook moves it to 103k)
        ms = key_latency_ms(page, "price", "ArrowRight", "map_price", "x")
        assert ms > 0
        moved = read(page, "map_price", "x")
        assert moved == [first[0] + 50.0]
        shot(page, "jupyterlab-notebook-02.png")
    assert [e for e in real_errors(errors) if "favicon" not in e] == []
