"""The map at one moment (bokeh builders and their ``*_data`` functions); the heatmap over time is in
:mod:`liqtools.plotting.heatmap_time`.

Re-exported by :mod:`liqtools.plotting.figures`. Numbers read by people use the house unit style
(:mod:`liqtools.plotting.theme`): ticks, colour bar and tooltips say $341.4M, never 3.4e8 or $341.4m.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bokeh.models import (
    ColumnDataSource,
    CrosshairTool,
    HoverTool,
    LinearAxis,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.plotting import figure

from liqtools.plotting.crosshair import add_price_readout
from liqtools.plotting.theme import (
    LONG_COLOR,
    PRICE_COLOR,
    PRICE_TICKS,
    SHORT_COLOR,
    price_text,
    usd_hover,
    usd_ticks,
)

__all__ = [
    "FRAME",
    "map_data",
    "map_figure",
    "map_ranges",
    "map_side_figure",
    "side_ranges",
    "to_ms",
]

Data = dict[str, dict[str, object]]
#: The map opens on the price +- this fraction.
FRAME = 0.25


def to_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC times as float milliseconds since the epoch (bokeh's datetime axis unit)."""
    return index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)


def _price_ticks() -> NumeralTickFormatter:
    return NumeralTickFormatter(format=PRICE_TICKS)


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


def side_ranges(data: Data) -> dict[str, tuple[float, float]]:
    """The x ranges of :func:`map_side_figure` for :func:`map_data`'s columns: ``bars`` and ``cum``, each
    from 0 to 5% past its largest value (as a fitted range with bokeh's default padding), 0 to 1 when empty.

    >>> side_ranges({"map_bars": {"long_usd": [1.0, 4.0], "short_usd": [2.0]}, "map_cumulative": {"cum_long_usd": [float("nan")], "cum_short_usd": [0.0]}})
    {'bars': (0.0, 4.2), 'cum': (0.0, 1.0)}
    """

    def span(cols: dict[str, object], names: tuple[str, str]) -> tuple[float, float]:
        values = np.concatenate([np.asarray(cols[c], dtype=float) for c in names])
        top = float(np.nanmax(values, initial=0.0)) if len(values) else 0.0
        return (0.0, round(1.05 * top, 10) if top > 0 else 1.0)

    return {"bars": span(data["map_bars"], ("long_usd", "short_usd")), "cum": span(data["map_cumulative"], ("cum_long_usd", "cum_short_usd"))}


def map_side_figure(map_df: pd.DataFrame, price: float, *, y_range: object | None = None, width: int = 300, height: int = 420) -> figure:
    """The map turned on its side to sit beside the heatmap: price up the y axis, USD along x.

    Sources: ``side_bars``, ``side_cumulative``, ``side_price`` (same columns as :func:`map_data`'s
    ``map_bars``, ``map_cumulative``, ``map_price``). The x ranges ``side_x_range`` (bars) and
    ``side_cum_range`` (cumulative curves) are set from the data (:func:`side_ranges`) rather than fitted
    in the page: a widget sends them with the new bars, so the page draws once per step and sends nothing back.
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
    ranges = side_ranges(data)
    fig.x_range = Range1d(*ranges["bars"], reset_start=ranges["bars"][0], reset_end=ranges["bars"][1], name="side_x_range")
    cum = ColumnDataSource(data["map_cumulative"], name="side_cumulative")
    fig.extra_x_ranges = {"cum": Range1d(*ranges["cum"], reset_start=ranges["cum"][0], reset_end=ranges["cum"][1], name="side_cum_range")}
    top_axis = LinearAxis(x_range_name="cum", axis_label="cumulative from price", formatter=usd_ticks())
    top_axis.ticker.desired_num_ticks = 3  # level labels: as short as the heatmap's title beside it
    fig.add_layout(top_axis, "above")
    fig.line("cum_long_usd", "long_edge", source=cum, x_range_name="cum", color=LONG_COLOR, line_width=2)
    fig.line("cum_short_usd", "short_edge", source=cum, x_range_name="cum", color=SHORT_COLOR, line_width=2)
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
