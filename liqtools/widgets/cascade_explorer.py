"""CascadeExplorer: shock, depth of each side and impact law; the domino chains down and up, side by side."""

from __future__ import annotations

import ipywidgets as W
import pandas as pd

from liqtools.analysis.cascade import CascadeResult, simulate_cascade, tipping_point
from liqtools.analysis.heatmap import Heatmap, liquidation_heatmap
from liqtools.analysis.levels import find_clusters, liquidation_map
from liqtools.data.depth import Depth, market_depth
from liqtools.errors import DataError, LiqtoolsError
from liqtools.plotting.figures import cascade_data, cascade_figure, cascade_flag_data, cascade_levels_data
from liqtools.plotting.theme import price_text, usd
from liqtools.widgets._base import Explorer
from liqtools.widgets.controls import STYLE as _STYLE
from liqtools.widgets.controls import TimeBox, time_slider

__all__ = ["DEPTH_CHOICES", "CascadeExplorer", "depth_choices"]

#: Round depths (USD per 1%) of the depth sliders: a log scale from $1M to $10B.
DEPTH_CHOICES: tuple[float, ...] = tuple(m * 10.0**k for k in range(6, 10) for m in (1, 1.5, 2, 3, 5, 7)) + (1e10,)


def depth_choices(documented: float) -> list[tuple[str, float]]:
    """``(label, value)`` choices for a depth slider: the round values plus the documented figure, marked.

    >>> [label for label, _ in depth_choices(104.72e6)][12:15]
    ['$100.0M', '$104.7M (documented)', '$150.0M']
    """
    values = sorted(set(DEPTH_CHOICES) | {float(documented)})
    return [(usd(v) + (" (documented)" if v == documented else ""), v) for v in values]


class CascadeExplorer(Explorer):
    """Simulate the cascade a shock sets off, both ways, from a set of levels or a market frame.

    Pass ``levels`` (a ``price, notional_usd, side`` frame) with ``price``, or ``df`` (levels from the
    default heatmap after the candle chosen with ``time``). The depth starts at the documented figure of
    ``market`` (:func:`liqtools.data.depth.market_depth`; ``depth_usd`` overrides it with a record or a number).
    Controls: ``shock`` (size in basis points, applied up and down), ``bid_depth`` (the bids that absorb the
    long flush) and ``ask_depth`` (the asks that absorb the short squeeze), each in USD per 1% on a log scale
    from $1M to $10B, ``impact`` (``sqrt``, the default, or ``linear``), ``time`` (data only: the candle, shown as a date
    you can type over, ``timebox``, as on the other tabs).
    Sources: ``cascade_down``, ``cascade_up``, ``cascade_down_levels``, ``cascade_up_levels``,
    ``cascade_down_flag``, ``cascade_up_flag`` (the runaway label on the chart). The readout gives both
    final prices, the assumption (depth figure, band, venue, date, source, impact law), a runaway flag
    where it applies, and the tipping points to the far edges of the largest clusters.

    Examples
    --------
    >>> lv = pd.DataFrame({"price": [101.0, 102.0], "notional_usd": [1e6, 2e6], "side": "short"})
    >>> ex = CascadeExplorer(lv, price=100.0, depth_usd=1e6)
    >>> ex.update(shock=200)  # basis points
    >>> ex.sources["cascade_up"].data["cumulative_usd"].tolist()
    [3000000.0]
    >>> ex.update(ask_depth=1e7)
    >>> ex.readout_lines[-2]
    'Depth for the squeeze (asks): $10.0M per 1%, set on the slider (given: $1.0M per 1%, no source).'
    """

    def __init__(
        self,
        levels: pd.DataFrame | None = None,
        *,
        df: pd.DataFrame | None = None,
        price: float | None = None,
        depth_usd: float | Depth | None = None,
        market: str = "BTC",
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
        self.depth: Depth | float = market_depth(market) if depth_usd is None else depth_usd
        bid0, ask0 = (self.depth.bid_usd, self.depth.ask_usd) if isinstance(self.depth, Depth) else (float(self.depth),) * 2
        self._documented = {"bid": bid0, "ask": ask0}
        self.controls.update(
            shock=W.IntSlider(value=100, min=0, max=1000, step=5, description="shock size bp", style=_STYLE),
            bid_depth=W.SelectionSlider(
                options=depth_choices(bid0), value=bid0, description="bids per 1%", style=_STYLE, layout=W.Layout(width="420px")
            ),
            ask_depth=W.SelectionSlider(
                options=depth_choices(ask0), value=ask0, description="asks per 1%", style=_STYLE, layout=W.Layout(width="420px")
            ),
            impact=W.ToggleButtons(options=["sqrt", "linear"], value="sqrt", description="impact", style=_STYLE),
        )
        for side in ("bid_depth", "ask_depth"):
            self.controls[side].add_class("liq-depth")  # its readout ("$104.7M (documented)") shown whole
        self.controls["bid_depth"].tooltip = "USD of market sells that move the price down 1%: the bids a long flush sells into"
        self.controls["ask_depth"].tooltip = "USD of market buys that move the price up 1%: the asks a short squeeze buys from"
        if df is not None:
            self.controls["time"] = time_control or time_slider(df)
            # the candle's date beside the slider, typed over to jump (as on the other tabs)
            self.timebox = TimeBox(df, self.controls["time"])
        up, down = self._simulate()
        figure = cascade_figure(up, down, width=1000)
        for panel in (figure, *figure.children):  # as wide as the page: the two panels share it
            panel.sizing_mode = "stretch_width"
        self._finish(figure, self._controls_layout())
        self._show(up, down)
        self._on_change(self.refresh, "shock", "bid_depth", "ask_depth", "impact", *(["time"] if df is not None else []))

    def levels_and_price(self) -> tuple[pd.DataFrame, float]:
        """The levels and start price the cascade runs on."""
        if self._fixed is not None:
            return self._fixed
        t = int(self.controls["time"].value)
        return self._hm.levels_at(t), float(self.df["close"].iloc[t])  # type: ignore[union-attr, index]

    def depth_for(self, side: str) -> float | Depth:
        """What the cascade meeting ``side`` ("bid" or "ask") uses: the documented record while its slider is at
        the documented figure, else the slider's number."""
        value = float(self.controls[f"{side}_depth"].value)
        if isinstance(self.depth, Depth) and value == self._documented[side]:
            return self.depth
        return value

    def _simulate(self) -> tuple[CascadeResult, CascadeResult]:
        levels, price = self.levels_and_price()
        size, impact = self.controls["shock"].value / 10_000.0, self.controls["impact"].value
        return (
            simulate_cascade(levels, price, size, depth_usd=self.depth_for("ask"), impact=impact),
            simulate_cascade(levels, price, -size, depth_usd=self.depth_for("bid"), impact=impact),
        )

    def assumption_lines(self) -> list[str]:
        """The assumption in words: the impact law, and each side's depth with its band, venue, date and source."""
        law = "square-root law, m = 0.01 sqrt(Q / D)" if self.controls["impact"].value == "sqrt" else "linear, m = 0.01 Q / D"
        lines = [f"Impact: {law} (Q forced flow, D depth per 1%; docs/model.md section 6)."]
        for side, word in (("ask", "the squeeze (asks)"), ("bid", "the flush (bids)")):
            value = float(self.controls[f"{side}_depth"].value)
            if isinstance(self.depth, Depth):
                documented = self.depth.describe(side)  # type: ignore[arg-type]
                if value == self._documented[side]:
                    lines.append(f"Depth for {word}: {documented}.")
                else:
                    lines.append(f"Depth for {word}: {usd(value)} per 1%, set on the slider (documented: {documented}).")
            elif value == self._documented[side]:
                lines.append(f"Depth for {word}: {usd(value)} per 1%, given, no source.")
            else:
                lines.append(f"Depth for {word}: {usd(value)} per 1%, set on the slider (given: {usd(self._documented[side])} per 1%, no source).")
        return lines

    def refresh(self) -> None:
        up, down = self._simulate()
        self._show(up, down)

    def _show(self, up: CascadeResult, down: CascadeResult) -> None:
        self.up, self.down = up, down
        if self.df is not None:
            self.timebox.label.value = f"close {price_text(float(self.df['close'].iloc[int(self.controls['time'].value)]))}"
        self._assign(
            {
                "cascade_up": cascade_data(up),
                "cascade_down": cascade_data(down),
                "cascade_up_levels": cascade_levels_data(up),
                "cascade_down_levels": cascade_levels_data(down),
                "cascade_up_flag": cascade_flag_data(up),
                "cascade_down_flag": cascade_flag_data(down),
            }
        )
        skip = ("Estimate:", "Depth assumed:")  # the depth is stated once per side below
        lines = [line.strip() for r in (up, down) for line in r.summary().splitlines() if not line.strip().startswith(skip)]
        self._set_readout([*lines, *self._tipping_lines(), *self.assumption_lines()])

    def _tipping_lines(self) -> list[str]:
        """Smallest shocks that carry the price through the far edge of the largest cluster on each side
        (they do not depend on the shock: cached per time, depth and impact law)."""
        key = (
            self.controls["time"].value if "time" in self.controls else None,
            self.controls["bid_depth"].value,
            self.controls["ask_depth"].value,
            self.controls["impact"].value,
        )
        if key not in self._tipping_cache:
            self._tipping_cache = {key: self._compute_tipping_lines()}
        return self._tipping_cache[key]

    def _compute_tipping_lines(self) -> list[str]:
        levels, price = self.levels_and_price()
        if len(levels) == 0:
            return []
        clusters = find_clusters(liquidation_map(levels, price), price)
        impact = self.controls["impact"].value
        lines = []
        for side, edge, word in (("short", "high", "up through the top short cluster"), ("long", "low", "down through the top long cluster")):
            rows = clusters[clusters["side"] == side]
            if rows.empty:
                continue
            r = rows.iloc[0]
            target = float(r[edge])
            try:
                depth = self.depth_for("ask" if side == "short" else "bid")
                d = tipping_point(levels, price, target, depth_usd=depth, impact=impact)
                lines.append(
                    f"Tipping point {word} ({price_text(r.low)}-{price_text(r.high)}, {usd(r.notional_usd)}): a {d:+.2%} shock carries the price to {price_text(target)}."
                )
            except LiqtoolsError as exc:
                lines.append(f"Tipping point {word}: {exc}")
        return lines

    def _controls_layout(self) -> W.Widget:
        whole = W.HTML("<style>.liq-depth .widget-readout {max-width: none; min-width: 170px; text-align: left;}</style>")
        items = [self.controls["shock"], self.controls["bid_depth"], self.controls["ask_depth"], self.controls["impact"], whole]
        if self.df is not None:
            items.insert(0, self.timebox.box())
        return W.VBox(items)


