"""Real-browser tests of the dashboard's page as a person meets it: text for people, disabled controls, every tab
at three window sizes (screenshots in test-artifacts/), the dark and light looks, the market switch.

In CI (``CI`` set) a missing browser part is an error, never a skip.
"""

from __future__ import annotations

import re
import time

from browser_util import (
    ARTIFACTS,
    MODEL,
    biggest_canvas,
    browser_marks,
    open_leverage,
    open_tab,
    real_errors,
    rightmost_canvas_edge,
    shot,
    visible_key_latency_ms,
    wait_equal,
)

import liqtools as lt

pytestmark = browser_marks()


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
            right = rightmost_canvas_edge(page)  # plots stretch or shrink to the window: none sticks out
            assert 0 < right <= width, (name, width, height, right)
            if name in ("Map", "Heatmap") and width >= 1280:  # the main plot is above the fold, whole
                close_accordions(page)  # as the tab opens (an earlier test may have unfolded the leverage)
                page.evaluate("() => window.scrollTo(0, 0)")
                box = biggest_canvas(page)
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
