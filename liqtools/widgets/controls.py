"""Reusable control groups: the leverage profile and the long/short split."""

from __future__ import annotations

import html

import ipywidgets as W
import pandas as pd

from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = ["DOMINANT_CHOICES", "STYLE", "TOP_CLUSTERS", "LeverageControls", "SplitControls", "TimeBox", "csv_link", "price_options", "time_slider", "usd_options"]

#: The dominant leverage's choices, the values venues offer and traders pick: one arrow press moves to the next
#: (25x -> 125x takes six presses), never more than doubling.
DOMINANT_CHOICES = (2, 3, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 125)
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
        self.note = W.HTML(layout=W.Layout(max_width="330px"))
        self._accordion: W.Accordion | None = None
        for control in self.controls.values():
            control.observe(lambda _change: self._sync(), names="value")
        self._sync()

    def _sync(self) -> None:
        """Disable what has no effect (the dominant leverage at share 0, the tiers at share 100%) and say the
        mix in use, normalised."""
        share = self.dominance.value
        self.dominant.disabled = share == 0
        for slider in self.tiers.values():
            slider.disabled = share >= 100
        try:
            from liqtools.plotting.theme import profile_text

            text = profile_text(self.profile()).replace("leverage mix", "In use (weights scaled to sum to 100%):")
        except DataError as exc:
            text = str(exc)
        self.note.value = f"<div style='color:#555;font-size:90%;line-height:1.3'>{html.escape(text)}</div>"
        if self._accordion is not None:
            self._accordion.set_title(0, self._title())

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
        """The sliders folded into an accordion (closed: the plot stays near the top of the page); its title
        says the mix in use."""
        if self._accordion is None:
            self._accordion = W.Accordion(children=[W.VBox([*self.tiers.values(), self.dominant, self.dominance, self.note])], selected_index=None)
            self._accordion.set_title(0, self._title())
        return self._accordion

    def _title(self) -> str:
        try:
            from liqtools.plotting.theme import profile_text

            return "Leverage profile: " + profile_text(self.profile()).removeprefix("leverage mix ").split(" (")[0]
        except DataError:
            return "Leverage profile: every weight is zero"


class SplitControls:
    """How new open interest splits into longs and shorts: a mode and, for ``"share"``, the long share in percent."""

    def __init__(self, modes: tuple[str, ...] = ("both", "candle", "share")) -> None:
        self.mode = W.Dropdown(options=list(modes), value="both", description="split", style=_STYLE)
        self.share = W.IntSlider(value=50, min=0, max=100, step=5, description="long share %", continuous_update=False, style=_STYLE, disabled=True)
        # the long share only counts in "share" mode
        self.mode.observe(lambda change: setattr(self.share, "disabled", change["new"] != "share"), names="value")

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


def price_options(values: list[float]) -> list[tuple[str, float]]:
    """``(label, value)`` choices for a dropdown of prices: $200, $0.5 (no float reprs on screen)."""
    from liqtools._format import price_text

    return [(price_text(v), float(v)) for v in values]


class TimeBox:
    """The candle slider with its value shown as a date you can type over, and a label (e.g. the close).

    Type ``2026-01-15 13:00`` or ``2026-01-15`` (UTC) and press Enter: the slider moves to the last candle at
    or before that time (the first or last candle outside the data, said in ``label``).

    Examples
    --------
    >>> from liqtools import load_sample
    >>> df = load_sample()
    >>> box = TimeBox(df, time_slider(df))
    >>> box.date.value = "2026-01-15 13:30"
    >>> str(df.index[box.slider.value]), box.date.value
    ('2026-01-15 13:00:00+00:00', '2026-01-15 13:00')
    """

    FORMAT = "%Y-%m-%d %H:%M"

    def __init__(self, df: pd.DataFrame, slider: W.IntSlider) -> None:
        self.index = pd.DatetimeIndex(df.index)
        self.slider = slider
        self.date = W.Text(value=self._text(), continuous_update=False, placeholder="YYYY-MM-DD HH:MM", layout=W.Layout(width="140px"), tooltip="type a date (UTC) and press Enter")
        self.label = W.Label()
        self.note = W.HTML()
        slider.observe(lambda _change: self._slider_moved(), names="value")
        self.date.observe(lambda change: self._typed(str(change["new"])), names="value")

    def _text(self) -> str:
        return f"{self.index[int(self.slider.value)]:{self.FORMAT}}"

    def _slider_moved(self) -> None:
        self.note.value = ""
        self.date.value = self._text()

    def _typed(self, text: str) -> None:
        if text.strip() == self._text():
            return
        try:
            ts = pd.Timestamp(text.strip())
            if pd.isna(ts):
                raise ValueError(text)
        except ValueError:
            self.note.value = f"<span style='color:#b00'>not a date: {html.escape(text)} (type YYYY-MM-DD HH:MM, UTC)</span>"
            self.date.value = self._text()
            return
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        pos = int(self.index.searchsorted(ts, side="right")) - 1
        candle = self.index[-1] - self.index[-2] if len(self.index) > 1 else pd.Timedelta(0)
        note = ""
        if ts < self.index[0] or ts >= self.index[-1] + candle:
            note = f"{ts:{self.FORMAT}} is outside the data ({self.index[0]:{self.FORMAT}} to {self.index[-1]:{self.FORMAT}} UTC): nearest candle shown"
        pos = min(max(pos, 0), len(self.index) - 1)
        if pos == int(self.slider.value):
            self.date.value = self._text()
        else:
            self.slider.value = pos
        self.note.value = f"<span style='color:#555'>{html.escape(note)}</span>" if note else ""

    def box(self) -> W.Widget:
        return W.VBox([W.HBox([self.slider, self.date, W.HTML("<span style='color:#555'>UTC,&nbsp;</span>"), self.label]), self.note])


def time_slider(df: pd.DataFrame, value: int | None = None) -> W.IntSlider:
    """A candle-position slider whose readout is hidden in favour of the typed date beside it (:class:`TimeBox`)."""
    return W.IntSlider(
        value=len(df) - 1 if value is None else value,
        min=0,
        max=len(df) - 1,
        description="time",
        continuous_update=True,
        readout=False,
        style=_STYLE,
        layout=W.Layout(width="340px"),
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

    payload = base64.b64encode(frame.to_csv().encode()).decode("ascii")
    return f'<a download="{html.escape(filename)}" href="data:text/csv;base64,{payload}" style="margin-right:14px">{html.escape(label)}</a>'
