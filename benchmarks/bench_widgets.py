"""Widget refresh speed, Python side (issue 6): control change -> source data assigned (and, since each
widget is wrapped in its BokehModel first, the patch serialised for the page).

    python benchmarks/bench_widgets.py

Targets: MapExplorer < 30 ms on the sample; HeatmapExplorer time slider < 30 ms and leverage change
< 300 ms on 30 days of 1-minute candles; CascadeExplorer < 50 ms.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_heatmap import synthetic_minutes

import liqtools as lt
from liqtools.widgets import CascadeExplorer, HeatmapExplorer, MapExplorer


def timed(ex, name, values, repeats=15):
    """Median and max over `repeats` changes; values do not repeat where caching would flatter the figure."""
    _ = ex.widget  # wrap in BokehModel as on a page: assignments now also serialise a patch
    out = []
    for value in itertools.islice(itertools.cycle(values), repeats):
        t = time.perf_counter()
        ex.controls[name].value = value
        out.append((time.perf_counter() - t) * 1e3)
        assert not ex.error.value, ex.error.value
    return float(np.median(out)), float(np.max(out))


def report(label, figures, target):
    med, worst = figures
    print(f"  {label:44s} median {med:7.1f} ms   max {worst:7.1f} ms   target < {target} ms")


def main() -> None:
    sample = lt.load_sample()
    print("MapExplorer, bundled sample (2,112 hourly candles):")
    ex = MapExplorer(sample)
    report("price move slider", timed(ex, "price_move", list(range(-400, 400, 50))), 30)
    report("time slider", timed(ex, "time", list(range(200, 2100, 150))), 30)
    report("leverage weight (heatmap recomputed)", timed(ex, "w100x", list(range(20, 95, 5))), 30)
    teach = MapExplorer()
    report("teaching mode: open interest", timed(teach, "open_interest", [v for _, v in teach.controls["open_interest"].options]), 30)
    report("teaching mode: price", timed(teach, "price", np.linspace(95_000, 105_000, 9)), 30)

    month = synthetic_minutes(43_200)
    print("HeatmapExplorer, 30 days of 1-minute candles (43,200):")
    t = time.perf_counter()
    hx = HeatmapExplorer(month)
    print(f"  (build {time.perf_counter() - t:.2f} s, {len(hx.hm.times)} snapshot columns x {len(hx.hm.edges) - 1} bins)")
    report("time slider", timed(hx, "time", list(range(1_000, 43_000, 3_000))), 30)
    report("leverage weight (heatmap recomputed)", timed(hx, "w100x", list(range(20, 60, 5)), repeats=8), 300)

    print("CascadeExplorer, bundled sample:")
    cx = CascadeExplorer(df=sample)
    report("shock slider", timed(cx, "shock", [50, 100, 200, 300]), 50)
    report("ask depth slider", timed(cx, "ask_depth", [v for _, v in cx.controls["ask_depth"].options][::3]), 50)
    report("time slider", timed(cx, "time", list(range(200, 2100, 150))), 50)


if __name__ == "__main__":
    main()
