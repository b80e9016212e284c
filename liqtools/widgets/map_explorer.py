"""MapExplorer: slide leverage, open interest and price; watch the liquidation map and its clusters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd
from bokeh.layouts import column

from liqtools.analysis.heatmap import Heatmap, nice_bin_size
from liqtools.analysis.levels import find_clusters, liquidation_map, synthetic_levels
from liqtools.analysis.moment import describe_clusters
from liqtools.analysis.profile import LeverageProfile, as_profile
from liqtools.plotting.maps import FRAME, map_data, map_figure, map_ranges
from liqtools.plotting.theme import price_text, profile_text
from liqtools.schema import validate_market
from liqtools.widgets._base import Explorer
from liqtools.widgets._cache import cached_heatmap
from liqtools.widgets.controls import STYLE as _STYLE
from liqtools.widgets.controls import (
    TOP_CLUSTERS,
    LeverageControls,
    SplitControls,
    TimeBox,
    csv_link,
    price_options,
    time_slider,
    usd_options,
)
from liqtools.widgets.map_positions import MeasuredPanel

__all__ = ["MapExplorer"]


class MapExplorer(Explorer):
    """The liquidation map at one moment, with sliders.

    Teaching mode (``df=None``): levels from :func:`synthetic_levels`, open interest spread around an
    entry price; move the current price toward the bands and read the cumulative curves. Data mode: levels
    from :func:`liquidation_heatmap` on ``df`` after the candle chosen with the time slider.

    Controls (``explorer.controls``): ``price``, ``entry_price``, ``open_interest``, ``spread`` (basis
    points; teaching only), ``time`` and ``price_move`` (basis points from the candle's close; data only),
    the leverage profile (``w5x`` ... ``w100x`` and ``dominance`` in percent, ``dominant``), ``split``,
    ``split_share`` (percent, enabled in ``"share"`` mode only), ``bin_size``. Data mode: ``timebox.date``
    shows the candle's time and accepts a typed one. The map opens on the price +-25% (``frame``, recentred on
    each new candle or when the price leaves its middle half) with both y axes fitted to what it shows;
    ``download_button`` offers the map and clusters on screen as CSV files (``downloads``).
    Sources: ``map_bars``, ``map_cumulative``, ``map_clusters``,
    ``map_price``.

    ``positions`` (a frame as :func:`liqtools.data.fetch_positions` returns) adds the *measured* map under
    the modelled one, mirrored on the same price axis (``measured``: a :class:`MeasuredPanel`, source
    ``measured_bars``), and the comparison of the two (:func:`liqtools.compare_maps`) to the readout; in data
    mode the time slider starts at the candle the positions were read in.

    Examples
    --------
    >>> ex = MapExplorer(price=100_000, open_interest_usd=2e9)
    >>> ex.update(price=103_000)
    >>> float(ex.sources["map_price"].data["x"][0])
    103000.0
    """

    def __init__(
        self,
        df: pd.DataFrame | None = None,
        *,
        price: float | None = None,
        open_interest_usd: float | None = None,
        leverage: LeverageProfile | Mapping[float, float] | float | None = None,
        time_control: W.IntSlider | None = None,
        positions: pd.DataFrame | None = None,
    ) -> None:
        super().__init__()
        self.df = validate_market(df, require=("oi_usd",)) if df is not None else None
        df = self.df
        self.teaching = df is None
        self.leverage = LeverageControls(as_profile(leverage))
        self.split = SplitControls(("both", "share") if self.teaching else ("both", "candle", "share"))
        if self.teaching:
            p0 = float(price or 100_000.0)
            oi = float(open_interest_usd or 2e9)
        else:
            p0 = float(df["close"].iloc[-1])  # type: ignore[index]
            oi = float(df["oi_usd"].ffill().iloc[-1])  # type: ignore[index]
        # every slider value sits exactly on its grid (integers, or choices): the browser never snaps it
        step = nice_bin_size(p0, 0.0005)
        p0 = round(p0 / step) * step if self.teaching else p0
        lo, hi = np.floor(0.6 * p0 / step) * step, np.ceil(1.4 * p0 / step) * step
        self.controls.update(
            price=W.FloatSlider(value=p0, min=lo, max=hi, step=step, description="price", style=_STYLE, readout_format=",.0f", disabled=not self.teaching),
            price_move=W.IntSlider(value=0, min=-3000, max=3000, step=5, description="price move bp", style=_STYLE, disabled=self.teaching),
            entry_price=W.FloatSlider(value=p0, min=lo, max=hi, step=step, description="entries around", continuous_update=False, style=_STYLE, readout_format=",.0f", disabled=not self.teaching),
            open_interest=W.SelectionSlider(options=usd_options(oi), value=float(oi), description="open interest", continuous_update=False, style=_STYLE, disabled=not self.teaching),
            spread=W.IntSlider(value=200, min=0, max=1000, step=25, description="entry spread bp", continuous_update=False, style=_STYLE, disabled=not self.teaching),
            bin_size=W.Dropdown(options=price_options(self._bin_options(p0)), value=nice_bin_size(p0), description="bin size", style=_STYLE),
            **self.leverage.controls,
            **self.split.controls,
        )
        self.time_label = W.Label()
        if not self.teaching:
            self.controls["time"] = time_control or time_slider(df)  # type: ignore[arg-type]
            self.timebox = TimeBox(df, self.controls["time"])  # type: ignore[arg-type]
            self.time_label = self.timebox.label
        self._levels_cache: tuple[tuple, pd.DataFrame] | None = None
        self.downloads = W.HTML()
        self.download_button = W.Button(description="CSV files of this map", icon="download", layout=W.Layout(width="190px"))
        self.download_button.on_click(lambda _b: self._update_downloads(self.current_price()))

        self._levels_changed_names = ["entry_price", "open_interest", "spread", *self.leverage.controls, *self.split.controls]
        levels, price_now = self.current_levels(), self.current_price()
        map_df, clusters = self._map(levels, price_now)
        self.frame = self._frame_on(price_now)
        fig = map_figure(map_df, price_now, clusters=clusters, title="Estimated liquidation map (drag the sliders)", frame=self.frame, height=350)
        fig.sizing_mode = "stretch_width"  # as wide as the page (the height stays)
        self._ranges: dict[str, Any] = {"x": fig.x_range, "bars": fig.y_range, "cum": fig.extra_y_ranges["cum"]}
        self.map_figure = fig  # ``figure`` is the whole layout (the map, and the measured panel when given)
        self.measured: MeasuredPanel | None = None
        layout: Any = fig
        start: int | None = None  # the candle the positions were read in (or the last one before it)
        if positions is not None:
            self.measured = MeasuredPanel(positions, fig.x_range)
            when = self.measured.time
            if not self.teaching and when is not None and self.df.index[0] <= when:  # type: ignore[union-attr]
                start = int(self.df.index.searchsorted(when, side="right") - 1)  # type: ignore[union-attr]
                self.measured.open_interest_usd = float(df["oi_usd"].ffill().iloc[start])  # type: ignore[index]
            layout = column(fig, self.measured.figure, sizing_mode="stretch_width")
        self._finish(layout, self._controls_layout())
        self._show(map_df, clusters, price_now)
        self._on_change(self.refresh, "price", "price_move", "bin_size", *self._levels_changed_names)
        if not self.teaching:
            self._on_change(self._time_moved, "time")
            if start is not None:
                self.controls["time"].value = start

    # -- the numbers -------------------------------------------------------------------------------------
    @staticmethod
    def _bin_options(p: float) -> list[float]:
        base = nice_bin_size(p)
        return sorted({nice_bin_size(p, f) for f in (0.0005, 0.001, 0.0025, 0.005, 0.01)} | {base})

    def profile(self) -> LeverageProfile:
        """The leverage profile the sliders describe."""
        return self.leverage.profile()

    def _model_key(self) -> tuple:
        p = self.profile()
        return (tuple(p.leverages), tuple(p.weights_array), tuple(p.mmrs), self.split.value())

    def heatmap(self) -> Heatmap:
        """Data mode: the heatmap for the current leverage and split (computed once per process and frame)."""
        # only the levels are needed here: one coarse snapshot keeps the picture part of the model cheap
        coarse = nice_bin_size(float(self.df["close"].median()), 0.05)  # type: ignore[index]
        return cached_heatmap(self.df, leverage=self.profile(), split=self.split.value(), every=len(self.df), bin_size=coarse)  # type: ignore[arg-type]

    def current_price(self) -> float:
        """Teaching mode: the price slider. Data mode: the chosen candle's close moved by ``price_move`` basis points."""
        if self.teaching:
            return float(self.controls["price"].value)
        close = float(self.df["close"].iloc[int(self.controls["time"].value)])  # type: ignore[index]
        return close * (1.0 + self.controls["price_move"].value / 10_000.0)

    def current_levels(self) -> pd.DataFrame:
        """The levels the map is drawn from (cached: moving only the price does not rebuild them)."""
        if self.teaching:
            c = self.controls
            key: tuple = ("teach", c["entry_price"].value, c["open_interest"].value, c["spread"].value, self._model_key())
            if self._levels_cache is None or self._levels_cache[0] != key:
                lv = synthetic_levels(
                    c["entry_price"].value, c["open_interest"].value, leverage=self.profile(), split=self.split.value(), spread=c["spread"].value / 10_000.0
                )
                self._levels_cache = (key, lv)
            return self._levels_cache[1]
        t = int(self.controls["time"].value)
        hm = self.heatmap()
        key = ("data", t, self._model_key())
        if self._levels_cache is None or self._levels_cache[0] != key:
            self._levels_cache = (key, hm.levels_at(t))
        return self._levels_cache[1]

    def _map(self, levels: pd.DataFrame, price: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        bin_size = float(self.controls["bin_size"].value)
        lo = price * 0.6 if self.teaching else float(self.df["low"].min()) * 0.6  # type: ignore[index]
        hi = price * 1.4 if self.teaching else float(self.df["high"].max()) * 1.4  # type: ignore[index]
        rng = (np.floor(min(lo, price * 0.6) / bin_size) * bin_size, np.ceil(max(hi, price * 1.4) / bin_size) * bin_size)
        map_df = liquidation_map(levels, price, bin_size=bin_size, price_range=rng)
        return map_df, find_clusters(map_df, price, top=TOP_CLUSTERS)

    # -- handlers ------------------------------------------------------------------------------------------
    @staticmethod
    def _frame_on(price: float) -> tuple[float, float]:
        return (price * (1 - FRAME), price * (1 + FRAME))

    def _time_moved(self) -> None:
        t = int(self.controls["time"].value)
        self.frame = self._frame_on(float(self.df["close"].iloc[t]))  # type: ignore[index]
        self.time_label.value = f"close {price_text(float(self.df['close'].iloc[t]))}"  # type: ignore[index]
        self.refresh()

    def refresh(self) -> None:
        """Recompute levels (if needed), map and clusters for the current controls and assign the sources."""
        price = self.current_price()
        map_df, clusters = self._map(self.current_levels(), price)
        self._show(map_df, clusters, price)

    def _show(self, map_df: pd.DataFrame, clusters: pd.DataFrame, price: float) -> None:
        self.map, self.clusters = map_df, clusters
        self._assign(map_data(map_df, price, clusters))
        self._fit(map_df, price)
        if self.downloads.value:  # links are made on request (the button): drop ones for an older picture
            self.downloads.value = ""
        mode = "teaching mode (synthetic positions)" if self.teaching else f"after {self.df.index[int(self.controls['time'].value)]:%Y-%m-%d %H:%M} UTC"  # type: ignore[union-attr]
        lines = [f"Price {price_text(price)}, {mode}; {profile_text(self.profile())}.", *describe_clusters(clusters, price)]
        if self.measured is not None:
            rng = (float(map_df["low"].iloc[0]), float(map_df["high"].iloc[-1]))
            lines += self.measured.update(self.current_levels(), price, float(self.controls["bin_size"].value), rng, self.frame)
        self._set_readout(lines)
        if not self.teaching and not self.time_label.value:
            t = int(self.controls["time"].value)
            self.time_label.value = f"close {price_text(float(self.df['close'].iloc[t]))}"  # type: ignore[index]

    def _fit(self, map_df: pd.DataFrame, price: float) -> None:
        """Keep the price in the frame (recentred when it leaves the middle half) and fit both y axes to what
        the frame shows."""
        lo, hi = self.frame
        centre = (lo + hi) / 2
        if abs(price / centre - 1) > FRAME / 2:
            self.frame = self._frame_on(price)
        for name, (start, end) in map_ranges(map_df, price, self.frame).items():
            r = self._ranges[name]
            if (r.start, r.end) != (start, end):
                r.update(start=start, end=end)

    def _update_downloads(self, price: float) -> None:
        """Links that download exactly the map and clusters on screen (named after the time and price); made
        when the button is pressed, removed at the next change (so the hot path never builds CSV)."""
        when = "teaching" if self.teaching else f"{self.df.index[int(self.controls['time'].value)]:%Y%m%d-%H%M}"  # type: ignore[union-attr]
        stem = f"liqtools-{when}-at-{price:.6g}"
        self.downloads.value = csv_link(self.map, f"{stem}-map.csv", "download the map (CSV)") + csv_link(self.clusters, f"{stem}-clusters.csv", "the clusters (CSV)")

    def _controls_layout(self) -> W.Widget:
        c = self.controls
        fixed = W.Layout(flex="0 0 auto")
        if self.teaching:
            top = W.HBox([W.VBox([c["price"], c["entry_price"]], layout=fixed), W.VBox([c["open_interest"], c["spread"]], layout=fixed)])
        else:
            top = self.timebox.box()
        # short rows (the plot stays above the fold at 1280x720); the downloads sit under the leverage
        left = W.VBox([top, W.HBox([W.VBox([c["bin_size"]] if self.teaching else [c["price_move"], c["bin_size"]], layout=fixed), W.Box([self.split.box()], layout=fixed)])], layout=W.Layout(flex="0 0 auto"))
        # in a narrow window the folded leverage sliders wrap below the other controls instead of covering them
        right = W.VBox([self.leverage.box(), W.HBox([self.download_button, self.downloads])], layout=W.Layout(flex="1 1 320px", min_width="320px"))
        return W.HBox([left, right], layout=W.Layout(flex_flow="row wrap"))
