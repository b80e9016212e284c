"""Benchmark picture: each method's score on each test fold, per side (:func:`benchmark_figure`).

Top row: Spearman rank correlation with realized liquidations (the range baseline drawn as a thick grey
line, the bar to clear); bottom row: R^2 gain over the range within the fold. One colour per method,
markers joined fold to fold; hovering a marker shows every figure of that fold and the chosen options.
"""

from __future__ import annotations

from typing import Any

from bokeh.layouts import gridplot
from bokeh.models import CDSView, ColumnDataSource, GroupFilter, HoverTool, LayoutDOM, Span  # type: ignore[attr-defined]
from bokeh.palettes import Category10_10, Category20_20
from bokeh.plotting import figure

from liqtools.analysis.benchmark import BenchmarkResult
from liqtools.plotting.theme import PRICE_COLOR

__all__ = ["benchmark_data", "benchmark_figure"]

RANGE_COLOR = "#8c8c8c"
_TOOLTIPS = [
    ("method", "@method"),
    ("fold", "@fold (@n periods)"),
    ("Spearman", "@spearman{0.000} (range @range_spearman{0.000})"),
    ("R^2 gain", "@r2_gain{+0.000} (out of sample @oos_r2_gain{+0.000})"),
    ("HAC t", "@t_stat{0.0}"),
    ("chosen on training", "@options"),
]


def _colors(methods: list[str]) -> dict[str, str]:
    others = [m for m in methods if m != "range"]
    palette = Category10_10 if len(others) <= 10 else Category20_20
    out = {m: palette[i % len(palette)] for i, m in enumerate(others)}
    out["range"] = RANGE_COLOR
    return out


def benchmark_data(result: BenchmarkResult) -> dict[str, dict[str, list[Any]]]:
    """Columns of the sources ``benchmark_long`` and ``benchmark_short``: one row per fold x method, with
    ``x`` (the fold, nudged per method so markers do not overlap)."""
    table = result.table
    methods = list(dict.fromkeys(table["method"]))
    width = 0.6 / max(len(methods), 1)
    nudge = {m: (i - (len(methods) - 1) / 2) * width for i, m in enumerate(methods)}
    out = {}
    for side in ("long", "short"):
        t = table[table["side"] == side]
        cols: dict[str, list[Any]] = {c: t[c].tolist() for c in ("fold", "method", "spearman", "range_spearman", "r2_gain", "oos_r2_gain", "t_stat", "n", "options")}
        cols["x"] = [f + nudge[m] for f, m in zip(t["fold"], t["method"])]
        cols["options"] = [o or "-" for o in cols["options"]]
        out[side] = cols
    return out


def benchmark_figure(result: BenchmarkResult, *, width: int = 460, height: int = 300) -> LayoutDOM:
    """Fold-by-fold scores of every method, longs left and shorts right (sources ``benchmark_long``,
    ``benchmark_short``). Returns a grid of four figures."""
    data = benchmark_data(result)
    methods = list(dict.fromkeys(result.table["method"]))
    colors = _colors(methods)
    folds = sorted(set(result.table["fold"]))
    grid: list[list[Any]] = []
    for metric, label in (("spearman", "Spearman with realized liquidations"), ("r2_gain", "R^2 gain over the range")):
        row = []
        for side in ("long", "short"):
            src = ColumnDataSource(data[side], name=f"benchmark_{side}")
            fig = figure(
                width=width,
                height=height,
                title=f"{result.market}: {side}s, {label.split(' with')[0].split(' over')[0]} per test fold",
                x_axis_label="test fold",
                y_axis_label=label,
                tools="pan,wheel_zoom,reset,save",
            )
            dots: list[Any] = []
            cols = data[side]
            for m in methods:
                idx = [i for i, name in enumerate(cols["method"]) if name == m]
                xs = [cols["x"][i] for i in idx]
                ys = [cols[metric][i] for i in idx]
                thick = m == "range"
                fig.line(xs, ys, color=colors[m], line_width=4 if thick else 1.5, alpha=0.8 if thick else 0.6, legend_label=m)
                view = CDSView(filter=GroupFilter(column_name="method", group=m))
                dots.append(
                    fig.scatter("x", metric, source=src, view=view, color=colors[m], size=8, line_color=PRICE_COLOR, line_width=0.5, legend_label=m)
                )
            fig.add_tools(HoverTool(renderers=dots, tooltips=_TOOLTIPS))
            fig.xaxis.ticker = folds
            if metric == "r2_gain":
                fig.add_layout(Span(location=0, dimension="width", line_color=RANGE_COLOR, line_width=2))
            fig.legend.label_text_font_size = "8pt"
            fig.legend.click_policy = "hide"
            fig.legend.location = "bottom_left"
            fig.legend.spacing = 0
            row.append(fig)
        grid.append(row)
    return gridplot(grid)
