"""Bokeh figure builders: results in, figures out (never shown). Sources carry stable names.

Each picture has a ``*_data`` function giving the columns of its named sources, so a widget can
refresh a figure by assigning ``source.data = data[name]`` with exactly what the builder would draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from bokeh.layouts import column, row
from bokeh.models import (
    AdaptiveTicker,
    ColumnDataSource,
    CustomJSTickFormatter,
    DataRange1d,
    DataTable,
    HoverTool,
    LabelSet,
    LayoutDOM,
    LinearAxis,
    NumeralTickFormatter,
    Range1d,
    Row,
    Span,
    TableColumn,
)
from bokeh.plotting import figure

from liqtools.analysis.cascade import CascadeResult
from liqtools.analysis.momentum import EventStudy
from liqtools.plotting.heatmap_time import heatmap_cells, heatmap_color_high, heatmap_data, heatmap_figure, heatmap_rgba
from liqtools.plotting.maps import map_data, map_figure, map_side_figure, to_ms
from liqtools.plotting.theme import (
    LONG_COLOR,
    PRICE_COLOR,
    PRICE_TICKS,
    SHORT_COLOR,
    price_text,
    usd,
    usd_hover,
    usd_ticks,
)

__all__ = [
    "cascade_data",
    "cascade_figure",
    "cascade_flag_data",
    "cascade_levels_data",
    "clusters_data",
    "clusters_table",
    "effects_data",
    "heatmap_cells",
    "heatmap_color_high",
    "heatmap_data",
    "heatmap_figure",
    "heatmap_rgba",
    "liquidations_data",
    "liquidations_figure",
    "liquidations_ranges",
    "map_data",
    "map_figure",
    "map_side_figure",
    "momentum_figure",
    "paths_data",
    "table_data",
    "to_ms",
]

Data = dict[str, dict[str, object]]


def _usd_ticks() -> CustomJSTickFormatter:
    return usd_ticks()


def _price_ticks() -> NumeralTickFormatter:
    return NumeralTickFormatter(format=PRICE_TICKS)


# ---------------------------------------------------------------------------- clusters table


def clusters_data(clusters: pd.DataFrame) -> dict[str, object]:
    """Columns of the source ``clusters`` (formatted text)."""
    return {
        "side": clusters["side"].tolist(),
        "range": [f"{price_text(lo)} - {price_text(hi)}" for lo, hi in zip(clusters["low"], clusters["high"])],
        "notional": [usd(v) for v in clusters["notional_usd"]],
        "distance": [f"{d:+.2f}%" for d in clusters["distance_pct"]],
        "share": [f"{s:.0%}" for s in clusters["share"]],
    }


def clusters_table(clusters: pd.DataFrame, *, width: int = 900) -> DataTable:
    """The clusters as an interactive table (source ``clusters``)."""
    src = ColumnDataSource(clusters_data(clusters), name="clusters")
    cols = [
        TableColumn(field="side", title="side"),
        TableColumn(field="range", title="price range"),
        TableColumn(field="notional", title="notional (est.)"),
        TableColumn(field="distance", title="distance from price"),
        TableColumn(field="share", title="share of side"),
    ]
    return DataTable(source=src, columns=cols, width=width, height=28 * (max(len(clusters), 3) + 1) + 10, index_position=None)


# ---------------------------------------------------------------------------- cascade


def cascade_data(result: CascadeResult) -> dict[str, object]:
    """Columns of a cascade source (``cascade_up`` / ``cascade_down``)."""
    return {c: result.steps[c].to_numpy() for c in ("step", "price", "liquidated_usd", "cumulative_usd")}


def cascade_levels_data(result: CascadeResult) -> dict[str, object]:
    """Columns of ``cascade_*_levels``: the start and final prices as horizontal lines."""
    return {"y": [result.start_price, result.final_price], "color": [PRICE_COLOR, SHORT_COLOR if result.direction == "up" else LONG_COLOR]}


def cascade_flag_data(result: CascadeResult) -> dict[str, object]:
    """Columns of ``cascade_*_flag``: one warning label drawn on the panel when the result is runaway
    (:attr:`CascadeResult.runaway`), none otherwise."""
    reason = result.runaway_reason
    if reason is None:
        return {"x": [], "y": [], "text": []}
    return {"x": [8], "y": [8], "text": [f"RUNAWAY: {reason}. Not a price: outside any measured range."]}


def _cascade_panel(result: CascadeResult, name: str, color: str, title: str, width: int, height: int) -> figure:
    fig = figure(width=width, height=height, title=title, x_axis_label="step (0 = the shock itself)", y_axis_label="price (USD)", tools="pan,wheel_zoom,reset,save")
    src = ColumnDataSource(cascade_data(result), name=name)
    fig.extra_y_ranges = {"usd": DataRange1d(start=0)}
    fig.add_layout(LinearAxis(y_range_name="usd", axis_label="liquidated in the step (USD)", formatter=_usd_ticks()), "right")
    bars = fig.vbar(x="step", width=0.6, top="liquidated_usd", source=src, y_range_name="usd", color=color, alpha=0.3)
    fig.extra_y_ranges["usd"].renderers = [bars]
    line = fig.step("step", "price", source=src, mode="after", color=color, line_width=2)
    dots = fig.scatter("step", "price", source=src, color=color, size=7)
    fig.hspan(y="y", source=ColumnDataSource(cascade_levels_data(result), name=f"{name}_levels"), line_color="color", line_dash="dashed")
    fig.y_range = DataRange1d(renderers=[line, dots], range_padding=0.2, min_interval=0.01 * result.start_price)
    fig.xaxis.ticker = AdaptiveTicker(min_interval=1)
    fig.add_tools(
        HoverTool(
            renderers=[dots],
            tooltips=[("step", "@step"), ("price", f"@price{{{PRICE_TICKS}}}"), ("liquidated", "@liquidated_usd{custom}"), ("cumulative", "@cumulative_usd{custom}")],
            formatters={"@liquidated_usd": usd_hover(), "@cumulative_usd": usd_hover()},  # $144.8M, as in the readout
        )
    )
    fig.yaxis[0].formatter = _price_ticks()
    flag = ColumnDataSource(cascade_flag_data(result), name=f"{name}_flag")
    fig.add_layout(
        LabelSet(
            x="x", y="y", text="text", source=flag, x_units="screen", y_units="screen", text_color="#b00000",
            text_font_style="bold", text_font_size="12px", background_fill_color="white", background_fill_alpha=0.85,
        )
    )
    return fig


def cascade_figure(up: CascadeResult, down: CascadeResult, *, width: int = 900, height: int = 320) -> Row:
    """The domino chains after a down and an up shock, side by side: price per step (line, left axis) and
    USD liquidated per step (bars, right axis); dashed lines at the start and final prices.

    Sources: ``cascade_down``, ``cascade_up`` (columns ``step, price, liquidated_usd, cumulative_usd``),
    ``cascade_down_levels``, ``cascade_up_levels`` and ``cascade_down_flag``, ``cascade_up_flag`` (a red
    "RUNAWAY" label on the panel when the result is far outside any measured range).
    """
    half = width // 2
    return row(
        _cascade_panel(down, "cascade_down", LONG_COLOR, "Long flush after a down shock (estimate)", half, height),
        _cascade_panel(up, "cascade_up", SHORT_COLOR, "Short squeeze after an up shock (estimate)", half, height),
    )


# ---------------------------------------------------------------------------- realized vs model


def liquidations_data(predicted: pd.DataFrame, realized: pd.DataFrame | None) -> Data:
    """Columns of ``predicted`` and ``realized``: liquidations per period (realized periods when given)."""
    if realized is not None and len(realized):
        # the model's per-candle predictions summed over each realized period [t_k, t_k + period)
        edges = pd.DatetimeIndex(realized.index)
        period = pd.Series(edges).diff().median() if len(edges) > 1 else pd.Timedelta("1D")
        pos = edges.searchsorted(predicted.index, side="right") - 1
        ok = (pos >= 0) & (predicted.index < edges[-1] + period)
        agg = predicted[ok].groupby(pos[ok]).sum().reindex(range(len(edges)), fill_value=0.0)
        pred_times, pred_long, pred_short = to_ms(edges), agg["long_usd"].to_numpy(), agg["short_usd"].to_numpy()
        real = {"time": to_ms(edges), "long_usd": realized["long_usd"].to_numpy(), "short_usd": realized["short_usd"].to_numpy()}
    else:
        pred_times = to_ms(predicted.index)
        pred_long, pred_short = predicted["long_usd"].to_numpy(), predicted["short_usd"].to_numpy()
        real = {"time": np.empty(0), "long_usd": np.empty(0), "short_usd": np.empty(0)}
    return {
        "predicted": {"time": pred_times, "long_usd": pred_long, "short_usd": pred_short, "neg_long_usd": -pred_long},
        "realized": {**real, "neg_long_usd": -np.asarray(real["long_usd"])},
    }


def liquidations_ranges(data: Data) -> dict[str, tuple[float, float]]:
    """The y ranges of :func:`liquidations_figure`: ``model`` (left axis) and ``realized`` (right axis), each
    symmetric about zero so both zero lines meet, 10% beyond the largest value.

    Examples
    --------
    >>> d = {"predicted": {"short_usd": [3.0], "long_usd": [1.0]}, "realized": {"short_usd": [], "long_usd": []}}
    >>> liquidations_ranges(d)
    {'model': (-3.3, 3.3), 'realized': (-1.0, 1.0)}
    """

    def span(cols: dict[str, object]) -> tuple[float, float]:
        values = np.concatenate([np.abs(np.asarray(cols[c], dtype=float)) for c in ("short_usd", "long_usd")])
        top = float(np.nanmax(values, initial=0.0))
        top = round(1.1 * top, 10) if top > 0 else 1.0
        return (-top, top)

    return {"model": span(data["predicted"]), "realized": span(data["realized"])}


def liquidations_figure(predicted: pd.DataFrame, realized: pd.DataFrame | None, *, x_range: object | None = None, width: int = 900, height: int = 200) -> figure:
    """Liquidations over time: realized (bars, right axis, where the data has them) against the model's
    prediction (lines, left axis: the two differ by orders of magnitude where one venue's liquidations meet a
    model of all positions), shorts up and longs down. With realized data the plot spans the realized
    periods only (``x_range`` is used otherwise). Sources ``realized`` and ``predicted``; ranges
    ``liq_model_range`` and ``liq_realized_range`` (:func:`liquidations_ranges`)."""
    data = liquidations_data(predicted, realized)
    times = np.asarray(data["realized"]["time"], dtype=float)
    period = float(np.median(np.diff(times))) if len(times) > 1 else 86_400_000.0
    if len(times):
        x_range = Range1d(start=times[0] - period, end=times[-1] + 2 * period)
    ranges = liquidations_ranges(data)
    fig = figure(
        x_axis_type="datetime",
        width=width,
        height=height,
        title="Liquidations: realized (bars, right axis) vs the model's estimate (lines, left axis); shorts up, longs down",
        x_axis_label="time (UTC)",
        y_axis_label="model estimate (USD)",
        tools="xpan,xwheel_zoom,reset",
        y_range=Range1d(*ranges["model"], reset_start=ranges["model"][0], reset_end=ranges["model"][1], name="liq_model_range"),
        **({"x_range": x_range} if x_range is not None else {}),
    )
    real = ColumnDataSource(data["realized"], name="realized")
    pred = ColumnDataSource(data["predicted"], name="predicted")
    fig.extra_y_ranges = {"realized": Range1d(*ranges["realized"], reset_start=ranges["realized"][0], reset_end=ranges["realized"][1], name="liq_realized_range")}
    if len(times):
        fig.add_layout(LinearAxis(y_range_name="realized", axis_label="realized (USD)", formatter=_usd_ticks()), "right")
    bar = 0.8 * period  # bars as wide as a realized period
    fig.vbar(x="time", top="short_usd", width=bar, source=real, y_range_name="realized", color=SHORT_COLOR, alpha=0.4, legend_label="realized shorts")
    fig.vbar(x="time", top="neg_long_usd", width=bar, source=real, y_range_name="realized", color=LONG_COLOR, alpha=0.4, legend_label="realized longs")
    fig.line("time", "short_usd", source=pred, color=SHORT_COLOR, line_width=2, legend_label="model shorts")
    fig.line("time", "neg_long_usd", source=pred, color=LONG_COLOR, line_width=2, legend_label="model longs")
    fig.yaxis[0].formatter = _usd_ticks()
    legend = fig.legend[0]
    fig.add_layout(legend, "right")  # outside the data; a click hides a series
    legend.click_policy = "hide"
    legend.label_text_font_size = "8pt"
    return fig


# ---------------------------------------------------------------------------- momentum near clusters


def paths_data(study: EventStudy) -> dict[str, object]:
    """Columns of ``momentum_paths``: mean signed log return per candle offset, events and controls."""
    p = study.paths
    return {"offset": p.index.to_numpy(), **{c: p[c].to_numpy() for c in ("event_mean", "event_low", "event_high", "control_mean", "control_low", "control_high")}}


def effects_data(study: EventStudy, measure: str) -> dict[str, object]:
    """Columns of ``momentum_velocity`` / ``momentum_volume``: effect and interval per horizon."""
    e = study.effects[study.effects["measure"] == measure]
    return {"horizon": e["horizon"].to_numpy(), "effect": e["effect"].to_numpy(), "ci_low": e["ci_low"].to_numpy(), "ci_high": e["ci_high"].to_numpy(), "pvalue": e["pvalue"].to_numpy()}


def table_data(study: EventStudy, horizon: int) -> dict[str, object]:
    """Columns of ``momentum_effects``: the effects table at one horizon, formatted."""
    e = study.effects[study.effects["horizon"] == horizon]
    return {
        "measure": e["measure"].tolist(),
        "effect": [f"{x:+.4f}" for x in e["effect"]],
        "ci": [f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(e["ci_low"], e["ci_high"])],
        "pvalue": [f"{p:.3f}" for p in e["pvalue"]],
        "n": [f"{a} / {b}" for a, b in zip(e["n_events"], e["n_controls"])],
    }


def momentum_figure(study: EventStudy, horizon: int) -> LayoutDOM:
    """Event study picture: mean paths with confidence bands (events vs controls), speed and volume effects
    per horizon, and the effects table at ``horizon``. Sources: ``momentum_paths``, ``momentum_velocity``,
    ``momentum_volume``, ``momentum_effects``, ``momentum_horizon``."""
    paths = ColumnDataSource(paths_data(study), name="momentum_paths")
    fig = figure(width=620, height=340, title="After entering the band: mean signed log return (events vs thin-map controls)", x_axis_label="candles from the entry", y_axis_label="log return (> 0: the move continued)", tools="pan,wheel_zoom,reset,save")
    fig.varea(x="offset", y1="event_low", y2="event_high", source=paths, fill_color=SHORT_COLOR, fill_alpha=0.2)
    fig.varea(x="offset", y1="control_low", y2="control_high", source=paths, fill_color=PRICE_COLOR, fill_alpha=0.12)
    r1 = fig.line("offset", "event_mean", source=paths, color=SHORT_COLOR, line_width=2, legend_label="entries into the band(s)")
    fig.line("offset", "control_mean", source=paths, color=PRICE_COLOR, line_width=2, line_dash="dashed", legend_label="controls")
    fig.vspan(x="x", source=ColumnDataSource({"x": [int(horizon)]}, name="momentum_horizon"), line_color=LONG_COLOR, line_dash="dotted")
    fig.add_layout(Span(location=0, dimension="height", line_color="#999"))
    fig.add_tools(HoverTool(renderers=[r1], tooltips=[("offset", "@offset"), ("events", "@event_mean{0.0000}"), ("controls", "@control_mean{0.0000}")]))
    fig.yaxis.formatter = NumeralTickFormatter(format="0.0%")
    fig.legend.location = "top_left"
    panels = []
    for measure, name, title, axis in (
        ("velocity", "momentum_velocity", "Speed effect (events - controls)", "|log return| per candle"),
        ("volume_ratio", "momentum_volume", "Volume effect (events - controls)", "volume / trailing median"),
    ):
        src = ColumnDataSource(effects_data(study, measure), name=name)
        p = figure(width=360, height=170, title=title, x_axis_label="horizon (candles)", y_axis_label=axis, tools="reset,save")
        p.segment(x0="horizon", x1="horizon", y0="ci_low", y1="ci_high", source=src, color=SHORT_COLOR, line_width=2)
        dots = p.scatter("horizon", "effect", source=src, size=8, color=SHORT_COLOR)
        p.add_layout(Span(location=0, dimension="width", line_color="#999"))
        p.yaxis.formatter = NumeralTickFormatter(format="0.00%" if measure == "velocity" else "0.0[0]")  # no e-notation
        p.add_tools(HoverTool(renderers=[dots], tooltips=[("horizon", "@horizon"), ("effect", "@effect{0.0000}"), ("95% CI", "@ci_low{0.0000} to @ci_high{0.0000}"), ("p", "@pvalue{0.000}")]))
        panels.append(p)
    table = DataTable(
        source=ColumnDataSource(table_data(study, int(horizon)), name="momentum_effects"),
        columns=[TableColumn(field=f, title=t) for f, t in (("measure", "measure"), ("effect", "effect"), ("ci", "95% CI"), ("pvalue", "p-value"), ("n", "events / controls"))],
        width=620,
        height=120,
        index_position=None,
    )
    return column(row(fig, column(*panels)), table)
