"""Real-browser test of the LiveDashboard: Voila serves a replay, Chromium zooms, plays, and reads the plots.

The page must update in place: the sources change to exactly what the same dashboard computes in this process
(the Python twin), the zoom set in the page stays, and the page is never reloaded. In CI (``CI`` set) a
missing browser part is an error, never a skip.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
from browser_util import ARTIFACTS, MODEL, READ_SOURCE, browser_marks, real_errors, voila_server

import liqtools as lt

START, END, WINDOW = "2026-02-04 12:00", "2026-02-04 19:00", 48  # eight candles to replay, two alerts among them
SETUP = f"""import liqtools as lt
from liqtools.widgets import LiveDashboard

df = lt.load_sample().loc[:"{END}"]
dash = LiveDashboard.replay(df, start="{START}", window={WINDOW}, interval_ms=250)
dash"""

pytestmark = browser_marks()


@pytest.fixture(scope="module")
def twin():
    """The same dashboard in this process: what the page must show."""
    from liqtools.widgets import LiveDashboard

    return LiveDashboard.replay(lt.load_sample().loc[:END], start=START, window=WINDOW, interval_ms=250)


# a column as a flat list (an image column: its first image, flattened)
FLAT = """([name, column]) => {
  for (const doc of [...Bokeh.documents].reverse()) {
    const m = doc.get_model_by_name(name);
    if (m && m.data && column in m.data) {
      const v = m.data[column];
      return (column === 'image' || column === 'long') ? Array.from(v[0]) : Array.from(v);
    }
  }
  return null;
}"""

ZOOM = """([name, start, end]) => {
  for (const doc of [...Bokeh.documents].reverse()) {
    const r = doc.get_model_by_name(name);
    if (r) { r.setv({start: start, end: end}); return [r.start, r.end]; }
  }
  return null;
}"""


def flat(values):
    """A column as the page holds it: floats (NaN stays NaN), strings as strings."""
    arr = np.asarray(values[0] if len(values) and isinstance(values[0], np.ndarray) else values)
    return arr.ravel().astype(float).tolist() if arr.dtype.kind in "fiu" else [str(v) for v in arr.ravel()]


def same(got, want):
    if got is None or len(got) != len(want):
        return False
    if want and isinstance(want[0], float):
        return bool(np.array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float), equal_nan=True))
    return list(got) == list(want)


def wait_source(page, dash, name, timeout_s=30.0):
    """Wait until every column of the page's source ``name`` equals the twin's."""
    import time

    want = {col: flat(values) for col, values in dash.sources[name].data.items()}
    deadline = time.monotonic() + timeout_s
    while True:
        got = {col: page.evaluate(FLAT, [name, col]) for col in want}
        bad = [col for col in want if not same(got[col], want[col])]
        if not bad:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: columns {bad} differ from the twin's")
        time.sleep(0.2)


def test_live_dashboard_updates_in_place_from_a_replay(chromium, twin, tmp_path):
    notebook = tmp_path / "live.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP)]), notebook)
    errors: list[str] = []
    with voila_server(notebook, ARTIFACTS / "voila-live.log") as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, timeout=120_000)
        page.wait_for_function("() => window.Bokeh && Bokeh.documents && Bokeh.documents.some(d => d.get_model_by_name('live_candles'))", timeout=120_000)
        play = page.locator(".widget-play button").first
        play.wait_for(timeout=60_000)
        for name in ("live_candles", "live_heatmap", "side_bars"):  # the first draw is the twin's
            wait_source(page, twin, name)
        ids = page.evaluate(MODEL, ["live_x_range", ["id"]]) + page.evaluate(MODEL, ["live_heatmap_figure", ["id"]])
        documents = page.evaluate("() => Bokeh.documents.length")

        # a zoom as the user makes it: the ranges change in the page (BokehJS sends them to the kernel)
        x0, x1 = page.evaluate(MODEL, ["live_x_range", ["start", "end"]])
        zoom_x = [x0 + 12 * 3.6e6, x1 - 6 * 3.6e6]
        zoom_y = [70_000.0, 78_000.0]
        assert page.evaluate(ZOOM, ["live_x_range", *zoom_x]) == zoom_x
        assert page.evaluate(ZOOM, ["live_y_range", *zoom_y]) == zoom_y
        page.evaluate("() => { window.__liqtoolsMarker = 'same page'; }")

        # play: the browser ticks, the kernel feeds one candle per tick, the Play stops after the last
        play.click()
        last = float(np.asarray(twin.replay_candles.index[-1:].tz_convert(None).to_numpy(dtype="datetime64[ms]").astype(np.int64))[0])
        page.wait_for_function("(t) => { const v = (" + READ_SOURCE + ")(['live_candles', 'time']); return v && v[v.length - 1] === t; }", arg=last, timeout=30_000)
        twin.controls["play"].value = twin.controls["play"].max  # the same eight candles in this process
        assert twin.monitor.readings == 8 and [line[:16] for line in twin.alert_lines] == ["2026-02-04 17:00", "2026-02-04 15:00"]
        for name in twin.sources:  # every source is exactly the twin's
            wait_source(page, twin, name)
        assert page.evaluate(MODEL, ["live_mapper", ["high"]]) == [pytest.approx(twin.mapper.high, rel=1e-12)]

        # in place: the zoom stays, the same models and documents, no reload
        assert page.evaluate(MODEL, ["live_x_range", ["start", "end"]]) == zoom_x
        assert page.evaluate(MODEL, ["live_y_range", ["start", "end"]]) == zoom_y
        assert page.evaluate(MODEL, ["live_x_range", ["id"]]) + page.evaluate(MODEL, ["live_heatmap_figure", ["id"]]) == ids
        assert page.evaluate("() => Bokeh.documents.length") == documents
        assert page.evaluate("() => window.__liqtoolsMarker") == "same page"
        # the status line and the alerts, newest first, under the rule
        page.get_by_text(twin.alert_lines[0]).wait_for(timeout=30_000)
        text = page.locator("body").inner_text()
        assert text.index(twin.alert_lines[0]) < text.index(twin.alert_lines[1])
        assert twin.monitor.rule.describe() in text and "replay: 8 of 8 candles" in text
        assert "2026-02-04 19:00 UTC" in text and "Estimated, not observed" in text
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "live-dashboard-zoomed.png"), full_page=True)

        # follow: the view jumps onto the newest candles, as the twin's
        page.locator(".widget-toggle-button", has_text="follow").click()
        twin.controls["follow"].value = True
        for name, r in (("live_x_range", twin.x_range), ("live_y_range", twin.y_range)):  # each range is its own patch
            page.wait_for_function(
                "([name, want]) => { const r = (" + MODEL + ")([name, ['start', 'end']]); return r && r[0] === want[0] && r[1] === want[1]; }",
                arg=[name, [r.start, r.end]],
                timeout=30_000,
            )
        assert page.evaluate(MODEL, ["live_y_range", ["start", "end"]]) == [twin.y_range.start, twin.y_range.end]
        page.screenshot(path=str(ARTIFACTS / "live-dashboard-follow.png"), full_page=True)
        page.close()
    assert real_errors(errors) == []
