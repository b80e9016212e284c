"""CascadeExplorer: shock, depth and impact law; the domino chains down and up, side by side."""

from __future__ import annotations

import ipywidgets as W
import pandas as pd

from liqtools.analysis.cascade import CascadeResult, simulate_cascade, tipping_point
from liqtools.analysis.heatmap import Heatmap, liquidation_heatmap
from liqtools.analysis.levels import find_clusters, liquidation_map
from liqtools.errors import DataError, LiqtoolsError
from liqtools.plotting.figures import cascade_data, cascade_figure, cascade_levels_data
from liqtools.plotting.theme import price_text, usd
from liqtools.widgets._base import Explorer
from liqtools.widgets.controls import STYLE as _STYLE
from liqtools.widgets.controls import time_slider
from liqtools.widgets.controls import usd_options

__all__ = ["CascadeExplorer"]



class CascadeExplorer(Explorer):
    """Simulate the cascade a shock sets off, both ways, from a set of levels or a market frame.

    Pass ``levels`` (a ``price, notional_usd, side`` frame) with ``price``, or ``df`` (levels from the
    default heatmap after the candle chosen with ``time``). Controls: ``shock`` (size in basis points,
    applied up and down), ``depth`` (USD per 1%, from 1% to 100x the start depth), ``impact`` (``linear``
    / ``sqrt``), ``time`` (data only).
    Sources: ``cascade_down``, ``cascade_up``, ``cascade_down_levels``, ``cascade_up_levels``. The readout
    gives both final prices and the tipping points to the far edges of the largest clusters.

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [101.0, 102.0], "notional_usd": [1e6, 2e6], "side": "short"})
    >>> ex = CascadeExplorer(lv, price=100.0, depth_usd=1e6)
    >>> ex.update(shock=200)  # basis points
    >>> ex.sources["cascade_up"].data["cumulative_usd"].tolist()
    [3000000.0]
    """

    def __init__(
        self,
        levels: pd.DataFrame | None = None,
        *,
        df: pd.DataFrame | None = None,
        price: float | None = None,
        depth_usd: float | None = None,
        time_control: W.IntSlider | None = None,
    ) -> None:
        super().__init__()
        if (levels is None) == (df is None):
            raise DataError("pass either levels (with price) or df")
        if levels is not None and price is None:
            raise DataError("levels need the start price: CascadeExplorer(levels, price=...)")
        self.df = df
        self._fixed = (levels, float(price)) if levels is not None else None  # type: ignore[arg-type]
        # only the levels are needed: one coarse snapshot keeps the heatmap cheap
        self._hm: Heatmap | None = (
            liquidation_heatmap(df, every=len(df), bin_size=float(df["close"].median()) * 0.05) if df is not None else None
        )
        self._tipping_cache: dict[tuple, list[str]] = {}
        if depth_usd is None:
            from liqtools.data.sample import sample_depth_usd

            depth_usd = sample_depth_usd()
        self.controls.update(
            shock=W.IntSlider(value=100, min=0, max=1000, step=5, description="shock size bp", style=_STYLE),
            depth=W.SelectionSlider(options=usd_options(float(depth_usd), (0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100)), value=float(depth_usd), description="depth per 1%", style=_STYLE),
            impact=W.ToggleButtons(options=["linear", "sqrt"], value="linear", description="impact", style=_STYLE),
        )
        if df is not None:
            self.controls["time"] = time_control or time_slider(df)
        up, down = self._simulate()
        self._finish(cascade_figure(up, down, width=1000), self._controls_layout())
        self._show(up, down)
        self._on_change(self.refresh, "shock", "depth", "impact", *(["time"] if df is not None else []))

    def levels_and_price(self) -> tuple[pd.DataFrame, float]:
        """The levels and start price the cascade runs on."""
        if self._fixed is not None:
            return self._fixed
        t = int(self.controls["time"].value)
        return self._hm.levels_at(t), float(self.df["close"].iloc[t])  # type: ignore[union-attr, index]

    def _simulate(self) -> tuple[CascadeResult, CascadeResult]:
        levels, price = self.levels_and_price()
        size, depth, impact = self.controls["shock"].value / 10_000.0, float(self.controls["depth"].value), self.controls["impact"].value
        return (
            simulate_cascade(levels, price, size, depth_usd=depth, impact=impact),
            simulate_cascade(levels, price, -size, depth_usd=depth, impact=impact),
        )

    def refresh(self) -> None:
        up, down = self._simulate()
        self._show(up, down)

    def _show(self, up: CascadeResult, down: CascadeResult) -> None:
        self.up, self.down = up, down
        self._assign(
            {
                "cascade_up": cascade_data(up),
                "cascade_down": cascade_data(down),
                "cascade_up_levels": cascade_levels_data(up),
                "cascade_down_levels": cascade_levels_data(down),
            }
        )
        lines = [line.strip() for r in (up, down) for line in r.summary().splitlines() if not line.strip().startswith("Estimate:")]
        self._set_readout([*lines, *self._tipping_lines()])

    def _tipping_lines(self) -> list[str]:
        """Smallest shocks that carry the price through the far edge of the largest cluster on each side
        (they do not depend on the shock: cached per time, depth and impact law)."""
        key = (self.controls["time"].value if "time" in self.controls else None, self.controls["depth"].value, self.controls["impact"].value)
        if key not in self._tipping_cache:
            self._tipping_cache = {key: self._compute_tipping_lines()}
        return self._tipping_cache[key]

    def _compute_tipping_lines(self) -> list[str]:
        levels, price = self.levels_and_price()
        if len(levels) == 0:
            return []
        clusters = find_clusters(liquidation_map(levels, price), price)
        depth, impact = float(self.controls["depth"].value), self.controls["impact"].value
        lines = []
        for side, edge, word in (("short", "high", "up through the top short cluster"), ("long", "low", "down through the top long cluster")):
            rows = clusters[clusters["side"] == side]
            if rows.empty:
                continue
            r = rows.iloc[0]
            target = float(r[edge])
            try:
                d = tipping_point(levels, price, target, depth_usd=depth, impact=impact)
                lines.append(
                    f"Tipping point {word} ({price_text(r.low)}-{price_text(r.high)}, {usd(r.notional_usd)}): a {d:+.2%} shock carries the price to {price_text(target)}."
                )
            except LiqtoolsError as exc:
                lines.append(f"Tipping point {word}: {exc}")
        return lines

    def _controls_layout(self) -> W.Widget:
        items = [self.controls["shock"], self.controls["depth"], self.controls["impact"]]
        if "time" in self.controls:
            items.insert(0, self.controls["time"])
        return W.VBox(items)


