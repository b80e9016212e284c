"""Dashboard: the explorers as tabs over one market frame and one current time."""

from __future__ import annotations

import ipywidgets as W
import pandas as pd

from liqtools.schema import validate_market
from liqtools.widgets._base import ensure_bokeh_loaded
from liqtools.widgets.cascade_explorer import CascadeExplorer
from liqtools.widgets.heatmap_explorer import HeatmapExplorer
from liqtools.widgets.controls import time_slider
from liqtools.widgets.map_explorer import MapExplorer
from liqtools.widgets.momentum_explorer import MomentumExplorer

__all__ = ["Dashboard"]


class Dashboard:
    """Map, heatmap, cascade and momentum explorers as tabs, sharing the data and one ``time`` slider.

    ``df=None`` uses the bundled sample (and its realized liquidations). Attributes: ``map``,
    ``heatmap``, ``cascade``, ``momentum`` (the explorers), ``time`` (the shared slider), ``tabs``.

    Examples
    --------
    >>> dash = Dashboard()
    >>> dash.time.value = 500
    >>> dash.map.current_price() == dash.cascade.levels_and_price()[1]
    True
    """

    def __init__(self, df: pd.DataFrame | None = None, *, realized: pd.DataFrame | None = None) -> None:
        if df is None:
            from liqtools.data.sample import load_sample, load_sample_liquidations

            df = load_sample()
            realized = load_sample_liquidations() if realized is None else realized
        self.df = validate_market(df, require=("oi_usd",))
        self.time = time_slider(self.df)
        self.map = MapExplorer(self.df, time_control=self.time)
        self.heatmap = HeatmapExplorer(self.df, realized=realized, time_control=self.time)
        self.cascade = CascadeExplorer(df=self.df, time_control=self.time)
        self.momentum = MomentumExplorer(self.df, time_control=self.time)
        self.explorers = {"Map": self.map, "Heatmap": self.heatmap, "Cascade": self.cascade, "Momentum": self.momentum}
        self._tabs: W.Tab | None = None

    @property
    def tabs(self) -> W.Tab:
        """The ipywidgets Tab (built on first access)."""
        if self._tabs is None:
            self._tabs = W.Tab(children=[ex.widget for ex in self.explorers.values()], titles=list(self.explorers))
        return self._tabs

    def _ipython_display_(self) -> None:
        from IPython.display import display

        ensure_bokeh_loaded()
        display(self.tabs)
