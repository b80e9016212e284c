"""The measured map under the modelled one: real positions' liquidation prices on the same price axis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter, Range1d, Span
from bokeh.plotting import figure

from liqtools.analysis.levels import liquidation_map
from liqtools.errors import LiqtoolsError
from liqtools.plotting.theme import LONG_COLOR, PRICE_COLOR, PRICE_TICKS, SHORT_COLOR, usd_hover, usd_ticks

__all__ = ["MeasuredPanel"]


class MeasuredPanel:
    """Bars of measured liquidation notional per bin, hanging down from the top (a mirror of the map above),
    and the comparison of the two maps as sentences (:func:`liqtools.compare_maps`).

    ``positions`` is the frame :func:`liqtools.data.fetch_positions` returns (or one built by hand);
    ``open_interest_usd`` (the venue's, when the positions were read) gives the comparison its coverage.
    """

    def __init__(self, positions: pd.DataFrame, x_range: Any, *, open_interest_usd: float | None = None) -> None:
        from liqtools.analysis.positions import measured_levels

        self.levels = measured_levels(positions)
        self.accounts = int(positions["user"].nunique()) if "user" in positions else 0
        self.time = pd.Timestamp(positions["time"].max()) if "time" in positions and len(positions) else None
        self.open_interest_usd = open_interest_usd
        self.comparison: Any = None
        self.source = ColumnDataSource({"price": [], "width": [], "long_usd": [], "short_usd": []}, name="measured_bars")
        self.y_range = Range1d(start=1.0, end=0.0, name="measured_y_range")  # start above end: bars hang down
        fig = figure(
            height=200,
            title=f"Measured: liquidation prices of {self.accounts:,} accounts' positions (a sample, not the market)",
            x_range=x_range,
            y_range=self.y_range,
            x_axis_label="liquidation price (USD)",
            y_axis_label="measured per bin (USD)",
            tools="xpan,xwheel_zoom,reset,save",
            name="measured_figure",
        )
        r_long = fig.vbar(x="price", width="width", top="long_usd", source=self.source, color=LONG_COLOR, alpha=0.8)
        r_short = fig.vbar(x="price", width="width", top="short_usd", source=self.source, color=SHORT_COLOR, alpha=0.8)
        fig.add_tools(
            HoverTool(
                renderers=[r_long, r_short],
                tooltips=[("bin", "@price{$0,0.[00]}"), ("measured longs", "@long_usd{custom}"), ("measured shorts", "@short_usd{custom}")],
                formatters={"@long_usd": usd_hover(), "@short_usd": usd_hover()},
            )
        )
        fig.yaxis.formatter = usd_ticks()
        fig.xaxis.formatter = NumeralTickFormatter(format=PRICE_TICKS)
        self.price_line = Span(location=0.0, dimension="height", line_color=PRICE_COLOR, line_dash="dotted", line_width=2, name="measured_price")
        fig.add_layout(self.price_line)
        fig.sizing_mode = "stretch_width"
        self.figure = fig

    def update(self, modelled: pd.DataFrame, price: float, bin_size: float, price_range: tuple[float, float], frame: tuple[float, float]) -> list[str]:
        """Redraw the measured bars on the modelled map's bins; return the comparison's sentences."""
        from liqtools.analysis.map_compare import compare_maps

        m = liquidation_map(self.levels, price, bin_size=bin_size, price_range=price_range)
        low, high = m["low"].to_numpy(), m["high"].to_numpy()
        data = {"price": m.index.to_numpy(), "width": 0.9 * (high - low), "long_usd": m["long_usd"].to_numpy(), "short_usd": m["short_usd"].to_numpy()}
        self.source.data = data
        self.price_line.location = price
        inside = (high > frame[0]) & (low < frame[1])
        top = float(np.nanmax(np.r_[data["long_usd"][inside], data["short_usd"][inside], 0.0]))
        self.y_range.update(start=1.08 * top if top > 0 else 1.0, end=0.0)
        try:
            self.comparison = compare_maps(modelled, self.levels, price, open_interest_usd=self.open_interest_usd)
        except LiqtoolsError as exc:  # a comparison that cannot be made is said; the maps still show
            self.comparison = None
            return [f"No comparison with the measured map: {exc}"]
        return self.comparison.summary().splitlines()  # counts the positions without a price too
