"""jupyter_bokeh's widget, sending all the changes of one refresh to the page as one patch.

jupyter_bokeh (4.1) sends every change of a bokeh document as its own patch: a heatmap refresh (image,
colour bars, liquidation bars, their ranges, the side map, the time line) became a dozen messages, and
the page applied and drew each on its own. :class:`BatchedBokehModel` collects the changes made inside
:meth:`~BatchedBokehModel.batch` and sends them at its end as one ``PATCH-DOC`` (the Bokeh server's own
message, which carries many events), which the page applies at once and draws once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bokeh.protocol import Protocol
from jupyter_bokeh import BokehModel

__all__ = ["BatchedBokehModel"]


class BatchedBokehModel(BokehModel):  # type: ignore[misc]
    """A ``jupyter_bokeh.BokehModel`` whose changes inside ``with widget.batch():`` reach the page together."""

    _batch: list[Any] | None = None
    _depth = 0
    _lock = threading.Lock()  # a live dashboard's poller thread changes sources too

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect document changes until the outermost ``batch`` ends, then send them as one patch (also
        when the block raises: what changed in Python is shown)."""
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._batch = []
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                events: list[Any] = []
                if self._depth == 0:
                    events, self._batch = self._batch or [], None
            if events:
                self._send_events(events)

    def _document_patched(self, event: Any) -> None:
        if event.setter is self:  # the page's own change, come back through Python
            return
        with self._lock:
            if self._batch is not None:
                self._batch.append(event)
                return
        self._send_events([event])

    def _send_events(self, events: list[Any]) -> None:
        """One ``PATCH-DOC`` message, in the parts jupyter_bokeh's page code reassembles."""
        msg = Protocol().create("PATCH-DOC", events)
        self.send({"msg": "patch", "payload": msg.header_json})
        self.send({"msg": "patch", "payload": msg.metadata_json})
        self.send({"msg": "patch", "payload": msg.content_json})
        for buffer in msg.buffers:
            self.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
            self.send({"msg": "patch"}, [buffer.to_bytes()])
