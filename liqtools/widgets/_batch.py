"""jupyter_bokeh's widget, sending all the changes of one refresh to the page as one patch.

jupyter_bokeh (4.1) sends every change of a bokeh document as its own patch: a heatmap refresh (image,
colour bars, liquidation bars, their ranges, the side map, the time line) became a dozen messages, and
the page applied and drew each on its own. :class:`BatchedBokehModel` collects the changes made inside
:meth:`~BatchedBokehModel.batch` and sends them at its end as one ``PATCH-DOC`` (the Bokeh server's own
message, which carries many events), which the page applies at once and draws once.

Each array the patch carries goes as two more messages (its reference, then its bytes), and every message
costs the server and the page about a millisecond: a heatmap refresh (two patches) was 40 messages. Arrays under
:data:`INLINE_BYTES` now travel inside the patch's content, gzipped and base64-encoded as Bokeh does when it does not
defer buffers; only the picture and the tooltip's cells still go as binary buffers (12 messages).

Threads: a batch collects the changes of the thread that opened it; another thread's changes (a live
dashboard's poller) are sent at once. Each patch goes out in several comm messages, so sending holds a
lock: two threads' patches never interleave their parts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bokeh.core.serialization import Buffer, BytesRep, Serializer
from bokeh.document.events import ColumnDataChangedEvent, ColumnsPatchedEvent, ColumnsStreamedEvent, ModelChangedEvent
from bokeh.document.json import PatchJson
from bokeh.protocol.messages.patch_doc import patch_doc
from bokeh.util.serialization import make_id
from jupyter_bokeh import BokehModel

__all__ = ["INLINE_BYTES", "BatchedBokehModel", "patch_message"]

INLINE_BYTES = 64 * 1024  # arrays smaller than this ride in the patch's JSON (base64) instead of as buffers


class BatchedBokehModel(BokehModel):  # type: ignore[misc]
    """A ``jupyter_bokeh.BokehModel`` whose changes inside ``with widget.batch():`` reach the page together."""

    _batch: list[Any] | None = None
    _owner: int | None = None  # the thread whose batch is open
    _depth = 0
    _send_lock: threading.RLock | None = None

    def _lock(self) -> threading.RLock:
        if self._send_lock is None:
            self._send_lock = threading.RLock()
        return self._send_lock

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect this thread's document changes until the outermost ``batch`` ends, then send them as one
        patch (also when the block raises: what changed in Python is shown)."""
        me = threading.get_ident()
        with self._lock():
            foreign = self._depth > 0 and self._owner != me  # another thread's batch is open: send as usual
            if not foreign:
                self._depth += 1
                if self._depth == 1:
                    self._batch, self._owner = [], me
        if foreign:
            yield
            return
        try:
            yield
        finally:
            with self._lock():
                self._depth -= 1
                if self._depth == 0:
                    events, self._batch, self._owner = self._batch or [], None, None
                    if events:
                        self._send_events(events)

    def _document_patched(self, event: Any) -> None:
        if event.setter is self:  # the page's own change, come back through Python
            return
        with self._lock():
            if self._batch is not None and self._owner == threading.get_ident():
                if not _superseded(event, self._batch):
                    self._batch.append(event)
                return
            self._send_events([event])

    def _send_events(self, events: list[Any]) -> None:
        """One ``PATCH-DOC`` message, in the parts jupyter_bokeh's page code reassembles (under the lock)."""
        with self._lock():
            msg = patch_message(events)
            self.send({"msg": "patch", "payload": msg.header_json})
            self.send({"msg": "patch", "payload": msg.metadata_json})
            self.send({"msg": "patch", "payload": msg.content_json})
            for buffer in msg.buffers:
                self.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
                self.send({"msg": "patch"}, [buffer.to_bytes()])


def _superseded(event: Any, pending: list[Any]) -> bool:
    """A stream or patch of a source whose whole data is already waiting in the batch: that change is sent
    with the data as it is when the batch ends, these rows included, so sending the stream too would add
    them twice."""
    if not isinstance(event, ColumnsStreamedEvent | ColumnsPatchedEvent):
        return False
    return any(
        p.model is event.model
        and (isinstance(p, ColumnDataChangedEvent) or (isinstance(p, ModelChangedEvent) and p.attr == "data"))
        for p in pending
    )


class _InlineSmall(Serializer):
    """Bokeh's serializer, deferring to binary buffers only the arrays of :data:`INLINE_BYTES` or more."""

    def _encode_bytes(self, obj: bytes | memoryview) -> BytesRep:
        if memoryview(obj).nbytes >= INLINE_BYTES:
            return super()._encode_bytes(obj)
        return BytesRep(type="bytes", data=Buffer(make_id(), obj).to_base64())


def patch_message(events: list[Any]) -> patch_doc:
    """The ``PATCH-DOC`` message of ``events`` (one document's), as ``bokeh.protocol.Protocol().create`` makes
    it but with small arrays inline (BokehJS decodes either form the same way)."""
    docs = {event.document for event in events}
    if len(docs) != 1:
        raise ValueError(f"one patch carries one document's events, not {len(docs)} documents'")
    (doc,) = docs
    serializer = _InlineSmall(references=doc.models.synced_references)
    content = PatchJson(events=serializer.encode(events))
    doc.models.flush_synced(lambda model: not serializer.has_ref(model))
    msg = patch_doc(patch_doc.create_header(), {}, content)
    msg.add_buffers(*serializer.buffers)
    return msg
