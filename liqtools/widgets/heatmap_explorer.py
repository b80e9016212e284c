"""HeatmapExplorer: the heatmap over time with candles, the map at a chosen time beside it."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as W
import pandas as pd
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource

from liqtools.analysis.heatmap import Heatmap, nice_bin_size
from liqtools.analysis.levels import find_clusters, liquidation_map_arrays
from liqtools.analysis.moment import describe_clusters
from liqtools.plotting.figures import (
    heatmap_cells,
    heatmap_color_high,
    heatmap_data,
    heatmap_figure,
    heatmap_rgba,
    liquidations_data,
    liquidations_figure,
    liquidations_ranges,
    map_data,
    map_side_figure,
    to_ms,
)
from liqtools.plotting.heatmap_time import SATURATION_CHOICES
from liqtools.plotting.maps import side_ranges
from liqtools.plotting.theme import price_text, profile_text, usd
from liqtools.schema import validate_market
from liqtools.widgets._base import Explorer
from liqtools.widgets._cache import cached_heatmap
from liqtools.widgets.controls import STYLE, LeverageControls, SplitControls, TimeBox, price_options, time_slider

__all__ = ["HeatmapExplorer"]

MAX_COLUMNS = 1000  # snapshots drawn at most (about the plot's width in pixels): every = ceil(candles / MAX_COLUMNS)


class HeatmapExplorer(Explorer):
    """The time heatmap of estimated liquidation levels (Coinglass-style) with a time slider.

    Controls: ``time`` (candle position; the map beside the heatmap shows the levels after it), the
    leverage profile (``w5x`` ... ``w100x``, ``dominant``, ``dominance``), ``split``, ``split_share``,
    ``bin_size``, and for the picture only ``color_scale`` (``linear`` / ``log``) and ``saturation`` (the
    percentile of the non-empty cells where the colours top out). Sources: ``heatmap_image``, ``heatmap_cells``, ``candles``, ``heatmap_time``, ``side_bars``,
    ``side_cumulative``, ``side_price``, and ``predicted`` / ``realized`` liquidations per period
    (realized where ``realized`` is given, e.g. :func:`liqtools.load_sample_liquidations`).

    Examples
    --------
    >>> from liqtools import load_sample
    >>> ex = HeatmapExplorer(load_sample())
    >>> ex.update(time=100)
    >>> ex.sources["side_price"].data["x"] == [float(load_sample()["close"].iloc[100])]
    True
    """

    def __init__(self, df: pd.DataFrame, *, realized: pd.DataFrame | None = None, time_control: W.IntSlider | None = None) -> None:
        super().__init__()
        self.df = validate_market(df, require=("oi_usd",))
        self.realized = realized
        self.every = max(1, math.ceil(len(self.df) / MAX_COLUMNS))
        self.leverage = LeverageControls()
        self.split = SplitControls(("both", "candle", "taker", "share") if "taker_buy_volume" in self.df else ("both", "candle", "share"))
        p = float(self.df["close"].median())
        base = nice_bin_size(p)
        options = sorted({nice_bin_size(p, f) for f in (0.001, 0.0025, 0.005, 0.01)} | {base})
        self.controls.update(
            time=time_control or time_slider(self.df),
            bin_size=W.Dropdown(options=price_options(options), value=base, description="bin size", style=STYLE),
            color_scale=W.ToggleButtons(options=["linear", "log"], value="linear", description="", tooltips=["linear colour scale", "log colour scale"], style={"button_width": "52px"}, layout=W.Layout(width="130px", flex="0 0 auto")),
            saturation=W.SelectionSlider(
                options=[(f"{q:g}th pct" if q < 100 else "hottest cell", q) for q in SATURATION_CHOICES], value=99.5, description="colour top", style={"description_width": "70px"}, layout=W.Layout(width="300px"), continuous_update=False
            ),
            **self.leverage.controls,
            **self.split.controls,
        )
        self.timebox = TimeBox(self.df, self.controls["time"])
        self.time_label = self.timebox.label
        self.hm = self._heatmap()
        self._key = self._model_key()
        self._version = 0  # of the picture; the tooltip's cells follow it (heatmap_data)
        heat = heatmap_figure(self.hm, self.df, width=700, height=320)  # with the controls, fits a 1280x720 window
        self.mapper: Any = heat.select_one({"name": "heatmap_mapper"})
        self.log_mapper: Any = heat.select_one({"name": "heatmap_log_mapper"})
        self._scale_models: dict[str, Any] = {name: heat.select_one({"name": name}) for name in ("heatmap_colorbar", "heatmap_log_colorbar")}
        t = int(self.controls["time"].value)
        heat.vspan(x="x", source=ColumnDataSource({"x": [to_ms(self.df.index[[t]])[0]]}, name="heatmap_time"), line_color="white", line_width=2, line_dash="dotted")
        map_df, price = self._map_at(t)
        side = map_side_figure(map_df, price, y_range=heat.y_range, width=300, height=heat.height)
        self._side_ranges: dict[str, Any] = {"bars": side.x_range, "cum": side.extra_x_ranges["cum"]}
        liq = liquidations_figure(self.hm.liquidated, realized, x_range=heat.x_range, width=1000)
        self._liq_ranges: dict[str, Any] = {"model": liq.y_range, "realized": liq.extra_y_ranges["realized"]}
        heat.sizing_mode = liq.sizing_mode = "stretch_width"  # as wide as the page, the side map keeps its width
        figure = column(row(heat, side, sizing_mode="stretch_width"), liq, sizing_mode="stretch_width")
        # two short rows beside the folded leverage sliders: the main plot stays above the fold at 1280x720
        fixed = W.Layout(flex="0 0 auto")
        look = W.VBox([self.controls["bin_size"], W.HBox([self.controls["saturation"], self.controls["color_scale"]])], layout=fixed)
        # in a narrow window the folded leverage sliders wrap below the other controls instead of covering them
        leverage = self.leverage.box()
        leverage.layout.flex, leverage.layout.min_width = "1 1 320px", "320px"
        left = W.VBox([self.timebox.box(), W.HBox([W.Box([self.split.box()], layout=fixed), look])], layout=W.Layout(flex="0 0 auto"))
        controls = W.HBox([left, leverage], layout=W.Layout(flex_flow="row wrap"))
        self._finish(figure, controls)
        self._time_moved()
        self._on_change(self.recompute, "bin_size", *self.leverage.controls, *self.split.controls)
        self._on_change(self._time_moved, "time")
        self._on_change(self._restyle, "color_scale", "saturation")

    def _heatmap(self) -> Heatmap:
        return cached_heatmap(
            self.df, leverage=self.leverage.profile(), split=self.split.value(), bin_size=float(self.controls["bin_size"].value), every=self.every
        )

    def _map_at(self, t: int) -> tuple[pd.DataFrame, float]:
        price = float(self.df["close"].iloc[t])
        rng = (float(self.hm.edges[0]), float(self.hm.edges[-1]))
        map_df = liquidation_map_arrays(*self.hm.level_arrays_at(t), price, bin_size=self.hm.bin_size, price_range=rng)
        return map_df, price

    def _model_key(self) -> tuple:
        p = self.leverage.profile()
        return (tuple(p.leverages), tuple(p.weights_array), tuple(p.mmrs), self.split.value(), float(self.controls["bin_size"].value))

    def recompute(self) -> None:
        """Rebuild the heatmap for the current leverage, split and bin size, then the map at the current time
        (nothing to do when a control moved without changing the model, e.g. the long share outside 'share')."""
        key = self._model_key()
        if key == self._key:
            return
        self._key = key
        self.hm = self._heatmap()
        log, high = self._scale()
        self._version += 1
        self.sources["heatmap_image"].data = heatmap_data(self.hm, self.df, log=log, high=high, version=self._version, cells=False)["heatmap_image"]
        self._restyle(scale=(log, high))
        hm, version = self.hm, self._version
        self._after_patch(lambda: self.sources["heatmap_cells"].data.update(heatmap_cells(hm, version)))
        liq = liquidations_data(self.hm.liquidated, self.realized)
        self._assign(liq)
        self._fit_ranges(self._liq_ranges, liquidations_ranges(liq))
        self._time_moved()

    def _scale(self) -> tuple[bool, float]:
        """Log scale or not, and where the colours top out (the saturation percentile of the non-empty cells)."""
        return self.controls["color_scale"].value == "log", heatmap_color_high(self.hm, float(self.controls["saturation"].value))

    def _restyle(self, scale: tuple[bool, float] | None = None) -> None:
        """Colour scale and saturation: the picture's colours (coloured here, so the page only draws them),
        which colour bar shows, and where the colours top out. ``scale``: the picture was just coloured so."""
        log, high = scale or self._scale()
        if scale is None:
            self.sources["heatmap_image"].data["image"] = [heatmap_rgba(self.hm.long.T + self.hm.short.T, high, log=log)]
        for mapper, low in ((self.mapper, 0.0), (self.log_mapper, high / 1000.0)):
            if (mapper.low, mapper.high) != (low, high):
                mapper.update(low=low, high=high)
        for name, model in self._scale_models.items():
            visible = ("log" in name) == log
            if model.visible != visible:
                model.visible = visible

    def _time_moved(self) -> None:
        t = int(self.controls["time"].value)
        map_df, price = self._map_at(t)
        data = map_data(map_df, price)
        self._assign({"side_bars": data["map_bars"], "side_cumulative": data["map_cumulative"], "side_price": data["map_price"],
                      "heatmap_time": {"x": [to_ms(self.df.index[[t]])[0]]}})
        self._fit_ranges(self._side_ranges, side_ranges(data))
        self.map = map_df
        when = f"{self.df.index[t]:%Y-%m-%d %H:%M} UTC"
        self.time_label.value = f"close {price_text(price)}"
        liq = self.hm.liquidated
        self._set_readout(
            [
                f"After {when} at {price_text(price)}; {profile_text(self.hm.profile)}, split {self.hm.split}, bins of {price_text(self.hm.bin_size)}.",
                *describe_clusters(find_clusters(map_df, price), price),
                f"Model's liquidations over the whole period: longs {usd(liq['long_usd'].sum())}, shorts {usd(liq['short_usd'].sum())}.",
            ]
        )


