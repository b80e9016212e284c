"""Stop BokehJS from sending the kernel's own changes back to it (a jupyter_bokeh round trip per change).

jupyter_bokeh (4.1) forwards every change of a page's bokeh document to the kernel, including the ones it
has just applied *from* the kernel: BokehJS marks those ``sync = false`` (the Bokeh server's client drops
them), but jupyter_bokeh's listener does not look. So each ``source.data = ...`` from Python came back:
the page gzipped and base64-encoded the new columns (a heatmap image: about 65 ms of the page's main
thread per change, before the next patch could be drawn) and the kernel decoded and re-applied them.

:func:`drop_echoes` attaches a ``document_ready`` callback to a layout's document that filters those events
out of the document's change notifications. Changes made in the page (a zoom, a pan, a selection) keep
``sync = true`` and still reach Python, as do added and removed roots.
"""

from __future__ import annotations

from bokeh.document import Document
from bokeh.models import CustomJS
from bokeh.models.layouts import LayoutDOM

__all__ = ["drop_echoes"]

_JS = """
const doc = root.document
if (doc != null && !doc.__liqtools_no_echo) {
  doc.__liqtools_no_echo = true
  const trigger = doc._trigger_on_change.bind(doc)
  doc._trigger_on_change = (event) => {
    // a property or column change applied from the kernel: not sent back
    if (event.sync === false && "attr" in event) return
    trigger(event)
  }
}
"""


def drop_echoes(root: LayoutDOM) -> LayoutDOM:
    """``root``, in a document (its own, or a new one) whose page keeps the kernel's changes to itself
    (idempotent). BokehJS runs ``document_ready`` callbacks of the document, not of its models."""
    doc = root.document
    if doc is None:
        doc = Document()
        doc.add_root(root)
    callbacks = doc.callbacks.js_event_callbacks.get("document_ready", [])
    if not any(getattr(cb, "name", None) == "liqtools_drop_echoes" for cb in callbacks):
        doc.js_on_event("document_ready", CustomJS(args={"root": root}, code=_JS, name="liqtools_drop_echoes"))
    return root
