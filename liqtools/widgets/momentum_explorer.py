"""MomentumExplorer: what happened when price entered a band: mean paths against controls, speed, volume."""

from __future__ import annotations

from typing import Any, cast

import ipywidgets as W
import numpy as np
import pandas as pd

from liqtools._format import price_text
from liqtools.analysis.heatmap import Heatmap
from liqtools.analysis.levels import find_clusters, liquidation_map
from liqtools.analysis.momentum import EventStudy, event_study
from liqtools.errors import DataError
from liqtools.plotting.figures import effects_data, momentum_figure, paths_data, table_data
from liqtools.schema import validate_market
from liqtools.widgets._base import Explorer
from liqtools.widgets._cache import cached_heatmap
from liqtools.widgets.controls import STYLE as _STYLE
from liqtools.widgets.controls import TOP_CLUSTERS, TimeBox, time_slider

__all__ = ["MomentumExplorer"]

HORIZONS = (1, 4, 12, 24)


class MomentumExplorer(Explorer):
    """Event study around liquidation clusters (docs/model.md section 7), with a band and a horizon to choose.

    The bands are the largest clusters (3 per side) of the default model after the candle chosen with
    ``time`` (default: the last). ``band`` picks one of them or all; ``horizon`` picks the row of the effects table and the line on
    the paths. Sources: ``momentum_paths`` (mean signed log return from the entry, events and controls with
    confidence bands), ``momentum_velocity`` and ``momentum_volume`` (effect and interval per horizon),
    ``momentum_effects`` (the table at the chosen horizon), ``momentum_horizon``.

    Hindsight warning: clusters found at one time and tested on earlier entries are not clusters that
    existed then; read the effects as descriptive.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> ex = MomentumExplorer(load_sample())
    >>> ex.update(horizon=12)
    >>> ex.sources["momentum_horizon"].data["x"]
    [12]
    """

    def __init__(self, df: pd.DataFrame, *, time_control: W.IntSlider | None = None) -> None:
        super().__init__()
        self.df = validate_market(df, require=("oi_usd",))
        self._hm: Heatmap = cached_heatmap(self.df, every=len(self.df), bin_size=float(self.df["close"].median()) * 0.05)
        self.controls.update(
            time=time_control or time_slider(self.df),
            band=W.Dropdown(options=[("all clusters", -1)], value=-1, description="band", style=_STYLE, layout=W.Layout(width="420px")),
            horizon=W.SelectionSlider(options=list(HORIZONS), value=HORIZONS[-1], description="horizon", style=_STYLE),
        )
        self._clusters_for_time()
        self.study = self._study()
        figure_ = momentum_figure(self.study, int(self.controls["horizon"].value))
        top = cast(Any, figure_).children[0]  # the paths plot stretches to the page width beside the two fixed effect panels
        for model in (figure_, top, top.children[0], cast(Any, figure_).children[1]):
            model.sizing_mode = "stretch_width"
        self.timebox = TimeBox(self.df, self.controls["time"])
        self._finish(figure_, W.VBox([self.timebox.box(), self.controls["band"], self.controls["horizon"]]))
        self._show()
        self._on_change(self._time_moved, "time")
        self._on_change(self._band_changed, "band")
        self._on_change(self._show, "horizon")

    # -- numbers ------------------------------------------------------------------------------------------
    def _clusters_for_time(self) -> None:
        t = int(self.controls["time"].value)
        price = float(self.df["close"].iloc[t])
        self.map = liquidation_map(self._hm.levels_at(t), price)
        self._last_clusters = getattr(self, "clusters", None)
        self.clusters = find_clusters(self.map, price, top=TOP_CLUSTERS)
        self.price, self.t = price, t
        options = [("all clusters", -1)] + [
            (f"{r.side} {price_text(r.low)}-{price_text(r.high)} ({r.distance_pct:+.1f}%)", i) for i, r in enumerate(self.clusters.itertuples())
        ]
        band = self.controls["band"]
        chosen = self._band_identity
        keep = -1
        if chosen is not None:  # the same cluster (side and range) if it is still there, else all clusters
            same = (self.clusters["side"] == chosen[0]) & (self.clusters["low"] == chosen[1]) & (self.clusters["high"] == chosen[2])
            keep = int(np.flatnonzero(same.to_numpy())[0]) if same.any() else -1
        band.options = options
        band.value = keep

    @property
    def _band_identity(self) -> tuple[str, float, float] | None:
        i = int(self.controls["band"].value) if "band" in self.controls else -1
        last = getattr(self, "_last_clusters", None)
        if i < 0 or last is None or i >= len(last):
            return None
        r = last.iloc[i]
        return (str(r["side"]), float(r["low"]), float(r["high"]))

    def bands(self) -> pd.DataFrame:
        """The bands studied: every cluster, or the chosen one."""
        i = int(self.controls["band"].value)
        return self.clusters if i < 0 else self.clusters.iloc[[i]]

    def _study(self) -> EventStudy:
        if self.clusters.empty:
            raise DataError("no clusters at this time: move the time slider")
        return event_study(self.df, self.bands(), horizons=HORIZONS, map_df=self.map)

    def _time_moved(self) -> None:
        self._held = []  # the band list changes with the time: one recompute for both
        try:
            self._clusters_for_time()
        finally:
            self._held = None
        self._band_changed()

    def _band_changed(self) -> None:
        self.study = self._study()
        self._show()

    # -- pictures -----------------------------------------------------------------------------------------
    def _show(self) -> None:
        h = int(self.controls["horizon"].value)
        s = self.study
        self._assign(
            {
                "momentum_paths": paths_data(s),
                "momentum_velocity": effects_data(s, "velocity"),
                "momentum_volume": effects_data(s, "volume_ratio"),
                "momentum_effects": table_data(s, h),
                "momentum_horizon": {"x": [h]},
            }
        )
        self.timebox.label.value = f"close {price_text(self.price)}"  # as on the other tabs
        r = s.effect("return", h)
        verdict = "significant at 5%" if r["pvalue"] < 0.05 else "not significant at 5%"
        self._set_readout(
            [
                f"Bands: clusters after {self.df.index[self.t]:%Y-%m-%d %H:%M} UTC at {price_text(self.price)}; {len(s.events)} entries, {len(s.controls)} control entries.",
                f"Return after {h} candles, events minus controls: {r['effect']:+.4f} (95% CI {r['ci_low']:+.4f} to {r['ci_high']:+.4f}, p = {r['pvalue']:.3f}, {verdict}).",
                "Hindsight: these bands are clusters found at the chosen time; earlier entries were not into clusters that existed then.",
            ]
        )


