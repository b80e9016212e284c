"""Modelled against measured, mirrored on one price axis (:func:`comparison_figure`).

Each bin's bar is its share of its side's notional within reach: the modelled share upward, the measured
share downward (the two totals differ by orders of magnitude: a sample of accounts against a model of the
whole open interest, so shares are what can be compared). The model's top bins are outlined; hovering a
bin shows both amounts in USD.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter, Span
from bokeh.plotting import figure

from liqtools.analysis.map_compare import SIDES, MapComparison
from liqtools.plotting.theme import LONG_COLOR, PRICE_COLOR, PRICE_TICKS, SHORT_COLOR, usd_hover

__all__ = ["comparison_data", "comparison_figure"]


def comparison_data(c: MapComparison) -> dict[str, np.ndarray]:
    """The bars' columns: ``x, width, modelled_share, measured_share`` (measured negative: it hangs down),
    ``modelled_usd, measured_usd, top, color, line``."""
    b = c.bins
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "width", "modelled_share", "measured_share", "modelled_usd", "measured_usd", "top", "color", "line")}
    for side in SIDES:
        part = b[b["side"] == side]
        mod, mea = part["modelled_usd"].to_numpy(), part["measured_usd"].to_numpy()
        color = LONG_COLOR if side == "long" else SHORT_COLOR
        out["x"].append(0.5 * (part["low"] + part["high"]).to_numpy())
        out["width"].append(0.9 * (part["high"] - part["low"]).to_numpy())
        out["modelled_share"].append(mod / mod.sum() if mod.sum() > 0 else np.zeros_like(mod))
        out["measured_share"].append(-mea / mea.sum() if mea.sum() > 0 else np.zeros_like(mea))
        out["modelled_usd"].append(mod)
        out["measured_usd"].append(mea)
        out["top"].append(part["top"].to_numpy())
        out["color"].append(np.full(len(part), color, dtype=object))
        out["line"].append(np.where(part["top"].to_numpy(), PRICE_COLOR, color).astype(object))
    return {k: np.concatenate(v) for k, v in out.items()}


def _pct(x: float) -> str:
    return f"{x:.0%}" if np.isfinite(x) else "n/a"


def comparison_figure(c: MapComparison, *, height: int = 320, width: int = 900) -> Any:
    """The mirrored bars of a :class:`~liqtools.analysis.map_compare.MapComparison`, with the price marked."""
    src = ColumnDataSource(comparison_data(c), name="comparison_bars")
    t = c.table
    title = (
        f"Modelled (up) vs measured (down), share per {c.bin_pct:g}% bin; in the model's top bins: "
        f"longs {_pct(t.loc['long', 'share_top'])}, shorts {_pct(t.loc['short', 'share_top'])} of the measured"
    )
    fig = figure(height=height, width=width, title=title, x_axis_label="liquidation price (USD)",
                 y_axis_label="share of the side's notional", tools="xpan,xwheel_zoom,reset,save", name="comparison_figure")
    up = fig.vbar(x="x", width="width", top="modelled_share", source=src, fill_color="color", line_color="line", fill_alpha=0.75)
    down = fig.vbar(x="x", width="width", top="measured_share", source=src, fill_color="color", line_color="color", fill_alpha=0.35)
    fig.add_layout(Span(location=c.price, dimension="height", line_color=PRICE_COLOR, line_dash="dashed"))
    fig.add_layout(Span(location=0, dimension="width", line_color=PRICE_COLOR, line_width=1))
    fig.add_tools(HoverTool(
        renderers=[up, down],
        tooltips=[("bin centre", "@x{$0,0.[00]}"), ("modelled", "@modelled_usd{custom}"), ("measured", "@measured_usd{custom}"),
                  ("model's top bin", "@top")],
        formatters={"@modelled_usd": usd_hover(), "@measured_usd": usd_hover()},
    ))
    fig.xaxis.formatter = NumeralTickFormatter(format=PRICE_TICKS)
    fig.yaxis.formatter = NumeralTickFormatter(format="0%")
    return fig
