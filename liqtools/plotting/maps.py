"""The heatmap over time and the map at one moment (bokeh builders and their ``*_data`` functions).

Re-exported by :mod:`liqtools.plotting.figures`. Numbers read by people use the house unit style
(:mod:`liqtools.plotting.theme`): ticks, colour bar and tooltips say $341.4M, never 3.4e8 or $341.4m.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bokeh.models import (
    ColumnDataSource,
    CrosshairTool,
    CustomJSHover,
    DataRange1d,
    HoverTool,
    LinearAxis,
    LinearColorMapper,
    LogColorMapper,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.models.annotations import ColorBar
from bokeh.palettes import Inferno256
from bokeh.plotting import figure

from liqtools.analysis.heatmap import Heatmap
from liqtools.plotting.crosshair import add_price_readout
from liqtools.plotting.theme import (
    LONG_COLOR,
    PRICE_COLOR,
    PRICE_TICKS,
    SHORT_COLOR,
    USD_JS,
    price_text,
    usd_hover,
    usd_ticks,
)

__all__ = [
    "FRAME",
    "SATURATION_CHOICES",
    "heatmap_cells",
    "heatmap_color_high",
    "heatmap_data",
    "heatmap_figure",
    "heatmap_rgba",
    "map_data",
    "map_figure",
    "map_ranges",
    "map_side_figure",
    "to_ms",
]

Data = dict[str, dict[str, object]]
#: The map opens on the price +- this fraction.
FRAME = 0.25
#: Percentiles of the non-empty cells where the heatmap's colour scale may top out (the saturation control).
SATURATION_CHOICES = (90.0, 95.0, 98.0, 99.0, 99.5, 99.9, 100.0)


def to_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC times as float milliseconds since the epoch (bokeh's datetime axis unit)."""
    return index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)


def _price_ticks() -> NumeralTickFormatter:
    return NumeralTickFormatter(format=PRICE_TICKS)


# ---------------------------------------------------------------------------- heatmap over time


def heatmap_data(hm: Heatmap, df: pd.DataFrame, *, log: bool = False, high: float | None = None, version: int = 0, cells: bool = True) -> Data:
    """Columns of the sources ``heatmap_image``, ``heatmap_cells`` and ``candles``.

    ``heatmap_image`` holds the picture already coloured (``image``: RGBA, :func:`heatmap_rgba` with the
    linear or ``log`` scale topping out at ``high``, default :func:`heatmap_color_high`), so the page only
    copies pixels. ``heatmap_cells`` holds what the tooltip reads per cell, ``long`` and ``short`` (USD,
    float32; left out with ``cells=False``): a widget sends it after the picture, and the tooltip shows a
    cell's USD only once both carry the same ``version``."""
    times = to_ms(hm.times)
    candle = float(np.median(np.diff(to_ms(df.index)))) if len(df) > 1 else 3_600_000.0
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
        "candles": {
            "time": to_ms(df.index),
            "open": df["open"].to_numpy(),
            "high": df["high"].to_numpy(),
            "low": df["low"].to_numpy(),
            "close": df["close"].to_numpy(),
            "color": np.where(df["close"] >= df["open"], SHORT_COLOR, LONG_COLOR),
        },
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
    n = len(_INFERNO_RGBA)
    v = np.asarray(values, dtype=np.float64)
    if log:
        low = high / 1000.0
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.log(np.maximum(v, low) / low) / np.log(high / low) if high > low > 0 else np.zeros_like(v)
    else:
        frac = v / high if high > 0 else np.zeros_like(v)
    index = np.clip(np.nan_to_num(frac * n, nan=0.0, posinf=n - 1, neginf=0.0), 0, n - 1).astype(np.intp)
    return _INFERNO_RGBA[index]


def heatmap_color_high(hm: Heatmap, percentile: float = 99.5) -> float:
    """Top of the colour scale: the ``percentile`` of non-empty cells (default 99.5, so a few hot cells do
    not wash out the rest; 100 is the hottest cell). Cells above it show the top colour."""
    total = hm.long + hm.short
    positive = total[total > 0]
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
    separately, and the candle's open, high, low and close.
    """
    high = heatmap_color_high(hm, percentile)
    data = heatmap_data(hm, df, log=log, high=high)
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
                ("candle", "$x{custom}"),
            ],
            formatters={"$snap_x": "datetime", "$y": distance_fmt, "$x": candle_fmt, **cell_fmt},
        ),
        CrosshairTool(line_color="#bbbbbb", line_alpha=0.6),
    )
    add_price_readout(fig, "y", name="heatmap_crosshair_price")
    for m, name in ((mapper, "heatmap_colorbar"), (log_mapper, "heatmap_log_colorbar")):
        bar = ColorBar(color_mapper=m, formatter=usd_ticks(), title="USD per bin", width=12, name=name, visible=(name == "heatmap_log_colorbar") == log)
        fig.add_layout(bar, "right")
    times = np.asarray(data["candles"]["time"], dtype=float)
    width_ms = 0.7 * (float(np.median(np.diff(times))) if len(times) > 1 else 3_600_000.0)
    fig.segment(x0="time", x1="time", y0="low", y1="high", color="white", alpha=0.7, source=candles)
    fig.vbar(x="time", width=width_ms, top="open", bottom="close", fill_color="color", line_color="color", source=candles)
    fig.yaxis.formatter = _price_ticks()
    lo, hi = float(df["low"].min()), float(df["high"].max())
    pad = 0.25 * (hi - lo)
    fig.y_range = Range1d(start=max(float(hm.edges[0]), lo - pad), end=min(float(hm.edges[-1]), hi + pad))
    x0 = data["heatmap_image"]["x"][0]  # type: ignore[index]
    fig.x_range = Range1d(start=float(to_ms(df.index[:1])[0]), end=x0 + data["heatmap_image"]["dw"][0])  # type: ignore[index]
    return fig


# ---------------------------------------------------------------------------- map at one moment


def map_data(map_df: pd.DataFrame, price: float, clusters: pd.DataFrame | None = None) -> Data:
    """Columns of the sources ``map_bars``, ``map_cumulative``, ``map_clusters`` and ``map_price``."""
    low = map_df["low"].to_numpy()
    high = map_df["high"].to_numpy()
    c = clusters if clusters is not None else pd.DataFrame(columns=["side", "low", "high", "notional_usd"])
    return {
        "map_bars": {
            "price": map_df.index.to_numpy(),
            "low": low,
            "high": high,
            "width": 0.9 * (high - low),
            "long_usd": map_df["long_usd"].to_numpy(),
            "short_usd": map_df["short_usd"].to_numpy(),
        },
        "map_cumulative": {
            "long_edge": low,
            "short_edge": high,
            "cum_long_usd": np.where(low <= price, map_df["cum_long_usd"].to_numpy(), np.nan),
            "cum_short_usd": np.where(high > price, map_df["cum_short_usd"].to_numpy(), np.nan),
        },
        "map_clusters": {
            "left": c["low"].to_numpy(dtype=float),
            "right": c["high"].to_numpy(dtype=float),
            "side": c["side"].tolist(),
            "notional_usd": c["notional_usd"].to_numpy(dtype=float),
            "color": [SHORT_COLOR if s == "short" else LONG_COLOR for s in c["side"]],
        },
        "map_price": {"x": [float(price)]},
    }


def map_ranges(map_df: pd.DataFrame, price: float, frame: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """The map's axis ranges for a price window ``frame``: ``x`` is the window, ``bars`` and ``cum`` run from 0
    to 8% above the largest bar and the largest of both cumulative curves inside it (so neither is clipped).

    Examples
    --------
    >>> m = pd.DataFrame({"low": [90.0, 100.0], "high": [100.0, 110.0], "long_usd": [5.0, 0.0], "short_usd": [0.0, 2.0],
    ...                   "cum_long_usd": [5.0, 0.0], "cum_short_usd": [0.0, 2.0]}, index=[95.0, 105.0])
    >>> map_ranges(m, 100.0, (80.0, 120.0))
    {'x': (80.0, 120.0), 'bars': (0.0, 5.4), 'cum': (0.0, 5.4)}
    """
    lo, hi = float(frame[0]), float(frame[1])
    inside = (map_df["high"] > lo) & (map_df["low"] < hi)
    view = map_df[inside]
    bars = float(np.nanmax(view[["long_usd", "short_usd"]].to_numpy(), initial=0.0))
    cum_long = view["cum_long_usd"].where(view["low"] <= price)
    cum_short = view["cum_short_usd"].where(view["high"] > price)
    cum = float(np.nanmax(np.concatenate([cum_long.to_numpy(dtype=float), cum_short.to_numpy(dtype=float)]), initial=0.0))
    top = lambda v: round(1.08 * v, 10) if v > 0 else 1.0
    return {"x": (lo, hi), "bars": (0.0, top(bars)), "cum": (0.0, top(cum))}


def map_figure(
    map_df: pd.DataFrame,
    price: float,
    *,
    clusters: pd.DataFrame | None = None,
    width: int = 900,
    height: int = 380,
    title: str | None = None,
    frame: tuple[float, float] | None = None,
) -> figure:
    """The liquidation map at one moment: long bars below the price, short bars above, cumulative curves.

    Bars use the left axis (USD per bin), the cumulative curves the right axis. It opens on ``frame``
    (default: the price +-25%) with both axes fitted to what is inside (:func:`map_ranges`); the legend sits
    below the plot and hides a series when clicked. Sources: ``map_bars``, ``map_cumulative``,
    ``map_clusters`` (shaded bands), ``map_price`` (the current price line).
    """
    data = map_data(map_df, price, clusters)
    frame = frame or (price * (1 - FRAME), price * (1 + FRAME))
    ranges = map_ranges(map_df, price, frame)
    src = {name: ColumnDataSource(cols, name=name) for name, cols in data.items()}
    fig = figure(
        width=width,
        height=height,
        title=title or f"Estimated liquidation map at {price_text(price)}",
        name="map_figure",
        x_axis_label="liquidation price (USD)",
        y_axis_label="liquidation notional per bin (USD)",
        tools="pan,xwheel_zoom,box_zoom,reset,save",
        x_range=Range1d(start=ranges["x"][0], end=ranges["x"][1], name="map_x_range"),
        y_range=Range1d(start=ranges["bars"][0], end=ranges["bars"][1], name="map_bars_range"),
    )
    fig.vstrip(x0="left", x1="right", source=src["map_clusters"], fill_color="color", fill_alpha=0.12, line_alpha=0)
    r_long = fig.vbar(x="price", width="width", top="long_usd", source=src["map_bars"], color=LONG_COLOR, alpha=0.8, legend_label="long liquidations")
    r_short = fig.vbar(x="price", width="width", top="short_usd", source=src["map_bars"], color=SHORT_COLOR, alpha=0.8, legend_label="short liquidations")
    fig.extra_y_ranges = {"cum": Range1d(start=ranges["cum"][0], end=ranges["cum"][1], name="map_cum_range")}
    fig.add_layout(LinearAxis(y_range_name="cum", axis_label="cumulative from price (USD)", formatter=usd_ticks()), "right")
    fig.line("long_edge", "cum_long_usd", source=src["map_cumulative"], y_range_name="cum", color=LONG_COLOR, line_width=2, legend_label="cumulative longs")
    fig.line("short_edge", "cum_short_usd", source=src["map_cumulative"], y_range_name="cum", color=SHORT_COLOR, line_width=2, legend_label="cumulative shorts")
    fig.vspan(x="x", source=src["map_price"], line_color=PRICE_COLOR, line_dash="dashed", line_width=2)
    fig.add_tools(
        HoverTool(
            renderers=[r_long, r_short],
            tooltips=[("bin", "@low{$0,0.[00]} - @high{$0,0.[00]}"), ("longs", "@long_usd{custom}"), ("shorts", "@short_usd{custom}")],
            formatters={"@long_usd": usd_hover(), "@short_usd": usd_hover()},
        ),
        CrosshairTool(dimensions="height", line_color="#999999", line_alpha=0.5),
    )
    add_price_readout(fig, "x", name="map_crosshair_price")
    fig.xaxis.formatter = _price_ticks()
    fig.yaxis[0].formatter = usd_ticks()
    legend = fig.legend[0]
    fig.add_layout(legend, "below")  # outside the data
    legend.orientation = "horizontal"
    legend.click_policy = "hide"
    legend.title = "click an entry to hide or show it"
    return fig


def map_side_figure(map_df: pd.DataFrame, price: float, *, y_range: object | None = None, width: int = 300, height: int = 420) -> figure:
    """The map turned on its side to sit beside the heatmap: price up the y axis, USD along x.

    Sources: ``side_bars``, ``side_cumulative``, ``side_price`` (same columns as :func:`map_data`'s
    ``map_bars``, ``map_cumulative``, ``map_price``).
    """
    data = map_data(map_df, price)
    fig = figure(
        width=width,
        height=height,
        x_axis_label="levels at the chosen time: USD per bin",
        tools="ywheel_zoom,reset",
        **({"y_range": y_range} if y_range is not None else {}),
    )
    bars = ColumnDataSource(data["map_bars"], name="side_bars")
    r1 = fig.hbar(y="price", height="width", right="long_usd", source=bars, color=LONG_COLOR, alpha=0.8)
    r2 = fig.hbar(y="price", height="width", right="short_usd", source=bars, color=SHORT_COLOR, alpha=0.8)
    fig.x_range = DataRange1d(renderers=[r1, r2], start=0)
    cum = ColumnDataSource(data["map_cumulative"], name="side_cumulative")
    fig.extra_x_ranges = {"cum": DataRange1d(start=0)}
    top_axis = LinearAxis(x_range_name="cum", axis_label="cumulative from price", formatter=usd_ticks())
    top_axis.ticker.desired_num_ticks = 3  # level labels: as short as the heatmap's title beside it
    fig.add_layout(top_axis, "above")
    c1 = fig.line("cum_long_usd", "long_edge", source=cum, x_range_name="cum", color=LONG_COLOR, line_width=2)
    c2 = fig.line("cum_short_usd", "short_edge", source=cum, x_range_name="cum", color=SHORT_COLOR, line_width=2)
    fig.extra_x_ranges["cum"].renderers = [c1, c2]
    fig.hspan(y="x", source=ColumnDataSource(data["map_price"], name="side_price"), line_color=PRICE_COLOR, line_dash="dashed", line_width=2)
    fig.add_tools(
        HoverTool(
            renderers=[r1, r2],
            tooltips=[("bin", "@low{$0,0.[00]} - @high{$0,0.[00]}"), ("longs", "@long_usd{custom}"), ("shorts", "@short_usd{custom}")],
            formatters={"@long_usd": usd_hover(), "@short_usd": usd_hover()},
        )
    )
    for axis in fig.below:
        axis.formatter = usd_ticks()
        axis.major_label_orientation = 0.8
    fig.yaxis.formatter = _price_ticks()
    return fig
