"""Real-browser tests: Voila serves the dashboard, JupyterLab runs a notebook, Chromium moves the sliders.

In CI (``CI`` set) a missing browser part is an error, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from browser_util import (
    READ_SOURCE,
    ROOT,
    browser,
    first_plot_visible,
    key_latency_ms,
    lab_server,
    missing_browser_parts,
    open_leverage,
    visible_key_latency_ms,
    voila_server,
    wait_equal,
)

import liqtools as lt

ARTIFACTS = ROOT / "test-artifacts"

missing = missing_browser_parts()
if missing and os.environ.get("CI"):
    raise RuntimeError(f"browser tests cannot run in CI: missing {missing}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(missing), reason=f"missing {missing}")]


def shot(page, name):
    """Save a screenshot for a human to look at (test-artifacts/, not committed) and check it is a real picture."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, name


def read(page, name, column):
    return page.evaluate(READ_SOURCE, [name, column])


def open_page(b, url, errors):
    page = b.new_page(viewport={"width": 1400, "height": 1200})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, timeout=120_000)
    return page


def real_errors(errors):
    # the machine has no internet: Chromium's own lookups of outside hosts fail; nothing of ours may
    return [e for e in errors if "ERR_NAME_NOT_RESOLVED" not in e and "ERR_INTERNET_DISCONNECTED" not in e]


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def dashboard_page(chromium):
    errors: list[str] = []
    with voila_server(ROOT / "notebooks" / "dashboard.ipynb", ARTIFACTS / "voila.log") as url:
        page = open_page(chromium, url, errors)
        first_plot_visible(page, timeout_ms=180_000)
        page.locator(".noUi-handle").first.wait_for(timeout=60_000)
        yield page, errors
        page.close()


@pytest.fixture(scope="module")
def python_twin():
    """The same dashboard in this process, to compute what the page must show after each key press."""
    from liqtools.widgets import Dashboard

    return Dashboard()


def open_tab(page, name, control_label, source):
    """Click a tab and wait for its explorer: built in the kernel when first opened ("building..." until then)."""
    page.get_by_role("tab", name=name, exact=True).click()
    page.locator(".widget-label:visible", has_text=control_label).first.wait_for(timeout=120_000)
    page.wait_for_function("(name) => Bokeh.documents.some(d => d.get_model_by_name(name))", arg=source, timeout=60_000)


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


def test_heatmap_tab_time_and_leverage_keys(dashboard_page, python_twin):
    page, errors = dashboard_page
    open_tab(page, "Heatmap", "split", "side_price")
    # the time slider is shared by the tabs: use the heatmap tab's copy (the visible one)
    ms = visible_key_latency_ms(page, "time", "ArrowLeft", "side_price", "x")
    assert ms > 0
    python_twin.time.value = len(python_twin.df) - 2
    wait_equal(page, "side_price", "x", python_twin.heatmap.sources["side_price"].data["x"])
    wait_equal(page, "side_bars", "short_usd", python_twin.heatmap.sources["side_bars"].data["short_usd"])
    ms = visible_key_latency_ms(page, "100x weight %", "ArrowRight", "side_bars", "long_usd")
    assert ms > 0
    python_twin.heatmap.controls["w100x"].value = 16
    wait_equal(page, "side_bars", "long_usd", python_twin.heatmap.sources["side_bars"].data["long_usd"])
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

MODEL = """([name, attrs]) => {
  for (const doc of [...Bokeh.documents].reverse()) {
    const m = doc.get_model_by_name(name);
    if (m) return attrs.map(a => m[a]);
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
    assert page.evaluate(MODEL, ["heatmap_log", ["visible"]]) == [True]
    python_twin.heatmap.controls["color_scale"].value = "log"
    assert page.evaluate(MODEL, ["heatmap_log_mapper", ["low", "high"]]) == pytest.approx([python_twin.heatmap.log_mapper.low, python_twin.heatmap.log_mapper.high], rel=1e-12)
    time.sleep(0.5)
    shot(page, "dashboard-heatmap-log.png")
    assert real_errors(errors) == []


BIGGEST_CANVAS = """() => {
  const stack = [document]; let best = null;
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.tagName === 'CANVAS') {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && (!best || r.width * r.height > best.w * best.h)) best = {x: r.x, y: r.y, w: r.width, h: r.height};
      }
    }
  }
  return best;
}"""

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
    box = page.evaluate(BIGGEST_CANVAS)  # the heatmap is the largest plot of the tab
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


RIGHTMOST_CANVAS = """() => {
  const stack = [document]; let right = 0;
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.tagName === 'CANVAS') {
        const r = el.getBoundingClientRect();
        if (r.width > 50 && r.height > 50) right = Math.max(right, r.right);
      }
    }
  }
  return right;
}"""

# every text a person reads on the open tab, tables (bokeh's shadow DOM) included, with the colours of table rows
SHOWN_TEXT = """() => {
  const pane = [...document.querySelectorAll('.widget-tab-contents > *')].find(el => el.offsetParent !== null) || document.body;
  const stack = [pane]; const texts = []; const rows = [];
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.classList && el.classList.contains('slick-row')) {
        const s = getComputedStyle(el); rows.push([s.backgroundColor, s.color]);
      }
      if (el.tagName === 'STYLE' || el.tagName === 'SCRIPT') continue;
      for (const node of el.childNodes) if (node.nodeType === 3 && node.textContent.trim()) texts.push(node.textContent.trim());
      if (el.tagName === 'INPUT' || el.tagName === 'SELECT') texts.push(el.value);
    }
  }
  return {text: texts.join(' | '), rows: rows};
}"""


def test_units_for_people_on_every_tab(dashboard_page):
    """No Python reprs, no e-notation, one USD style in the text of every tab; tables readable in the dark look."""
    page, errors = dashboard_page
    for name, label, source in (("Map", "price move bp", "map_bars"), ("Heatmap", "split", "heatmap_image"), ("Cascade", "shock size bp", "cascade_up"), ("Momentum", "horizon", "momentum_effects")):
        open_tab(page, name, label, source)
        time.sleep(0.5)
        shown = page.evaluate(SHOWN_TEXT)
        text = shown["text"]
        assert "$" in text, name
        assert not re.search(r"\d(\.\d+)?e[+-]?\d", text), (name, re.findall(r".{30}\de[+-]?\d.{10}", text))
        assert not re.search(r"[A-Z][A-Za-z]+\(", text) and "np.float" not in text and "nan" not in text.lower().split(), name
        assert not re.search(r"\$\d[\d.,]*[mb]\b", text), (name, re.findall(r"\$\d[\d.,]*[mb]\b", text))  # $1.5M, never $1.5m
        assert shown["rows"] or name != "Momentum", "the effects table was not found"
        for background, colour in shown["rows"]:  # table rows: dark, light text (bokeh's own rows are white)
            assert background not in ("rgb(255, 255, 255)", "rgb(250, 250, 250)", "rgb(240, 240, 240)"), (name, background, colour)
    assert real_errors(errors) == []


def slider_disabled(page, label):
    slider = page.locator(".widget-slider:visible", has=page.locator(".widget-label", has_text=label)).first
    return slider.locator(".noUi-target[disabled]").count() == 1


def wait_disabled(page, label, disabled):
    page.wait_for_function(
        """([label, disabled]) => [...document.querySelectorAll('.widget-slider')].some(s => s.offsetParent !== null
             && s.querySelector('.widget-label') && s.querySelector('.widget-label').textContent.includes(label)
             && (s.querySelector('.noUi-target[disabled]') !== null) === disabled)""",
        arg=[label, disabled],
        timeout=30_000,
    )


def test_controls_without_effect_are_disabled_in_the_page(dashboard_page):
    """The long share only in "share" mode; the dominant leverage only with a share; the leverage weights say they are normalised."""
    page, errors = dashboard_page
    page.get_by_role("tab", name="Map", exact=True).click()
    assert slider_disabled(page, "long share %")
    split = page.locator(".widget-dropdown:visible", has=page.locator("label", has_text="split")).locator("select")
    split.select_option("share")
    wait_disabled(page, "long share %", False)
    split.select_option("both")
    wait_disabled(page, "long share %", True)
    open_leverage(page)
    assert slider_disabled(page, "dominant lev.") and not slider_disabled(page, "100x weight %")
    assert page.locator(".widget-html-content:visible", has_text="weights scaled to sum to 100%").count() == 1
    assert visible_key_latency_ms(page, "its share %", "ArrowRight", "map_bars", "long_usd") > 0  # share 5%: the dominant leverage counts
    wait_disabled(page, "dominant lev.", False)
    assert visible_key_latency_ms(page, "its share %", "ArrowLeft", "map_bars", "long_usd") > 0  # back to 0
    wait_disabled(page, "dominant lev.", True)
    close_accordions(page)
    assert real_errors(errors) == []


def close_accordions(page):
    for title in page.locator(".jupyter-widget-Collapse-open:visible .jupyter-widget-Collapse-header, .p-Collapse-open:visible .p-Collapse-header").all():
        title.click()
    time.sleep(0.5)


def test_screenshots_of_every_tab(dashboard_page):
    """Every tab at two window sizes, as a person sees it (the viewport), for a human to look at."""
    page, errors = dashboard_page
    for width, height in ((1440, 900), (1280, 720), (820, 700)):  # the last: a narrow window
        page.set_viewport_size({"width": width, "height": height})
        for name, label, source in (("Map", "price move bp", "map_bars"), ("Heatmap", "split", "heatmap_image"), ("Cascade", "shock size bp", "cascade_up"), ("Momentum", "horizon", "momentum_effects")):
            open_tab(page, name, label, source)
            time.sleep(1.0)
            path = ARTIFACTS / f"tab-{name.lower()}-{width}x{height}.png"
            page.screenshot(path=str(path))
            assert path.stat().st_size > 10_000
            right = page.evaluate(RIGHTMOST_CANVAS)  # plots stretch or shrink to the window: none sticks out
            assert 0 < right <= width, (name, width, height, right)
            if name in ("Map", "Heatmap") and width >= 1280:  # the main plot is above the fold, whole
                close_accordions(page)  # as the tab opens (an earlier test may have unfolded the leverage)
                page.evaluate("() => window.scrollTo(0, 0)")
                box = page.evaluate(BIGGEST_CANVAS)
                assert box is not None and box["y"] + box["h"] <= height, (width, height, box)
    page.set_viewport_size({"width": 1400, "height": 1200})
    assert real_errors(errors) == []


def test_look_dark_and_light(dashboard_page):
    """The dashboard opens dark (the heatmap's look) and the look toggle restyles the plots in place."""
    page, errors = dashboard_page
    page.get_by_role("tab", name="Map", exact=True).click()
    assert page.evaluate(MODEL, ["map_figure", ["background_fill_color"]]) == ["#0d0d12"]
    page.locator(".widget-toggle-button:visible", has_text="light").click()
    page.wait_for_function(MODEL.replace("return attrs.map(a => m[a]);", "return m.background_fill_color === '#ffffff';"), arg=["map_figure", []], timeout=30_000)
    shot(page, "dashboard-light.png")
    page.locator(".widget-toggle-button:visible", has_text="dark").click()
    page.wait_for_function(MODEL.replace("return attrs.map(a => m[a]);", "return m.background_fill_color === '#0d0d12';"), arg=["map_figure", []], timeout=30_000)
    shot(page, "dashboard-dark.png")
    assert real_errors(errors) == []


def test_market_switch(dashboard_page):
    page, errors = dashboard_page
    page.get_by_role("tab", name="Map", exact=True).click()
    page.locator(".widget-dropdown", has=page.locator("label", has_text="market")).locator("select").select_option(index=list(lt.sample_names()).index("sol-2024"))
    sol = lt.load_sample("sol-2024")
    wait_equal(page, "map_price", "x", [float(sol["close"].iloc[-1])], timeout_ms=120_000)
    assert page.get_by_text("building the Heatmap tab...").count() == 1  # the other tabs wait to be opened again
    open_tab(page, "Heatmap", "split", "heatmap_image")
    wait_equal(page, "side_price", "x", [float(sol["close"].iloc[-1])], timeout_ms=120_000)
    time.sleep(0.5)
    shot(page, "dashboard-heatmap-sol.png")
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
