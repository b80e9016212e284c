"""Two looks for every liqtools plot and page: ``"light"`` (bokeh's own) and ``"dark"`` (the heatmap's night).

:func:`apply_look` restyles a bokeh layout in place (backgrounds, text, axes, grids, legends, colour bars, tables
and the current-price lines), so a page that shows it redraws without a reload; :func:`page_css` gives
the matching style for the ipywidgets around the plots (JupyterLab's and Voila's CSS variables).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bokeh.models import Axis, ColorBar, DataTable, GlyphRenderer, Grid, Image, Label, LayoutDOM, Legend, Plot, Title

from liqtools.plotting.theme import PRICE_COLOR

__all__ = ["LOOKS", "Look", "apply_look", "page_css"]

LookName = Literal["light", "dark"]


@dataclass(frozen=True)
class Look:
    """The colours of one look."""

    background: str
    border: str
    text: str
    axis: str
    grid: str
    price: str
    panel: str


LOOKS: dict[str, Look] = {
    "light": Look(background="#ffffff", border="#ffffff", text="#444444", axis="#444444", grid="#e5e5e5", price=PRICE_COLOR, panel="#ffffff"),
    "dark": Look(background="#0d0d12", border="#15161c", text="#d9d9de", axis="#8a8c96", grid="#2c2e36", price="#e8e8e8", panel="#15161c"),
}
_PRICE_LINES = {LOOKS["light"].price, LOOKS["dark"].price}


def _look(name: str) -> Look:
    try:
        return LOOKS[name]
    except KeyError:
        raise ValueError(f"look must be one of {sorted(LOOKS)}, got {name!r}") from None


def apply_look(layout: LayoutDOM, look: LookName = "dark") -> None:
    """Restyle every plot of ``layout`` in place.

    Plots whose background is an image (the heatmap) keep their data colours; only the frame, the text and
    the lines drawn in the price colour change.

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> fig = figure(title="t")
    >>> _ = fig.line([0, 1], [0, 1])
    >>> apply_look(fig, "dark")
    >>> fig.background_fill_color, fig.title.text_color, fig.xaxis[0].major_label_text_color
    ('#0d0d12', '#d9d9de', '#d9d9de')
    >>> apply_look(fig, "light"); fig.background_fill_color
    '#ffffff'
    >>> apply_look(fig, "sepia")
    Traceback (most recent call last):
    ...
    ValueError: look must be one of ['dark', 'light'], got 'sepia'
    """
    c = _look(look)
    for plot in layout.select({"type": Plot}):
        if not any(isinstance(r, GlyphRenderer) and isinstance(r.glyph, Image) for r in plot.renderers):
            plot.background_fill_color = c.background  # an image's plot keeps its own (the heatmap's black)
        plot.border_fill_color = c.border
        plot.outline_line_color = c.grid
    for title in layout.select({"type": Title}):
        title.text_color = c.text
    for axis in layout.select({"type": Axis}):
        axis.update(
            axis_line_color=c.axis,
            major_tick_line_color=c.axis,
            minor_tick_line_color=c.axis,
            major_label_text_color=c.text,
            axis_label_text_color=c.text,
        )
    for grid in layout.select({"type": Grid}):
        grid.grid_line_color = c.grid
    for legend in layout.select({"type": Legend}):
        legend.update(background_fill_color=c.panel, border_line_color=c.grid, label_text_color=c.text, title_text_color=c.text)
    for bar in layout.select({"type": ColorBar}):
        bar.update(background_fill_color=c.border, major_label_text_color=c.text, title_text_color=c.text)
    for renderer in layout.select({"type": GlyphRenderer}):
        glyph = renderer.glyph
        if getattr(glyph, "line_color", None) in _PRICE_LINES:
            glyph.line_color = c.price
    for table in layout.select({"type": DataTable}):  # its rows are white in bokeh's own style: dark rows, light text
        table.stylesheets = [] if look == "light" else [_table_css(c)]
    for label in layout.select({"type": Label}):
        if label.name and label.name.endswith("crosshair_price"):
            label.update(background_fill_color="#e8e8e8" if look == "dark" else "#333333", text_color="#111111" if look == "dark" else "white")


def _table_css(c: Look) -> str:
    return (
        f":host {{--odd:{c.border}; --special:{c.border}; --selected:{c.grid}; color:{c.text};}}"
        f" .slick-row {{background:{c.background}; color:{c.text};}} .slick-row.odd {{background:{c.border};}}"
        f" .slick-header-column {{background:{c.border}; color:{c.text};}}"
    )


def page_css(look: LookName = "dark") -> str:
    """A ``<style>`` element for the widgets around the plots (empty for the light look: the page's own).

    Examples
    --------
    >>> page_css("light")
    ''
    >>> "--jp-widgets-color" in page_css("dark")
    True
    """
    c = _look(look)
    if look == "light":
        return ""
    return (
        "<style>:root, body, .jp-Notebook, .jp-OutputArea-output {"
        f"--jp-layout-color0:{c.background}; --jp-layout-color1:{c.border}; --jp-layout-color2:{c.grid};"
        f"--jp-ui-font-color0:{c.text}; --jp-ui-font-color1:{c.text}; --jp-content-font-color1:{c.text};"
        f"--jp-widgets-color:{c.text}; --jp-widgets-label-color:{c.text}; --jp-widgets-readout-color:{c.text};"
        f"--jp-widgets-input-color:{c.text}; --jp-widgets-input-background-color:{c.border};"
        f"--jp-widgets-input-border-color:{c.grid}; --jp-border-color1:{c.grid}; --jp-border-color2:{c.grid};"
        f"background-color:{c.background}; color:{c.text};"
        "} .widget-html-content div, .widget-html-content span {color:" + c.text + " !important;}"
        " .lm-TabBar-tab, .p-TabBar-tab, .jupyter-widget-Collapse-header, .p-Collapse-header, .lm-Collapse-header"
        " {background:" + c.border + " !important; color:" + c.text + " !important;}"
        " .lm-TabBar-tab.lm-mod-current, .p-TabBar-tab.p-mod-current {background:" + c.background + " !important;}"
        " .widget-button, .jupyter-button {background-color:" + c.grid + "; color:" + c.text + ";}"
        " .jupyter-button.mod-active {background-color:#55596a;}</style>"
    )
