"""The heatmap over time: the picture coloured in Python, the tooltip's cells, the candles on top.

Re-exported by :mod:`liqtools.plotting.figures`. Numbers read by people use the house unit style
(:mod:`liqtools.plotting.theme`): ticks, colour bar and tooltips say $341.4M, never 3.4e8 or $341.4m.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import (
    ColumnDataSource,
    CrosshairTool,
    CustomJSHover,
    HoverTool,
    LinearColorMapper,
    LogColorMapper,
    Range1d,
)
from bokeh.models.annotations import ColorBar
from bokeh.palettes import Inferno256
from bokeh.plotting import figure

from liqtools.analysis.heatmap import Heatmap
from liqtools.plotting._colour import palette_cells, positive_sums
from liqtools.plotting.crosshair import add_price_readout
from liqtools.plotting.maps import Data, _price_ticks, to_ms
from liqtools.plotting.theme import LONG_COLOR, SHORT_COLOR, USD_JS, usd_ticks

__all__ = ["SATURATION_CHOICES", "heatmap_cells", "heatmap_color_high", "heatmap_data", "heatmap_figure", "heatmap_rgba", "merged_candles"]

#: Percentiles of the non-empty cells where the heatmap's colour scale may top out (the saturation control).
SATURATION_CHOICES = (90.0, 95.0, 98.0, 99.0, 99.5, 99.9, 100.0)


# ---------------------------------------------------------------------------- heatmap over time


def heatmap_data(hm: Heatmap, df: pd.DataFrame, *, log: bool = False, high: float | None = None, version: int = 0, cells: bool = True) -> Data:
    """Columns of the sources ``heatmap_image``, ``heatmap_cells`` and ``candles``.

    ``heatmap_image`` holds the picture already coloured (``image``: RGBA, :func:`heatmap_rgba` with the
    linear or ``log`` scale topping out at ``high``, default :func:`heatmap_color_high`), so the page only
    copies pixels. ``heatmap_cells`` holds what the tooltip reads per cell, ``long`` and ``short`` (USD,
    float32; left out with ``cells=False``): a widget sends it after the picture, and the tooltip shows a
    cell's USD only once both carry the same ``version``."""
    times = to_ms(hm.times)
    candle = _candle_ms(df)
    step = float(np.median(np.diff(times))) if len(times) > 1 else candle * hm.every
    top = heatmap_color_high(hm) if high is None else high
    return {
        "heatmap_image": {
            # column k holds the levels after snapshot candle k: drawn from that candle's close to the next snapshot
            "image": [heatmap_rgba(hm.long.T + hm.short.T, top, log=log)],
            "x": [times[0] + candle if len(times) else 0.0],
            "y": [float(hm.edges[0])],
            "dw": [step * len(times)],
            "dh": [float(hm.edges[-1] - hm.edges[0])],
            "version": [version],
            "longs": [0.0],  # the tooltip's fields: their formatters read heatmap_cells
            "shorts": [0.0],
        },
        **({"heatmap_cells": heatmap_cells(hm, version)} if cells else {}),
        "candles": merged_candles(df, hm.every),
    }


def _candle_ms(df: pd.DataFrame) -> float:
    """The typical candle length in milliseconds (an hour when there is one candle)."""
    return float(np.median(np.diff(to_ms(df.index)))) if len(df) > 1 else 3_600_000.0


def _duration_text(ms: float) -> str:
    """``3h``, ``45m``, ``1d``: a candle length as traders write it.

    >>> _duration_text(3 * 3_600_000), _duration_text(44 * 60_000), _duration_text(86_400_000), _duration_text(90_000)
    ('3h', '44m', '1d', '90s')
    """
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms >= size and ms % size == 0:
            return f"{ms / size:g}{unit}"
    return f"{ms / 1000:g}s"


def merged_candles(df: pd.DataFrame, every: int = 1) -> dict[str, Any]:
    """The columns of the ``candles`` source: ``df``'s candles merged ``every`` at a time, from the first
    (the heatmap's snapshot step, so one drawn candle spans one column of the picture): the first open, the
    highest high, the lowest low, the last close; ``time`` is the middle of the merged candles' open times
    (their own open time when ``every`` is 1), ``color`` the long colour for a fall. The last group may be
    shorter. The page draws one candle per column instead of ``every``, several to a pixel.

    >>> df = pd.DataFrame({"open": [1.0, 2, 3, 4], "high": [2.0, 5, 4, 6], "low": [0.5, 1, 2, 3], "close": [2.0, 3, 4, 3]},
    ...                   index=pd.date_range("2026-01-01", periods=4, freq="h", tz="UTC"))
    >>> {k: v.tolist() for k, v in merged_candles(df, 3).items() if k != "time"}
    {'open': [1.0, 4.0], 'high': [5.0, 6.0], 'low': [0.5, 3.0], 'close': [4.0, 3.0], 'color': ['#1a9c74', '#d6404e']}
    """
    every = max(1, int(every))
    times = to_ms(df.index)
    starts = np.arange(0, len(df), every)
    ends = np.minimum(starts + every, len(df)) - 1
    opened, closed = df["open"].to_numpy(dtype=np.float64)[starts], df["close"].to_numpy(dtype=np.float64)[ends]
    high, low = df["high"].to_numpy(dtype=np.float64), df["low"].to_numpy(dtype=np.float64)
    return {
        "time": 0.5 * (times[starts] + times[ends]),
        "open": opened,
        "high": np.maximum.reduceat(high, starts) if len(starts) else high[:0],
        "low": np.minimum.reduceat(low, starts) if len(starts) else low[:0],
        "close": closed,
        "color": np.where(closed >= opened, SHORT_COLOR, LONG_COLOR),
    }


def heatmap_cells(hm: Heatmap, version: int = 0) -> dict[str, object]:
    """The columns of ``heatmap_cells``: longs and shorts per cell (USD, float32, display only), the picture's ``version``."""
    return {
        "long": [np.ascontiguousarray(hm.long.T, dtype=np.float32)],
        "short": [np.ascontiguousarray(hm.short.T, dtype=np.float32)],
        "version": [version],
    }


def _palette_rgba(palette: tuple[str, ...] | list[str]) -> np.ndarray:
    """``#rrggbb`` colours as RGBA words for bokeh's ``image_rgba`` (bytes R, G, B, A in memory order)."""
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in palette], dtype=np.uint32)
    return rgb[:, 0] | (rgb[:, 1] << 8) | (rgb[:, 2] << 16) | np.uint32(255 << 24)


_INFERNO_RGBA = _palette_rgba(Inferno256)


def heatmap_rgba(values: np.ndarray, high: float, *, log: bool = False) -> np.ndarray:
    """``values`` (USD per cell) coloured with Inferno256 as the colour bars show it: linear from 0 to ``high``,
    or log from ``high / 1000`` to ``high``; cells at or past the top take the top colour, cells at or below
    the bottom (empty ones too) the bottom colour. RGBA words (``uint32``), the shape of ``values``.

    >>> heatmap_rgba(np.array([[0.0, 50.0, 100.0, 1e9]]), 100.0).tolist() == [list(_INFERNO_RGBA[[0, 128, 255, 255]])]
    True
    """
    v = np.asarray(values, dtype=np.float64)
    if not log:
        return palette_cells(v, high, _INFERNO_RGBA)  # (v / high) * 256, one pass
    low = high / 1000.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a tiny top: cells past it are simply the top colour
        frac = np.log(np.maximum(v, low) / low) / np.log(high / low) if high > low > 0 else np.zeros_like(v)
    return palette_cells(frac, 1.0, _INFERNO_RGBA)


def heatmap_color_high(hm: Heatmap, percentile: float = 99.5) -> float:
    """Top of the colour scale: the ``percentile`` of non-empty cells (default 99.5, so a few hot cells do
    not wash out the rest; 100 is the hottest cell). Cells above it show the top colour."""
    positive = positive_sums(hm.long.T, hm.short.T)  # the matrices' contiguous order; a percentile ignores order
    return float(np.percentile(positive, percentile)) if len(positive) else 1.0


def _candle_js(body: str) -> str:
    """Tooltip code that finds the candle nearest the mouse's time (``c``: its index, ``d``: the candles) and runs ``body``."""
    code = USD_JS + """
const t = candles.data.time, n = t.length, x = special_vars.x;
let lo = 0, hi = n - 1;
while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (t[mid] <= x) lo = mid; else hi = mid; }
const c = Math.abs(t[hi] - x) < Math.abs(x - t[lo]) ? hi : lo;
const d = candles.data;
const p = (v) => "$" + v.toLocaleString("en-US", {maximumFractionDigits: v >= 100 ? 0 : 4});
""" + body
    return code


def heatmap_figure(hm: Heatmap, df: pd.DataFrame, *, width: int = 900, height: int = 420, log: bool = False, percentile: float = 99.5) -> figure:
    """The heatmap over time (long + short USD per price bin) as an image, with the candles on top and a
    colour bar in USD.

    Sources: ``heatmap_image`` (the picture coloured in Python, :func:`heatmap_data`), ``heatmap_cells``
    (longs and shorts per cell, for the tooltip) and ``candles``. The renderer ``heatmap_picture`` draws it; two colour bars
    (``heatmap_colorbar`` with ``heatmap_mapper``, ``heatmap_log_colorbar`` with ``heatmap_log_mapper``; one
    visible, ``log`` chooses) give the scale. The scales top out at the ``percentile`` of the non-empty
    cells (:func:`heatmap_color_high`); the log scale spans three decades below that.
    The tooltip gives the time, the price and its distance from that candle's close, longs and shorts
    separately, and the candle's open, high, low and close. The candles are drawn merged by the heatmap's
    snapshot step (:func:`merged_candles`: one per column of the picture, e.g. 3h candles over hourly data
    in 1,000 columns), and the tooltip reads those.
    """
    high = heatmap_color_high(hm, percentile)
    data = heatmap_data(hm, df, log=log, high=high)
    merged_ms = _candle_ms(df) * hm.every  # the drawn candles' length (merged_candles)
    mapper = LinearColorMapper(palette=Inferno256, low=0.0, high=high, name="heatmap_mapper")
    log_mapper = LogColorMapper(palette=Inferno256, low=high / 1000.0, high=high, low_color=Inferno256[0], name="heatmap_log_mapper")
    fig = figure(
        x_axis_type="datetime",
        width=width,
        height=height,
        title="Estimated liquidation levels over time (long + short, USD per price bin)",
        x_axis_label="time (UTC)",
        y_axis_label="price (USD)",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        background_fill_color="black",
    )
    image = ColumnDataSource(data["heatmap_image"], name="heatmap_image")
    cells = ColumnDataSource(data["heatmap_cells"], name="heatmap_cells")
    cell_fmt = {
        f"@{field}": CustomJSHover(
            args={"image": image, "cells": cells},
            code=USD_JS + f"""
const k = special_vars.image_index, c = cells.data;
if (k == null || c.version[0] !== image.data.version[0]) return "...";  // the new cells are on their way
return usd(c.{column}[0][k.flat_index], false);""",
        )
        for field, column in (("longs", "long"), ("shorts", "short"))
    }
    images = [fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=image, name="heatmap_picture")]
    candles = ColumnDataSource(data["candles"], name="candles")
    candle_fmt = CustomJSHover(
        args={"candles": candles},
        code=_candle_js('return "O " + p(d.open[c]) + "  H " + p(d.high[c]) + "  L " + p(d.low[c]) + "  C " + p(d.close[c]);'),
    )
    distance_fmt = CustomJSHover(
        args={"candles": candles},
        code=_candle_js(
            'const pct = 100 * (special_vars.y / d.close[c] - 1);'
            'return p(special_vars.y) + " (" + (pct >= 0 ? "+" : "") + pct.toFixed(2) + "% from that close)";'
        ),
    )
    fig.add_tools(
        HoverTool(
            renderers=images,
            tooltips=[
                ("time", "$snap_x{%F %H:%M} UTC"),
                ("price", "$y{custom}"),
                ("longs", "@longs{custom}"),
                ("shorts", "@shorts{custom}"),
                (f"candle ({_duration_text(merged_ms)})", "$x{custom}"),
            ],
            formatters={"$snap_x": "datetime", "$y": distance_fmt, "$x": candle_fmt, **cell_fmt},
        ),
        CrosshairTool(line_color="#bbbbbb", line_alpha=0.6),
    )
    add_price_readout(fig, "y", name="heatmap_crosshair_price")
    for m, name in ((mapper, "heatmap_colorbar"), (log_mapper, "heatmap_log_colorbar")):
        bar = ColorBar(color_mapper=m, formatter=usd_ticks(), title="USD per bin", width=12, name=name, visible=(name == "heatmap_log_colorbar") == log)
        fig.add_layout(bar, "right")
    width_ms = 0.7 * merged_ms
    fig.segment(x0="time", x1="time", y0="low", y1="high", color="white", alpha=0.7, source=candles)
    fig.vbar(x="time", width=width_ms, top="open", bottom="close", fill_color="color", line_color="color", source=candles)
    fig.yaxis.formatter = _price_ticks()
    lo, hi = float(df["low"].min()), float(df["high"].max())
    pad = 0.25 * (hi - lo)
    fig.y_range = Range1d(start=max(float(hm.edges[0]), lo - pad), end=min(float(hm.edges[-1]), hi + pad))
    x0 = data["heatmap_image"]["x"][0]  # type: ignore[index]
    fig.x_range = Range1d(start=float(to_ms(df.index[:1])[0]), end=x0 + data["heatmap_image"]["dw"][0])  # type: ignore[index]
    return fig
