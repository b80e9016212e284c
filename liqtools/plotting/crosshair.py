"""The price under the mouse, written on the price axis as the crosshair moves (as trading charts do)."""

from __future__ import annotations

from typing import Literal

from bokeh.events import MouseLeave, MouseMove
from bokeh.models import CustomJS, Label
from bokeh.plotting import figure as Figure

__all__ = ["add_price_readout"]

_JS = """
if (cb_obj.event_name === "mouseleave") { label.visible = false; return; }
const v = cb_obj[axis];
if (v == null || !isFinite(v)) { label.visible = false; return; }
const digits = Math.abs(v) >= 1000 ? 0 : (Math.abs(v) >= 1 ? 2 : 6);
label.text = "$" + v.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
label[axis] = v;
label.visible = true;
"""


def add_price_readout(fig: Figure, axis: Literal["x", "y"] = "y", *, name: str = "crosshair_price") -> Label:
    """Add a label that shows the price under the mouse at the edge of the price axis; returns it.

    ``axis`` is the axis that carries price ("y" on the heatmap, "x" on the map). The label hides when the
    mouse leaves the plot. Works with the figure's crosshair (the label is the axis end of its line).

    Examples
    --------
    >>> from bokeh.plotting import figure
    >>> fig = figure()
    >>> label = add_price_readout(fig)
    >>> label.name, label.visible, label.x_units, label.y_units
    ('crosshair_price', False, 'screen', 'data')
    """
    other = "y" if axis == "x" else "x"
    label = Label(
        name=name,
        text="",
        visible=False,
        text_font_size="11px",
        text_color="white",
        background_fill_color="#333333",
        background_fill_alpha=0.9,
        text_baseline="middle" if axis == "y" else "bottom",
        text_align="left" if axis == "y" else "center",
        **{axis: 0.0, f"{axis}_units": "data", other: 2.0, f"{other}_units": "screen"},  # type: ignore[arg-type]
    )
    fig.add_layout(label)
    callback = CustomJS(args={"label": label, "axis": axis}, code=_JS)
    fig.js_on_event(MouseMove, callback)
    fig.js_on_event(MouseLeave, callback)
    return label
