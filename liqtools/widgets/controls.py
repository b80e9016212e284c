"""Reusable control groups: the leverage profile and the long/short split."""

from __future__ import annotations

import ipywidgets as W

from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = ["LeverageControls", "SplitControls", "DOMINANT_CHOICES"]

DOMINANT_CHOICES = (2, 3, 5, 10, 20, 25, 50, 75, 100, 125)
_STYLE = {"description_width": "110px"}


class LeverageControls:
    """Per-tier weight sliders (the default profile's tiers) plus a dominant leverage and its share.

    The profile is ``dominance`` at the ``dominant`` leverage and ``1 - dominance`` spread over the tiers
    in proportion to their sliders. With dominance 0 and the default sliders it is exactly
    ``LeverageProfile.default()``.
    """

    def __init__(self, base: LeverageProfile | None = None) -> None:
        base = base or LeverageProfile.default()
        self.base = base
        self.tiers = {
            f"w{lev:g}x": W.FloatSlider(
                value=float(w), min=0.0, max=1.0, step=0.01, description=f"{lev:g}x weight", continuous_update=False, style=_STYLE
            )
            for lev, w in zip(base.leverages, base.weights_array)
        }
        self.dominant = W.SelectionSlider(options=list(DOMINANT_CHOICES), value=25, description="dominant lev.", continuous_update=False, style=_STYLE)
        self.dominance = W.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="its share", continuous_update=False, style=_STYLE)
        self.mmr = float(base.mmrs[0])

    @property
    def controls(self) -> dict[str, W.Widget]:
        return {**self.tiers, "dominant": self.dominant, "dominance": self.dominance}

    def profile(self) -> LeverageProfile:
        """The profile the sliders describe."""
        weights = {float(lev): s.value for lev, s in zip(self.base.leverages, self.tiers.values())}
        total = sum(weights.values())
        share = float(self.dominance.value)
        if share >= 1.0 or total <= 0:
            if share <= 0:
                raise DataError("every leverage weight is zero: raise one tier or the dominant leverage's share")
            return LeverageProfile.single(float(self.dominant.value), self.mmr)
        if share == 0.0 and abs(total - 1.0) <= 1e-9:
            return LeverageProfile(weights, self.mmr)
        mixed = {lev: (1.0 - share) * w / total for lev, w in weights.items()}
        dom = float(self.dominant.value)
        mixed[dom] = mixed.get(dom, 0.0) + share
        mixed = {k: v for k, v in mixed.items() if v > 0}
        total_mixed = sum(mixed.values())
        return LeverageProfile({k: v / total_mixed for k, v in mixed.items()}, self.mmr)

    def box(self) -> W.Widget:
        return W.VBox([W.HTML("<b>Leverage profile</b>"), *self.tiers.values(), self.dominant, self.dominance])


class SplitControls:
    """How new open interest splits into longs and shorts: a mode and, for ``"share"``, the long share."""

    def __init__(self, modes: tuple[str, ...] = ("both", "candle", "share")) -> None:
        self.mode = W.Dropdown(options=list(modes), value="both", description="split", style=_STYLE)
        self.share = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="long share", continuous_update=False, style=_STYLE)

    @property
    def controls(self) -> dict[str, W.Widget]:
        return {"split": self.mode, "split_share": self.share}

    def value(self) -> str | float:
        return float(self.share.value) if self.mode.value == "share" else str(self.mode.value)

    def box(self) -> W.Widget:
        return W.VBox([self.mode, self.share])
