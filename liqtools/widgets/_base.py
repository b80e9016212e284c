"""What every explorer shares: named controls and sources, one refresh per change, lazy BokehModel."""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as W
import numpy as np
from bokeh.models import ColumnDataSource, LayoutDOM

from liqtools.errors import LiqtoolsError
from liqtools.plotting.theme import CAVEAT
from liqtools.widgets._echo import drop_echoes

__all__ = ["Explorer", "ensure_bokeh_loaded"]

_BOKEH_LOADED = False
#: The BokehJS bundles the explorers use: the core, widgets and tables (DataTable); not WebGL or MathJax,
#: which would double what an inline page carries (BOKEH_RESOURCES=inline puts each bundle in the page twice).
BOKEH_COMPONENTS = ("bokeh", "bokeh-widgets", "bokeh-tables")


def ensure_bokeh_loaded() -> None:
    """Load BokehJS into the page once, before the first BokehModel is shown (jupyter_bokeh needs the
    page's BokehJS). Honours ``BOKEH_RESOURCES=inline`` for offline use."""
    global _BOKEH_LOADED
    if not _BOKEH_LOADED:
        from bokeh.io import output_notebook
        from bokeh.resources import Resources
        from bokeh.settings import settings

        resources = Resources(mode=settings.resources(), components=list(BOKEH_COMPONENTS))  # type: ignore[arg-type]
        if _in_voila():
            _output_notebook_lab_only(resources)
        else:
            output_notebook(resources, hide_banner=True)
        _BOKEH_LOADED = True


def _in_voila() -> bool:
    import os

    return "VOILA_KERNEL_ID" in os.environ or "VOILA_PREHEAT" in os.environ


def _output_notebook_lab_only(resources: Any) -> None:
    """``output_notebook`` without JupyterLab's copy of BokehJS (``application/vnd.bokehjs_load.v0+json``):
    Voila runs the ``application/javascript`` one, so the page carries BokehJS once instead of twice."""
    import bokeh.io.notebook as nb
    from bokeh.io import output_notebook

    original = nb.publish_display_data

    def lab_only(data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if nb.LOAD_MIME_TYPE in data and nb.JS_MIME_TYPE in data:
            data = {k: v for k, v in data.items() if k != nb.LOAD_MIME_TYPE}
        original(data, *args, **kwargs)

    nb.publish_display_data = lab_only  # type: ignore[assignment]
    try:
        output_notebook(resources, hide_banner=True)
    finally:
        nb.publish_display_data = original


def _same_columns(old: Any, new: dict[str, Any]) -> bool:
    if set(old) != set(new):
        return False
    for key, value in new.items():
        a, b = old[key], value
        if len(a) != len(b):
            return False
        if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
            a_arr, b_arr = np.asarray(a), np.asarray(b)
            if a_arr.dtype != b_arr.dtype or a_arr.shape != b_arr.shape:
                return False
            if a_arr.dtype.kind in "fc":
                if not np.array_equal(a_arr, b_arr, equal_nan=True):
                    return False
            elif a_arr.dtype == object:  # lists of arrays (images)
                if not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a_arr, b_arr)):
                    return False
            elif not np.array_equal(a_arr, b_arr):
                return False
        elif list(a) != list(b):
            return False
    return True


class Explorer:
    """Base of the liqtools widgets.

    Subclasses build their controls and the bokeh layout in its initial state, then call
    :meth:`_finish`. Each control change runs the registered handler once; the handler calls analysis
    functions and assigns ``source.data``. The ``BokehModel`` wrapping the layout is created only when the
    widget is first displayed (Voila loses model changes made between wrapping and page connection).

    Attributes
    ----------
    controls : dict[str, ipywidgets.Widget]
        The controls by name; set ``.value`` to drive the widget from Python.
    sources : dict[str, bokeh.models.ColumnDataSource]
        Every named data source of the plots.
    readout : ipywidgets.HTML
        The text under the plots (``readout_lines``: the same as plain strings, without the caveat).
    figure : bokeh.models.LayoutDOM
        The bokeh layout.
    last_refresh_ms : float
        How long the last refresh took (control change to sources assigned), in milliseconds.
    """

    def __init__(self) -> None:
        self.controls: dict[str, W.Widget] = {}
        self.sources: dict[str, ColumnDataSource] = {}
        self.readout = W.HTML()
        self.readout_lines: list[str] = []
        self.error = W.HTML()
        self.figure: LayoutDOM | None = None
        self.last_refresh_ms = float("nan")
        self.look = "light"
        self._handlers: list[Callable[[], None]] = []
        self._held: list[Callable[[], None]] | None = None
        self._deferred: list[Callable[[], None]] | None = None  # paused: refreshes waiting for flush/resume
        self._view: W.Box | None = None
        self._bokeh_model: Any = None
        self._patch_depth = 0
        self._later: list[Callable[[], None]] = []

    # -- wiring ----------------------------------------------------------------------------------------
    def _on_change(self, handler: Callable[[], None], *names: str) -> None:
        """Run ``handler`` whenever one of the named controls changes value."""
        if handler not in self._handlers:
            self._handlers.append(handler)
        for name in names:
            self.controls[name].observe(lambda _change, h=handler: self._run(h), names="value")

    def pause(self) -> None:
        """Defer refreshes (a dashboard tab that is not shown): they run, once each, at :meth:`flush` or :meth:`resume`."""
        if self._deferred is None:
            self._deferred = []

    def resume(self) -> None:
        """Refresh now for what changed while paused, and refresh at once from here on."""
        self.flush()
        self._deferred = None

    def flush(self) -> None:
        """Run the deferred refreshes (in their usual order); stays paused if it was."""
        if not self._deferred:
            return
        pending, self._deferred = self._deferred, None
        order = {h: i for i, h in enumerate(self._handlers)}
        try:
            with self._one_patch():
                for handler in sorted(pending, key=lambda h: order.get(h, len(order))):
                    self._run(handler)
        finally:
            self._deferred = []

    def _run(self, handler: Callable[[], None]) -> None:
        if self._deferred is not None:
            if handler not in self._deferred:
                self._deferred.append(handler)
            return
        if self._held is not None:
            if handler not in self._held:
                self._held.append(handler)
            return
        t0 = time.perf_counter()
        try:
            with self._one_patch():
                handler()
            self.error.value = ""
        except LiqtoolsError as exc:  # bad parameter combinations: say so, keep the last good picture
            self.error.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
        self.last_refresh_ms = (time.perf_counter() - t0) * 1e3

    @contextlib.contextmanager
    def _one_patch(self) -> Iterator[None]:
        """What the plots' sources and models change in this block reaches the page as one patch, drawn once;
        what :meth:`_after_patch` set aside then follows as a second one."""
        batch = getattr(self._bokeh_model, "batch", contextlib.nullcontext)  # not shown yet: nothing to batch
        self._patch_depth += 1
        try:
            with batch():
                yield
        finally:
            self._patch_depth -= 1
            if self._patch_depth == 0 and self._later:  # also after a failed refresh: what was sent gets its data
                later, self._later = self._later, []
                with batch():
                    for fn in later:
                        try:
                            fn()
                        except Exception as exc:  # noqa: BLE001 - shown, never hiding the refresh's own error
                            self.error.value = f"<span style='color:#b00'>{html.escape(f'{type(exc).__name__}: {exc}')}</span>"

    def _after_patch(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` right after the current refresh's patch (at once outside a refresh): data the page does
        not draw (a tooltip's cells) then does not delay what it draws."""
        if self._patch_depth == 0:
            fn()
        else:
            self._later.append(fn)

    def update(self, **params: Any) -> None:
        """Set several controls at once (by name) and refresh once.

        Example: ``explorer.update(price=75_000, split_share=0.6)``.
        """
        unknown = [k for k in params if k not in self.controls]
        if unknown:
            raise KeyError(f"unknown control(s) {unknown}; available: {sorted(self.controls)}")
        self._held = []
        try:
            for name, value in params.items():
                self.controls[name].value = value
        finally:
            pending, self._held = self._held, None
        paused = self._deferred  # an explicit update refreshes now, even on a hidden dashboard tab
        self._deferred = None
        order = {h: i for i, h in enumerate(self._handlers)}
        try:
            with self._one_patch():
                for handler in sorted(set(pending) | set(paused or ()), key=lambda h: order.get(h, len(order))):
                    self._run(handler)
        finally:
            self._deferred = [] if paused is not None else None

    def _finish(self, figure: LayoutDOM, controls_box: W.Widget) -> None:
        self.figure = figure
        for model in figure.select({"type": ColumnDataSource}):
            if model.name:
                self.sources[model.name] = model
        self._controls_box = controls_box

    def _assign(self, data: dict[str, dict[str, Any]]) -> None:
        """Assign each source's new columns; a source whose columns are unchanged is left alone, so the page
        receives (and BokehJS redraws) only what moved."""
        for name, cols in data.items():
            source = self.sources[name]
            if not _same_columns(source.data, cols):
                source.data = cols

    @staticmethod
    def _fit_ranges(ranges: dict[str, Any], values: dict[str, tuple[float, float]]) -> None:
        """Set each named ``Range1d`` to its ``(start, end)``, and the reset tool's target with it, when it moved
        (an unmoved range sends nothing to the page)."""
        for name, (start, end) in values.items():
            r = ranges[name]
            if (r.start, r.end, r.reset_start, r.reset_end) != (start, end, start, end):
                r.update(start=start, end=end, reset_start=start, reset_end=end)

    def set_look(self, look: str) -> None:
        """Restyle the plots in place: ``"light"`` or ``"dark"`` (:func:`liqtools.plotting.look.apply_look`)."""
        from liqtools.plotting.look import apply_look

        assert self.figure is not None
        apply_look(self.figure, look)  # type: ignore[arg-type]
        self.look = look

    def _set_readout(self, lines: list[str]) -> None:
        self.readout_lines = list(lines)
        body = "".join(f"<div>{html.escape(line)}</div>" for line in lines)
        self.readout.value = f"{body}<div style='color:#666;font-size:85%;margin-top:4px'>{html.escape(CAVEAT)}</div>"

    # -- display ---------------------------------------------------------------------------------------
    @property
    def widget(self) -> W.Box:
        """The ipywidgets layout (controls, plots, readout); wraps the bokeh layout on first access.

        Displaying the explorer itself (``explorer`` as a cell's last line) also loads BokehJS into the page
        once per kernel; if you ``display(explorer.widget)`` directly, or reload the page on the same kernel,
        call ``bokeh.io.output_notebook()`` first (jupyter_bokeh uses the page's BokehJS)."""
        if self._view is None:
            from liqtools.widgets._batch import BatchedBokehModel

            assert self.figure is not None
            self._bokeh_model = BatchedBokehModel(drop_echoes(self.figure))
            self._view = W.VBox([self._controls_box, self._bokeh_model, self.readout, self.error])
        return self._view

    def _ipython_display_(self) -> None:
        from IPython.display import display

        ensure_bokeh_loaded()
        display(self.widget)
