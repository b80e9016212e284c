"""Bokeh figure builders: results in, figures out (never shown). Sources carry stable names."""

from __future__ import annotations

import numpy as np
import pandas as pd
from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    DataRange1d,
    DataTable,
    HoverTool,
    LinearAxis,
    LinearColorMapper,
    NumeralTickFormatter,
    Range1d,
    Span,
    TableColumn,
)
from bokeh.palettes import Inferno256
from bokeh.plotting import figure
from bokeh.transform import dodge

from liqtools.analysis.cascade import CascadeResult
from liqtools.analysis.heatmap import Heatmap
from liqtools.plotting.theme import LONG_COLOR, PRICE_COLOR, SHORT_COLOR, price_text, usd

__all__ = ["heatmap_figure", "map_figure", "clusters_table", "cascade_figure"]

def _usd_ticks() -> NumeralTickFormatter:
    return NumeralTickFormatter(format="$0.[0]a")


def _price_ticks() -> NumeralTickFormatter:
    return NumeralTickFormatter(format="$0,0")


def _ms(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)


def heatmap_figure(hm: Heatmap, df: pd.DataFrame, *, width: int = 900, height: int = 420) -> figure:
    """The heatmap over time (long + short USD per price bin) as an image, with the candles on top.

    Sources: ``heatmap_image`` (one image) and ``candles``.
    """
    total = hm.long + hm.short
    times = _ms(hm.times)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 3_600_000.0
    positive = total[total > 0]
    high = float(np.quantile(positive, 0.995)) if len(positive) else 1.0
    mapper = LinearColorMapper(palette=Inferno256, low=0.0, high=high)
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
    image = ColumnDataSource(
        {
            "image": [np.ascontiguousarray(total.T, dtype=np.float32)],  # display only: float32 halves the page
            "x": [times[0] - step] if len(times) else [0.0],
            "y": [hm.edges[0]],
            "dw": [step * len(times)],
            "dh": [hm.edges[-1] - hm.edges[0]],
        },
        name="heatmap_image",
    )
    img = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=image, color_mapper=mapper)
    fig.add_tools(
        HoverTool(
            renderers=[img],
            tooltips=[("time", "$x{%F %H:%M}"), ("price", "$y{$0,0}"), ("levels", "@image{$0.0a}")],
            formatters={"$x": "datetime"},
        )
    )
    candles = ColumnDataSource(
        {
            "time": _ms(df.index),
            "open": df["open"].to_numpy(),
            "high": df["high"].to_numpy(),
            "low": df["low"].to_numpy(),
            "close": df["close"].to_numpy(),
            "color": np.where(df["close"] >= df["open"], SHORT_COLOR, LONG_COLOR),
        },
        name="candles",
    )
    width_ms = 0.7 * (float(np.median(np.diff(_ms(df.index)))) if len(df) > 1 else 3_600_000.0)
    fig.segment(x0="time", x1="time", y0="low", y1="high", color="white", alpha=0.7, source=candles)
    fig.vbar(x="time", width=width_ms, top="open", bottom="close", fill_color="color", line_color="color", source=candles)
    fig.yaxis.formatter = _price_ticks()
    lo, hi = float(df["low"].min()), float(df["high"].max())
    pad = 0.25 * (hi - lo)
    fig.y_range = Range1d(max(hm.edges[0], lo - pad), min(hm.edges[-1], hi + pad))
    fig.x_range = Range1d(times[0] - step if len(times) else 0, times[-1] if len(times) else 1)
    return fig


def map_figure(
    map_df: pd.DataFrame,
    price: float,
    *,
    clusters: pd.DataFrame | None = None,
    width: int = 900,
    height: int = 380,
    title: str | None = None,
) -> figure:
    """The liquidation map at one moment: long bars below the price, short bars above, cumulative curves.

    Bars use the left axis (USD per bin), the cumulative curves the right axis. Sources: ``map_bars``,
    ``map_cumulative``; clusters are shaded.
    """
    bars = ColumnDataSource(
        {
            "price": map_df.index.to_numpy(),
            "low": map_df["low"].to_numpy(),
            "high": map_df["high"].to_numpy(),
            "long_usd": map_df["long_usd"].to_numpy(),
            "short_usd": map_df["short_usd"].to_numpy(),
        },
        name="map_bars",
    )
    cum = ColumnDataSource(
        {
            "long_edge": map_df["low"].to_numpy(),
            "short_edge": map_df["high"].to_numpy(),
            "cum_long_usd": np.where(map_df["low"].to_numpy() <= price, map_df["cum_long_usd"].to_numpy(), np.nan),
            "cum_short_usd": np.where(map_df["high"].to_numpy() > price, map_df["cum_short_usd"].to_numpy(), np.nan),
        },
        name="map_cumulative",
    )
    fig = figure(
        width=width,
        height=height,
        title=title or f"Estimated liquidation map at {price_text(price)}",
        x_axis_label="liquidation price (USD)",
        y_axis_label="liquidation notional per bin (USD)",
        tools="pan,xwheel_zoom,box_zoom,reset,save",
    )
    size = float(map_df["high"].iloc[0] - map_df["low"].iloc[0]) if len(map_df) else 1.0
    r_long = fig.vbar(x="price", width=0.9 * size, top="long_usd", source=bars, color=LONG_COLOR, alpha=0.8, legend_label="long liquidations")
    r_short = fig.vbar(x="price", width=0.9 * size, top="short_usd", source=bars, color=SHORT_COLOR, alpha=0.8, legend_label="short liquidations")
    fig.y_range = DataRange1d(renderers=[r_long, r_short], start=0)
    top = float(max(map_df["cum_long_usd"].max(), map_df["cum_short_usd"].max(), 1.0)) if len(map_df) else 1.0
    fig.extra_y_ranges = {"cum": Range1d(0, 1.05 * top)}
    fig.add_layout(LinearAxis(y_range_name="cum", axis_label="cumulative from price (USD)", formatter=_usd_ticks()), "right")
    fig.line("long_edge", "cum_long_usd", source=cum, y_range_name="cum", color=LONG_COLOR, line_width=2, legend_label="cumulative longs")
    fig.line("short_edge", "cum_short_usd", source=cum, y_range_name="cum", color=SHORT_COLOR, line_width=2, legend_label="cumulative shorts")
    fig.add_layout(Span(location=price, dimension="height", line_color=PRICE_COLOR, line_dash="dashed", line_width=2))
    if clusters is not None:
        for row in clusters.itertuples():
            color = SHORT_COLOR if row.side == "short" else LONG_COLOR
            fig.add_layout(BoxAnnotation(left=row.low, right=row.high, fill_color=color, fill_alpha=0.12))
    fig.add_tools(
        HoverTool(
            renderers=[r_long, r_short],
            tooltips=[("bin", "@low{$0,0} - @high{$0,0}"), ("longs", "@long_usd{$0.0a}"), ("shorts", "@short_usd{$0.0a}")],
        )
    )
    fig.xaxis.formatter = _price_ticks()
    fig.yaxis[0].formatter = _usd_ticks()
    fig.legend.location = "top_left"
    fig.legend.click_policy = "hide"
    return fig


def clusters_table(clusters: pd.DataFrame, *, width: int = 900) -> DataTable:
    """The clusters as an interactive table (source ``clusters``)."""
    src = ColumnDataSource(
        {
            "side": clusters["side"].tolist(),
            "range": [f"{price_text(lo)} - {price_text(hi)}" for lo, hi in zip(clusters["low"], clusters["high"])],
            "notional": [usd(v) for v in clusters["notional_usd"]],
            "distance": [f"{d:+.2f}%" for d in clusters["distance_pct"]],
            "share": [f"{s:.0%}" for s in clusters["share"]],
        },
        name="clusters",
    )
    cols = [
        TableColumn(field="side", title="side"),
        TableColumn(field="range", title="price range"),
        TableColumn(field="notional", title="notional (est.)"),
        TableColumn(field="distance", title="distance from price"),
        TableColumn(field="share", title="share of side"),
    ]
    return DataTable(source=src, columns=cols, width=width, height=28 * (len(clusters) + 1) + 10, index_position=None)


def cascade_figure(up: CascadeResult, down: CascadeResult, *, width: int = 900, height: int = 340) -> figure:
    """The domino chains after an up and a down shock: price per step (lines), forced USD per step (bars).

    Sources: ``cascade_up``, ``cascade_down`` (columns ``step, price, liquidated_usd, cumulative_usd``).
    """
    fig = figure(
        width=width,
        height=height,
        title=f"Cascade after a {up.shock:+.2%} / {down.shock:+.2%} shock from {price_text(up.start_price)} "
        f"(depth {usd(up.depth_usd)} per 1%, {up.impact} impact; estimate)",
        x_axis_label="step (0 = the shock itself)",
        y_axis_label="price (USD)",
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    top = max(float(up.steps["liquidated_usd"].max()), float(down.steps["liquidated_usd"].max()), 1.0)
    fig.extra_y_ranges = {"usd": Range1d(0, 1.1 * top)}
    fig.add_layout(LinearAxis(y_range_name="usd", axis_label="liquidated in the step (USD)", formatter=_usd_ticks()), "right")
    renderers = []
    for result, color, name, label in ((up, SHORT_COLOR, "cascade_up", "up: shorts liquidated"), (down, LONG_COLOR, "cascade_down", "down: longs liquidated")):
        src = ColumnDataSource({c: result.steps[c].to_numpy() for c in ("step", "price", "liquidated_usd", "cumulative_usd")}, name=name)
        offset = -0.18 if result is up else 0.18
        fig.vbar(x=dodge("step", offset), width=0.34, top="liquidated_usd", source=src, y_range_name="usd", color=color, alpha=0.35)
        renderers.append(fig.step("step", "price", source=src, mode="after", color=color, line_width=2, legend_label=label))
        renderers.append(fig.scatter("step", "price", source=src, color=color, size=7))
        fig.add_layout(Span(location=result.final_price, dimension="width", line_color=color, line_dash="dotted"))
    fig.add_layout(Span(location=up.start_price, dimension="width", line_color=PRICE_COLOR, line_dash="dashed"))
    fig.y_range = DataRange1d(renderers=renderers, range_padding=0.15)
    fig.add_tools(
        HoverTool(
            renderers=renderers,
            tooltips=[("step", "@step"), ("price", "@price{$0,0}"), ("liquidated", "@liquidated_usd{$0.0a}"), ("cumulative", "@cumulative_usd{$0.0a}")],
        )
    )
    fig.yaxis[0].formatter = _price_ticks()
    fig.legend.location = "top_left"
    return fig

