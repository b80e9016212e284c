"""Dashboard: the explorers as tabs over one market frame and one current time, each tab built when first opened."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import ipywidgets as W
import pandas as pd

from liqtools.schema import validate_market
from liqtools.widgets._base import Explorer, ensure_bokeh_loaded
from liqtools.widgets.controls import STYLE, time_slider

if TYPE_CHECKING:
    from liqtools.widgets.cascade_explorer import CascadeExplorer
    from liqtools.widgets.heatmap_explorer import HeatmapExplorer
    from liqtools.widgets.map_explorer import MapExplorer
    from liqtools.widgets.momentum_explorer import MomentumExplorer

__all__ = ["TABS", "Dashboard"]

TABS = ("Map", "Heatmap", "Cascade", "Momentum")
#: The bundled samples' coins (the cascade's default depth is the market's).
_DEPTH_COIN = {"btc": "BTC", "eth-2024": "ETH", "sol-2024": "SOL"}


def _placeholder(name: str) -> W.HTML:
    return W.HTML(f"<div style='padding:24px;color:#555'>building the {html.escape(name)} tab...</div>")


class Dashboard:
    """Map, heatmap, cascade and momentum explorers as tabs, sharing the data and one ``time`` slider.

    ``df=None`` uses a bundled sample (``market``, default ``"btc"``; a dropdown switches between
    :func:`liqtools.sample_names`) and its realized liquidations. Only the open tab is built: the others
    show a "building..." line and are built when first opened (or first used from Python: ``map``,
    ``heatmap``, ``cascade``, ``momentum`` build their explorer on access). ``built`` names the tabs built
    so far, ``build_seconds`` how long each took. ``time`` is the shared slider, ``tabs`` the ipywidgets
    Tab, ``widget`` the whole layout (market choice and look above the tabs). ``look`` (a toggle, default
    ``"dark"``, matching the heatmap) restyles every tab's plots and the controls in place; ``"light"`` is
    bokeh's and the notebook's own.

    Examples
    --------
    >>> dash = Dashboard()
    >>> dash.built
    ('Map',)
    >>> dash.time.value = 500
    >>> dash.map.current_price() == dash.cascade.levels_and_price()[1]
    True
    >>> dash.built
    ('Map', 'Cascade')
    >>> dash.map.figure.background_fill_color, dash.map.look
    ('#0d0d12', 'dark')
    >>> from bokeh.models import Plot
    >>> dash.look.value = "light"
    >>> {p.background_fill_color for p in dash.cascade.figure.select({"type": Plot})}
    {'#ffffff'}
    """

    def __init__(self, df: pd.DataFrame | None = None, *, realized: pd.DataFrame | None = None, market: str = "btc", look: str = "dark") -> None:
        from liqtools.plotting.look import LOOKS, page_css

        if look not in LOOKS:
            raise ValueError(f"look must be one of {sorted(LOOKS)}, got {look!r}")
        self.look = W.ToggleButtons(options=["dark", "light"], value=look, description="", tooltips=["dark look (the heatmap's)", "light look"], style={"button_width": "48px"}, layout=W.Layout(width="auto", flex="0 0 auto"))
        self.page_style = W.HTML(page_css(look))  # type: ignore[arg-type]
        self.look.observe(lambda _change: self._restyle(), names="value")
        self._pages = {name: W.VBox([_placeholder(name)]) for name in TABS}
        self.tabs = W.Tab(children=list(self._pages.values()), titles=list(TABS), selected_index=0)
        self.tabs.observe(self._tab_opened, names="selected_index")
        self.build_seconds: dict[str, float] = {}
        self._explorers: dict[str, Explorer] = {}
        self.market: W.Dropdown | None = None
        self._widget: W.Box | None = None
        if df is None:
            from liqtools.data.sample import sample_names

            names = sample_names()
            self.market = W.Dropdown(options=list(names), value=market, description="market", style=STYLE, layout=W.Layout(width="260px"))
            self.market_note = W.HTML()
            self.market.observe(lambda _change: self._load_sample(), names="value")
            self._load_sample()
        else:
            self.market_note = W.HTML()
            self._load(df, realized)

    # -- data ----------------------------------------------------------------------------------------------
    def _load_sample(self) -> None:
        from liqtools.data.sample import load_sample, load_sample_liquidations, sample_names

        assert self.market is not None
        name = str(self.market.value)
        self.market_note.value = f"<span style='color:#555'>{html.escape(sample_names()[name])}</span>"
        self._load(load_sample(name), load_sample_liquidations(name))

    def _load(self, df: pd.DataFrame, realized: pd.DataFrame | None) -> None:
        """Use a new market frame: a new shared time slider, every tab back to its placeholder, the open tab built."""
        self.df = validate_market(df, require=("oi_usd",))
        self.realized = realized
        self.time = time_slider(self.df)
        self._explorers = {}
        self.build_seconds = {}
        for name, page in self._pages.items():
            page.children = [_placeholder(name)]
        self._build(TABS[self.tabs.selected_index or 0])

    def _makers(self) -> dict[str, Callable[[], Explorer]]:
        def cascade() -> Explorer:
            from liqtools.widgets.cascade_explorer import CascadeExplorer

            coin = _DEPTH_COIN.get(str(self.market.value), "BTC") if self.market is not None else "BTC"
            return CascadeExplorer(df=self.df, market=coin, time_control=self.time)

        def heatmap() -> Explorer:
            from liqtools.widgets.heatmap_explorer import HeatmapExplorer

            return HeatmapExplorer(self.df, realized=self.realized, time_control=self.time)

        def momentum() -> Explorer:
            from liqtools.widgets.momentum_explorer import MomentumExplorer

            return MomentumExplorer(self.df, time_control=self.time)

        def map_() -> Explorer:
            from liqtools.widgets.map_explorer import MapExplorer

            return MapExplorer(self.df, time_control=self.time)

        return {"Map": map_, "Heatmap": heatmap, "Cascade": cascade, "Momentum": momentum}

    def _build(self, name: str) -> Explorer:
        if name not in self._explorers:
            t0 = time.perf_counter()
            explorer = self._makers()[name]()
            self._explorers[name] = explorer
            explorer.set_look(str(self.look.value))
            # built in its initial state, wrapped in a BokehModel last (STACK.md rule 3), then shown
            self._pages[name].children = [explorer.widget]
            self.build_seconds[name] = time.perf_counter() - t0
        if name == TABS[self.tabs.selected_index or 0]:
            self._show_only(name)
        else:
            self._explorers[name].flush()  # read from Python: up to date, still waiting while hidden
            self._explorers[name].pause()
        return self._explorers[name]

    def _restyle(self) -> None:
        from liqtools.plotting.look import page_css

        look = str(self.look.value)
        self.page_style.value = page_css(look)  # type: ignore[arg-type]
        for explorer in self._explorers.values():
            explorer.set_look(look)

    def _tab_opened(self, change: dict) -> None:
        if change["new"] is not None:
            self._build(TABS[int(change["new"])])

    def _show_only(self, name: str) -> None:
        """The shown tab refreshes at once; the hidden ones wait (the shared time slider moves only what is seen,
        and a tab catches up, once, when it is opened or read from Python)."""
        for other, explorer in self._explorers.items():
            if other == name:
                explorer.resume()
            else:
                explorer.pause()

    # -- the explorers (built on first access) -----------------------------------------------------------
    @property
    def built(self) -> tuple[str, ...]:
        """The tabs built so far, in build order."""
        return tuple(self._explorers)

    @property
    def explorers(self) -> dict[str, Explorer]:
        """Every tab's explorer by title (builds the ones not built yet)."""
        return {name: self._build(name) for name in TABS}

    @property
    def map(self) -> MapExplorer:
        return cast("MapExplorer", self._build("Map"))

    @property
    def heatmap(self) -> HeatmapExplorer:
        return cast("HeatmapExplorer", self._build("Heatmap"))

    @property
    def cascade(self) -> CascadeExplorer:
        return cast("CascadeExplorer", self._build("Cascade"))

    @property
    def momentum(self) -> MomentumExplorer:
        return cast("MomentumExplorer", self._build("Momentum"))

    # -- display -------------------------------------------------------------------------------------------
    @property
    def widget(self) -> W.Box:
        """The layout: the market choice (bundled samples only) above the tabs."""
        if self._widget is None:
            choice = [self.market, self.market_note] if self.market is not None else []
            self._widget = W.VBox([self.page_style, W.HBox([*choice, self.look]), self.tabs])
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        ensure_bokeh_loaded()
        display(self.widget)
