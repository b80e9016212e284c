"""The live dashboard's plots: the recent heatmap with candles and alerts, the current map on its side.

:func:`live_data` gives every source's columns from a :class:`~liqtools.watch.Monitor` (what
:class:`~liqtools.widgets.LiveDashboard` assigns after each new candle); :func:`live_figure` builds the
layout once. Only the recent snapshots and the price rows around the recent candles travel to the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bokeh.layouts import row
from bokeh.models import CDSView, ColumnDataSource, CrosshairTool, GroupFilter, HoverTool, LinearColorMapper, Range1d
from bokeh.models.annotations import ColorBar
from bokeh.palettes import Inferno256
from bokeh.plotting import figure

from liqtools.analysis.levels import liquidation_map
from liqtools.plotting.maps import _price_ticks, map_data, map_side_figure, to_ms
from liqtools.plotting.theme import LONG_COLOR, SHORT_COLOR, usd_hover, usd_ticks

__all__ = ["CROP", "LEAD", "color_high", "live_data", "live_figure", "live_ranges", "price_rows"]

Data = dict[str, dict[str, Any]]
#: Price rows sent to the page: the recent candles' range widened by this fraction each way.
CROP = 0.2
#: Room left ahead of the newest candle when the view is set (a share of the window's span).
LEAD = 0.25


def _candle_ms(monitor: Any) -> float:
    idx = monitor.df.index
    return float(np.median(np.diff(to_ms(idx)))) if len(idx) > 1 else 3_600_000.0


def price_rows(edges: np.ndarray, low: float, high: float, crop: float = CROP) -> tuple[int, int]:
    """The bins ``[j0, j1)`` of ``edges`` covering ``low / (1 + crop)`` to ``high * (1 + crop)``.

    >>> price_rows(np.arange(0.0, 201.0, 10.0), 100.0, 110.0, crop=0.1)
    (9, 13)
    """
    n = len(edges) - 1
    j0 = int(np.searchsorted(edges, low / (1 + crop), side="right")) - 1
    j1 = int(np.searchsorted(edges, high * (1 + crop), side="left"))
    return max(0, min(j0, n - 1)), max(1, min(j1, n))


def live_data(monitor: Any, window: int, crop: float = CROP) -> Data:
    """Every source's columns for the monitor as it stands: the last ``window`` heatmap snapshots, the candles
    since the first of them, the map after the last candle (``monitor.bands()``) and all alerts.

    Sources: ``live_heatmap`` (``image`` = longs + shorts per bin, ``long``; rows: the price bins of
    :func:`price_rows` around those candles), ``live_candles``, ``side_bars``, ``side_cumulative``,
    ``side_price`` (:func:`~liqtools.plotting.maps.map_data` of the map over the same rows),
    ``live_clusters`` (``bottom, top, side, notional_usd, color``) and ``live_alerts`` (``time, price,
    side, color, text``).
    """
    return _live(monitor, window, crop)[0]


def _live(monitor: Any, window: int, crop: float) -> tuple[Data, pd.DataFrame]:
    hm = monitor.heatmap
    k0 = max(0, len(hm.times) - window)
    times = to_ms(hm.times[k0:])
    candle = _candle_ms(monitor)
    df = monitor.df
    recent = df[df.index >= hm.times[k0]] if len(hm.times) else df
    low, high = float(recent["low"].min()), float(recent["high"].max())
    j0, j1 = price_rows(hm.edges, low, high, crop)
    long_img = np.ascontiguousarray(hm.long[k0:, j0:j1].T, dtype=np.float32)
    short_img = np.ascontiguousarray(hm.short[k0:, j0:j1].T, dtype=np.float32)
    step = candle * hm.every
    levels, clusters, price = monitor.bands()
    map_df = liquidation_map(levels, price, bin_size=hm.bin_size, price_range=(float(hm.edges[j0]), float(hm.edges[j1])))
    side = map_data(map_df, price)
    alerts = monitor.alerts
    data: Data = {
        "live_heatmap": {
            "image": [long_img + short_img],
            "long": [long_img],
            "x": [times[0] + candle if len(times) else 0.0],
            "y": [float(hm.edges[j0])],
            "dw": [step * len(times)],
            "dh": [float(hm.edges[j1] - hm.edges[j0])],
        },
        "live_candles": {
            "time": to_ms(recent.index),
            "open": recent["open"].to_numpy(dtype=float),
            "high": recent["high"].to_numpy(dtype=float),
            "low": recent["low"].to_numpy(dtype=float),
            "close": recent["close"].to_numpy(dtype=float),
            "color": np.where(recent["close"] >= recent["open"], SHORT_COLOR, LONG_COLOR),
        },
        "side_bars": side["map_bars"],
        "side_cumulative": side["map_cumulative"],
        "side_price": side["map_price"],
        "live_clusters": {
            "bottom": clusters["low"].to_numpy(dtype=float),
            "top": clusters["high"].to_numpy(dtype=float),
            "side": clusters["side"].astype(str).tolist(),
            "notional_usd": clusters["notional_usd"].to_numpy(dtype=float),
            "color": [SHORT_COLOR if s == "short" else LONG_COLOR for s in clusters["side"]],
        },
        "live_alerts": {
            "time": to_ms(pd.DatetimeIndex([a.time for a in alerts], tz="UTC")) + candle / 2,
            "price": np.array([a.price for a in alerts], dtype=float),
            "side": [a.side for a in alerts],
            "color": [SHORT_COLOR if a.side == "short" else LONG_COLOR for a in alerts],
            "text": [str(a) for a in alerts],
        },
    }
    return data, map_df


def color_high(image: np.ndarray, percentile: float = 99.5) -> float:
    """Top of the colour scale: the ``percentile`` of the shown image's non-empty cells (1 when all empty)."""
    positive = image[image > 0]
    return float(np.percentile(positive, percentile)) if len(positive) else 1.0


def live_ranges(data: Data, lead: float = LEAD) -> dict[str, tuple[float, float]]:
    """The view on the newest candles: ``x`` from the first shown snapshot to the last candle plus ``lead`` of
    the span, ``y`` the candles' range padded by a quarter of it (the map follows the price axis)."""
    img, candles = data["live_heatmap"], data["live_candles"]
    x0 = float(img["x"][0])
    x1 = max(x0 + float(img["dw"][0]), float(candles["time"][-1]) if len(candles["time"]) else x0)
    lo, hi = float(np.min(candles["low"])), float(np.max(candles["high"]))
    pad = 0.25 * (hi - lo) if hi > lo else 0.01 * hi
    return {"x": (x0, x1 + lead * (x1 - x0)), "y": (lo - pad, hi + pad)}


def live_figure(monitor: Any, window: int, *, crop: float = CROP, width: int = 700, height: int = 380) -> Any:
    """The layout: the heatmap with candles, close line, cluster bands and alert markers (triangles: up for a
    short band, down for a long one), and the map on its side sharing the price axis. Named models:
    ``live_x_range``, ``live_y_range`` (the user's zoom; kept), ``live_heatmap_figure``, ``live_mapper``."""
    data, map_df = _live(monitor, window, crop)
    view = live_ranges(data)
    mapper = LinearColorMapper(palette=Inferno256, low=0.0, high=color_high(data["live_heatmap"]["image"][0]), name="live_mapper")
    fig = figure(
        x_axis_type="datetime", width=width, height=height, name="live_heatmap_figure",
        title="Estimated liquidation levels, recent snapshots (long + short, USD per price bin)",
        x_axis_label="time (UTC)", y_axis_label="price (USD)", tools="pan,wheel_zoom,box_zoom,reset,save",
        background_fill_color="black",
        x_range=Range1d(*view["x"], name="live_x_range"), y_range=Range1d(*view["y"], name="live_y_range"),
    )
    src = {name: ColumnDataSource(cols, name=name) for name, cols in data.items() if name.startswith("live_")}
    image = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src["live_heatmap"], color_mapper=mapper)
    fig.hstrip(y0="bottom", y1="top", source=src["live_clusters"], fill_color="color", fill_alpha=0.08, line_alpha=0)
    candles = src["live_candles"]
    times = np.asarray(data["live_candles"]["time"], dtype=float)
    width_ms = 0.7 * (float(np.median(np.diff(times))) if len(times) > 1 else 3_600_000.0)
    fig.segment(x0="time", x1="time", y0="low", y1="high", color="white", alpha=0.7, source=candles)
    fig.vbar(x="time", width=width_ms, top="open", bottom="close", fill_color="color", line_color="color", source=candles)
    fig.line("time", "close", source=candles, color="#dddddd", alpha=0.6, line_width=1)
    marks = src["live_alerts"]
    for side, marker in (("short", "triangle"), ("long", "inverted_triangle")):
        fig.scatter("time", "price", source=marks, view=CDSView(filter=GroupFilter(column_name="side", group=side)), marker=marker,
                    size=13, fill_color="color", line_color="white", line_width=1.5)
    fig.add_tools(
        HoverTool(renderers=[image], tooltips=[("time", "$x{%F %H:%M} UTC"), ("price", "$y{$0,0}"), ("longs + shorts", "@image{custom}")],
                  formatters={"$x": "datetime", "@image": usd_hover()}),
        CrosshairTool(line_color="#bbbbbb", line_alpha=0.6),
    )
    fig.add_layout(ColorBar(color_mapper=mapper, formatter=usd_ticks(), title="USD per bin", width=12), "right")
    fig.yaxis.formatter = _price_ticks()
    fig.grid.grid_line_alpha = 0.25  # on black: visible where no snapshot is drawn yet, not glaring
    fig.sizing_mode = "stretch_width"
    side_fig = map_side_figure(map_df, float(data["side_price"]["x"][0]), y_range=fig.y_range, width=300, height=fig.height)
    for axis in side_fig.below:
        axis.axis_label = "levels after the last candle: USD per bin"
    return row(fig, side_fig, sizing_mode="stretch_width")
