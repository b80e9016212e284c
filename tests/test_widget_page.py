"""The link between a widget and its page: no echoes of the kernel's changes, one patch per refresh, the
tooltip's data after the picture, streams never sent twice, another thread's changes never held."""

import pytest
from bokeh.document import Document

import liqtools as lt
from liqtools.widgets import HeatmapExplorer, MapExplorer


@pytest.fixture(scope="module")
def sample():
    return lt.load_sample()


def test_the_page_is_told_not_to_echo_the_kernels_changes(sample):
    from bokeh.plotting import figure

    from liqtools.widgets._echo import drop_echoes

    fig = figure()
    assert drop_echoes(drop_echoes(fig)) is fig  # idempotent: one callback on the figure's new document
    (callback,) = fig.document.callbacks.js_event_callbacks["document_ready"]
    assert "event.sync === false" in callback.code and callback.args["root"] is fig
    other = figure()
    doc = Document()
    doc.add_root(other)
    drop_echoes(other)
    assert other.document is doc and len(doc.callbacks.js_event_callbacks["document_ready"]) == 1
    ex = MapExplorer(sample)
    _ = ex.widget  # the BokehModel wraps a figure whose document carries the callback
    assert len(ex.figure.document.callbacks.js_event_callbacks["document_ready"]) == 1


def test_one_refresh_reaches_the_page_as_one_patch(sample):
    import json

    from liqtools.widgets._batch import BatchedBokehModel

    ex = HeatmapExplorer(sample)
    _ = ex.widget
    model = ex._bokeh_model
    assert isinstance(model, BatchedBokehModel)
    sent = []
    model.send = lambda content, buffers=None: sent.append(content)

    def patches():
        return [json.loads(m["payload"]) for m in sent if "payload" in m and '"events"' in m["payload"]]

    ex.controls["w100x"].value = 5  # the heatmap, colour bars, bars, ranges and side map: one patch
    patch, cells = patches()  # then the tooltip's cells, which the page does not draw
    changed = {e.get("attr") for e in patch["events"]}
    assert len(patch["events"]) >= 5 and "data" in changed and {"low", "high"} <= changed
    ids = {name: ex.sources[name].id for name in ("heatmap_image", "heatmap_cells")}
    assert ids["heatmap_image"] in json.dumps(patch) and ids["heatmap_cells"] not in json.dumps(patch)
    assert [e["model"]["id"] for e in cells["events"]] == [ids["heatmap_cells"]]
    sent.clear()
    ex.sources["side_price"].data = {"x": [1.0]}  # outside a refresh: sent at once, as before
    ex.sources["heatmap_time"].data = {"x": [2.0]}
    assert len(patches()) == 2
    sent.clear()
    with pytest.raises(RuntimeError), model.batch():
        ex.sources["side_price"].data = {"x": [3.0]}
        raise RuntimeError("a failing refresh still shows what changed")
    assert len(patches()) == 1


def test_a_batch_never_sends_streamed_rows_twice_nor_holds_another_threads_changes(sample):
    import json
    import threading

    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    from liqtools.widgets._batch import BatchedBokehModel

    fig = figure()
    src = ColumnDataSource({"x": [0.0]})
    fig.scatter("x", "x", source=src)
    model = BatchedBokehModel(fig)
    sent = []
    model.send = lambda content, buffers=None: sent.append(content)

    def events():
        return [e for m in sent if "payload" in m and '"events"' in m["payload"] for e in json.loads(m["payload"])["events"]]

    with model.batch():
        src.data = {"x": [1.0, 2.0, 3.0]}
        src.stream({"x": [4.0]})  # already in the data the batch sends at its end
    (event,) = events()
    assert event["kind"] == "ColumnDataChanged" and "ColumnsStreamed" not in json.dumps(sent)
    sent.clear()
    with model.batch():
        src.stream({"x": [5.0]})  # no whole-data change pending: the stream is sent
    assert [e["kind"] for e in events()] == ["ColumnsStreamed"]
    sent.clear()
    with model.batch():
        src.data = {"x": [6.0]}
        other = threading.Thread(target=lambda: src.stream({"x": [7.0]}))  # a poller's change: sent at once
        other.start()
        other.join()
        assert [e["kind"] for e in events()] == ["ColumnsStreamed"]
    assert [e["kind"] for e in events()] == ["ColumnsStreamed", "ColumnDataChanged"]


def test_a_patch_sends_only_large_arrays_as_buffers_and_the_page_decodes_the_same_columns(sample):
    """Reassembled as the page's code does (Bokeh's protocol receiver, one fragment per comm message), a
    refresh's two patches decode to the sources' data; arrays under INLINE_BYTES travel inside the JSON."""
    import asyncio

    import numpy as np
    from bokeh.core.serialization import Deserializer, Serialized
    from bokeh.protocol import Protocol
    from bokeh.protocol.receiver import Receiver

    from liqtools.widgets._batch import INLINE_BYTES

    ex = HeatmapExplorer(sample)
    _ = ex.widget
    sent = []
    ex._bokeh_model.send = lambda content, buffers=None: sent.append((content, buffers))
    ex.controls["w100x"].value = 7
    receiver, messages = Receiver(Protocol()), []
    for content, buffers in sent:
        message = asyncio.run(receiver.consume(content["payload"] if "payload" in content else buffers[0]))
        if message is not None:
            messages.append(message)
    assert len(messages) == 2 and len(sent) == 3 + 2 * 1 + 3 + 2 * 2  # the picture; then the tooltip's two cell arrays
    assert all(len(b.data) >= INLINE_BYTES for m in messages for b in m.buffers)
    decoded = {}
    for m in messages:
        events = Deserializer(list(ex.figure.document.models)).deserialize(Serialized(content=m.content, buffers=m.buffers))
        decoded.update({e["model"].name: e["data"] for e in events["events"] if e["kind"] == "ColumnDataChanged"})
    assert {"heatmap_image", "heatmap_cells", "side_bars", "side_cumulative"} <= set(decoded)
    for name in ("side_bars", "side_cumulative", "heatmap_image", "heatmap_cells"):
        for column, values in ex.sources[name].data.items():
            got, want = decoded[name][column], values
            pairs = zip(got, want) if isinstance(want, list) and want and isinstance(want[0], np.ndarray) else [(got, want)]
            for g, w in pairs:  # bit for bit (the map's empty bins are NaN in both)
                g, w = np.asarray(g), np.asarray(w)
                assert g.dtype == w.dtype and (np.array_equal(g, w, equal_nan=True) if g.dtype.kind == "f" else np.array_equal(g, w)), (name, column)
