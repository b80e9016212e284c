"""Browser latency (issue 7): key press on a slider -> the plot's data changed in the page.

    python benchmarks/bench_browser.py [--presses 15]

Serves notebooks/dashboard.ipynb with Voila on 127.0.0.1, opens it in headless Chromium (Playwright),
and for each tab presses the arrow keys on its main slider, timing in the page (performance.now) from
the key event to the named ColumnDataSource's column changing in BokehJS ("data": a listener on the source
records the moment the page applies the patch), and to the end of the first frame after that change
("painted": the plots redrawn, what the eye sees). Left and right in turn; the heatmap's leverage always
right, so that no press reuses a heatmap computed before. Needs what the browser tests
need (scripts/install-system-deps, pip install -e '.[test]').
Target (issue 16): median < 100 ms for every tab's main control and the shared time slider.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser_util import ROOT, browser, first_plot_visible, visible_key_timing, voila_server

CASES = [
    # tab, slider label (the visible one: tabs are built when opened), source, column, target ms, presses one way
    ("Map", "price move bp", "map_price", "x", 100, False),
    ("Map", "time", "map_price", "x", 100, False),  # the shared time slider: the shown tab recomputes, hidden ones wait
    ("Cascade", "shock size bp", "cascade_up", "price", 100, False),
    # each press a weight not seen before (16%, 17%, ...): every press computes a new heatmap, none comes from
    # the per-process cache; side_bars is in the same patch as the picture
    ("Heatmap", "100x weight %", "side_bars", "long_usd", 100, True),
    ("Heatmap", "time", "side_price", "x", 100, False),
    ("Momentum", "horizon", "momentum_effects", "effect", 100, False),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presses", type=int, default=15)
    ap.add_argument("--tabs", default="Map,Cascade,Heatmap,Momentum", help="tabs to measure, comma-separated")
    args = ap.parse_args()
    tabs = set(args.tabs.split(","))
    log = ROOT / "test-artifacts" / "bench-voila.log"
    with voila_server(ROOT / "notebooks" / "dashboard.ipynb", log) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1200})
        t0 = time.perf_counter()
        page.goto(url, timeout=120_000)
        first_plot_visible(page, timeout_ms=180_000)
        print(f"first plot in {time.perf_counter() - t0:.1f} s (kernel, imports, the first tab)")
        for tab, label, source, column, target, one_way in [c for c in CASES if c[0] in tabs]:
            page.get_by_role("tab", name=tab, exact=True).click()
            page.locator(".widget-label:visible", has_text="split" if tab == "Heatmap" else label).first.wait_for(timeout=120_000)
            page.wait_for_function("(n) => Bokeh.documents.some(d => d.get_model_by_name(n))", arg=source, timeout=60_000)
            time.sleep(0.5)
            times = []
            for i in range(args.presses):
                key = "ArrowRight" if one_way or i % 2 else "ArrowLeft"
                data_ms, painted_ms = visible_key_timing(page, label, key, source, column)
                if data_ms < 0:
                    raise RuntimeError(f"{tab}/{label}: the data did not change within 10 s")
                times.append((data_ms, painted_ms))
                time.sleep(0.05)
            t, p = np.array(times).T
            print(
                f"  {tab:9s} {label:15s} -> {source}.{column:10s} data median {np.median(t):6.1f} ms  "
                f"p90 {np.percentile(t, 90):6.1f}  max {t.max():6.1f}  (target < {target} ms)   "
                f"painted median {np.median(p):6.1f} ms  p90 {np.percentile(p, 90):6.1f}  ({len(t)} presses)"
            )


if __name__ == "__main__":
    main()
