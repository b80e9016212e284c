"""Reusable control groups: the leverage profile and the long/short split."""

from __future__ import annotations

import ipywidgets as W
import pandas as pd

from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = ["DOMINANT_CHOICES", "STYLE", "TOP_CLUSTERS", "LeverageControls", "SplitControls", "csv_link", "time_slider", "usd_options"]

DOMINANT_CHOICES = (2, 3, 5, 10, 20, 25, 50, 75, 100, 125)
STYLE = {"description_width": "110px"}
#: How many clusters per side the explorers shade, list and study (find_clusters' ``top``).
TOP_CLUSTERS = 3
_STYLE = STYLE


class LeverageControls:
    """Per-tier weight sliders (the base profile's tiers, in percent) plus a dominant leverage and its share.

    The profile is ``dominance`` at the ``dominant`` leverage and the rest spread over the tiers in
    proportion to their sliders. Untouched (dominance 0, sliders at their start) it is exactly the base
    profile, by default ``LeverageProfile.default()``. Sliders hold whole percents so that the browser's
    step snapping never moves a value behind Python's back.
    """

    def __init__(self, base: LeverageProfile | None = None) -> None:
        base = base or LeverageProfile.default()
        self.base = base
        self.tiers = {
            f"w{lev:g}x": W.IntSlider(
                value=round(w * 100), min=0, max=100, step=1, description=f"{lev:g}x weight %", continuous_update=False, style=_STYLE
            )
            for lev, w in zip(base.leverages, base.weights_array)
        }
        self._start = {k: s.value for k, s in self.tiers.items()}
        self.dominant = W.SelectionSlider(options=list(DOMINANT_CHOICES), value=25, description="dominant lev.", continuous_update=False, style=_STYLE)
        self.dominance = W.IntSlider(value=0, min=0, max=100, step=5, description="its share %", continuous_update=False, style=_STYLE)
        self.mmr = float(base.mmrs[0])

    @property
    def controls(self) -> dict[str, W.Widget]:
        return {**self.tiers, "dominant": self.dominant, "dominance": self.dominance}

    def profile(self) -> LeverageProfile:
        """The profile the sliders describe."""
        share = self.dominance.value / 100.0
        if share == 0.0 and all(s.value == self._start[k] for k, s in self.tiers.items()):
            return self.base
        weights = {float(lev): s.value / 100.0 for lev, s in zip(self.base.leverages, self.tiers.values())}
        total = sum(weights.values())
        if share >= 1.0 or total <= 0:
            if share <= 0:
                raise DataError("every leverage weight is zero: raise one tier or the dominant leverage's share")
            return LeverageProfile.single(float(self.dominant.value), self.mmr)
        mixed = {lev: (1.0 - share) * w / total for lev, w in weights.items()}
        dom = float(self.dominant.value)
        mixed[dom] = mixed.get(dom, 0.0) + share
        mixed = {k: v for k, v in mixed.items() if v > 0}
        total_mixed = sum(mixed.values())
        return LeverageProfile({k: v / total_mixed for k, v in mixed.items()}, self.mmr)

    def box(self) -> W.Widget:
        return W.VBox([W.HTML("<b>Leverage profile</b>"), *self.tiers.values(), self.dominant, self.dominance])


class SplitControls:
    """How new open interest splits into longs and shorts: a mode and, for ``"share"``, the long share in percent."""

    def __init__(self, modes: tuple[str, ...] = ("both", "candle", "share")) -> None:
        self.mode = W.Dropdown(options=list(modes), value="both", description="split", style=_STYLE)
        self.share = W.IntSlider(value=50, min=0, max=100, step=5, description="long share %", continuous_update=False, style=_STYLE)

    @property
    def controls(self) -> dict[str, W.Widget]:
        return {"split": self.mode, "split_share": self.share}

    def value(self) -> str | float:
        return self.share.value / 100.0 if self.mode.value == "share" else str(self.mode.value)

    def box(self) -> W.Widget:
        return W.VBox([self.mode, self.share])


def usd_options(center: float, multiples: tuple[float, ...] = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)) -> list[tuple[str, float]]:
    """``(label, value)`` choices for a SelectionSlider of dollar amounts around ``center``: exact values, no snapping."""
    from liqtools._format import usd

    return [(usd(center * m), float(center * m)) for m in multiples]


def time_slider(df: pd.DataFrame, value: int | None = None) -> W.IntSlider:
    """A candle-position slider whose readout is hidden in favour of a time label next to it."""
    return W.IntSlider(
        value=len(df) - 1 if value is None else value,
        min=0,
        max=len(df) - 1,
        description="time",
        continuous_update=True,
        readout=False,
        style=_STYLE,
        layout=W.Layout(width="420px"),
    )


def csv_link(frame: pd.DataFrame, filename: str, label: str) -> str:
    """An HTML link that downloads ``frame`` as a CSV file (a ``data:`` URI: works in Voila, needs no server route).

    Examples
    --------
    >>> link = csv_link(pd.DataFrame({"a": [1]}), "x.csv", "download the table")
    >>> link.startswith('<a download="x.csv" href="data:text/csv;base64,')
    True
    """
    import base64
    import html

    payload = base64.b64encode(frame.to_csv().encode()).decode("ascii")
    return f'<a download="{html.escape(filename)}" href="data:text/csv;base64,{payload}" style="margin-right:14px">{html.escape(label)}</a>'
