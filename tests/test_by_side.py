"""One pass over each side's levels of each class (liqtools.analysis._by_side) against the general passes: the same
pictures and active notional bit for bit wherever the model allows it, the liquidated notional to the last
digits, and the general passes wherever it does not."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from liqtools import liquidation_heatmap, load_sample
from liqtools.analysis import _numeric, heatmap
from liqtools.analysis.snapshots import ColumnSpans


def _general(monkeypatch, df, **options):
    with monkeypatch.context() as m:
        m.setattr(heatmap, "sides_at_once", lambda *args: None)
        return liquidation_heatmap(df, **options)


def _taken(monkeypatch, df, **options):
    taken = []
    real = heatmap.sides_at_once

    def spy(*args):
        out = real(*args)
        taken.append(out is not None)
        return out

    with monkeypatch.context() as m:
        m.setattr(heatmap, "sides_at_once", spy)
        hm = liquidation_heatmap(df, **options)
    return hm, taken == [True]


def _same(a, b):
    assert np.array_equal(a.long, b.long) and np.array_equal(a.short, b.short)
    exact = ["opened_long_usd", "opened_short_usd", "active_long_usd", "active_short_usd"]
    assert a.flows[exact].equals(b.flows[exact])
    # the liquidated notional: one exp per candle against one per level, the same to 1e-12 (the closed
    # notional follows from it, so it is the same to 1e-12 of the candle's flows)
    liq_a, liq_b = a.liquidated.to_numpy(), b.liquidated.to_numpy()
    assert np.array_equal(liq_a == 0, liq_b == 0)
    np.testing.assert_allclose(liq_a, liq_b, rtol=1e-12, atol=0)
    scale = np.abs(b.flows.to_numpy()).max(axis=1, keepdims=True)
    assert (np.abs(a.flows.to_numpy() - b.flows.to_numpy()) <= 1e-12 * scale).all()
    assert a.liquidated.columns.equals(b.liquidated.columns) and a.flows.columns.equals(b.flows.columns)
    assert a.long.sum() > 0 and a.short.sum() > 0 and liq_a.sum() > 0


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bin_size": 50.0, "every": 7},
        {"half_life": "7D", "turnover": 0.01},
        {"half_life": 3.0},  # the logs fall by some 500 nats, within one epoch: the widest factors it takes
        {"split": "candle", "leverage": {2: 0.0, 10: 0.6, 125: 0.4}},  # a zero weight: a gap between the sides
        {"consume_margin": 0.002, "price_range": (60_000.0, 70_000.0)},  # levels outside the bins
        {"entry": "path"},
        {"half_life_mix": [(0.5, "6h"), (0.5, None)]},  # two closing classes
        {"near_cut": (0.01, 0.3)},  # a cut level is two pieces
        {"near_cut": (0.02, 1.0), "half_life_mix": [(0.3, "2D"), (0.3, "7D"), (0.4, None)], "turnover": 0.01},
    ],
)
@pytest.mark.parametrize("threads", [False, True])
def test_one_pass_a_side_is_the_general_passes(monkeypatch, options, threads):
    df = load_sample()
    if threads:  # the sample is small: force the two threads the year would use
        monkeypatch.setattr(_numeric, "PARALLEL_LEVELS", 0)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    fast, taken = _taken(monkeypatch, df, **options)
    assert taken
    _same(fast, _general(monkeypatch, df, **options))


@pytest.mark.parametrize(
    "options",
    [
        {"half_life": 1e-320},  # complete closings: every level ends at once
        {"half_life_mix": [(0.5, 1e-320), (0.5, None)]},  # one class closes completely
        {"half_life": 2.0},  # logs past one epoch
    ],
)
def test_the_general_passes_serve_what_one_pass_cannot(monkeypatch, options):
    df = load_sample()
    hm, taken = _taken(monkeypatch, df, **options)
    assert not taken
    general = _general(monkeypatch, df, **options)
    assert np.array_equal(hm.long, general.long) and hm.flows.equals(general.flows)


def test_the_snapshots_keep_each_bin_from_its_first_level_on(monkeypatch):
    # a wide price range: most bins never hold a level, and those that do start holding one at some row
    df = load_sample()
    hm, taken = _taken(monkeypatch, df, price_range=(1_000.0, 400_000.0), bin_size=250.0)
    assert taken
    spans = hm._long
    assert spans.values.size < 0.5 * hm.long.size  # what is stored, against the whole matrix
    dense = hm.long
    for c in range(dense.shape[1]):  # above its first row a bin is 0; from there its column is stored
        r0 = int(spans.first[c])
        assert not dense[:r0, c].any()
        assert r0 == len(hm.times) or dense[r0, c] > 0
    for r in (0, len(hm.times) // 2, len(hm.times) - 1):  # one row read without building the matrix
        snap = hm.snapshot(r)
        assert np.array_equal(snap["long_usd"].to_numpy(), dense[r]) and np.array_equal(snap["short_usd"].to_numpy(), hm.short[r])
    assert hm.long is hm.long and hm._long is hm.long  # built once, and it replaces the stored columns
    assert np.array_equal(_general(monkeypatch, df, price_range=(1_000.0, 400_000.0), bin_size=250.0).long, dense)


def test_levels_out_of_creation_order_take_the_general_passes(monkeypatch):
    # the spans give a bin its place when its first level enters; a later level entering above it cannot
    # be stored there, so the one pass gives up and the general passes answer
    df = load_sample()
    real_levels = heatmap.model_levels

    def reversed_longs(*args, **kwargs):
        lv, log_factor, series = real_levels(*args, **kwargs)
        order = np.arange(len(lv.created))
        n_long = int(lv.is_long.sum())
        order[:n_long] = order[:n_long][::-1]
        fields = {f: getattr(lv, f)[order] for f in ("created", "consumed", "end", "price", "notional", "is_long")}
        return dataclasses.replace(lv, **fields), log_factor, series

    monkeypatch.setattr(heatmap, "model_levels", reversed_longs)
    hm, taken = _taken(monkeypatch, df)
    assert not taken
    monkeypatch.undo()
    assert np.allclose(hm.long, liquidation_heatmap(df).long, rtol=1e-12, atol=1e-6)


def test_the_whole_matrix_once_built_is_the_heatmap_s_own(monkeypatch):
    # built from the columns, it replaces them: a write shows in snapshot() and extend(), as with a
    # heatmap that always held the matrices, and a pickle holds one copy
    df = load_sample()
    hm, taken = _taken(monkeypatch, df.iloc[:-24])
    assert taken and isinstance(hm._short, ColumnSpans)
    stored, spans = len(pickle.dumps(hm)), hm._long.values.nbytes + hm._short.values.nbytes
    hm.long[3] = 0.0
    assert not hm.snapshot(3)["long_usd"].any()
    assert not hm.extend(df.iloc[-24:]).long[3].any()
    hm.short  # noqa: B018
    whole = hm.long.nbytes + hm.short.nbytes
    assert len(pickle.dumps(hm)) < stored - spans + whole + 10_000
