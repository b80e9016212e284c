"""The compiled loops behind the heatmap (liqtools.analysis._kernels through their _numeric wrappers),
each against a brute-force loop written from its contract."""

from __future__ import annotations

import numpy as np
import pytest

from liqtools.analysis._numeric import bins, first_at_or_below, span_sum
from liqtools.analysis.bins import bin_index, make_edges


def brute_first(x, start, thr):
    n = len(x)
    out = []
    for s, t in zip(start, thr):
        hits = [j for j in range(min(s, n), n) if x[j] <= t]
        out.append(hits[0] if hits else n)
    return np.array(out)


@pytest.mark.parametrize("seed", range(6))
def test_first_crossing_with_ordered_starts_as_the_heatmap_asks(seed):
    # the heatmap's queries: starts in order, several per candle, thresholds on both sides of the values
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    x = np.cumsum(rng.normal(size=n))
    start = np.sort(rng.integers(0, n + 1, 500))
    thr = x[np.minimum(start, n - 1)] + rng.normal(0, 3, 500)
    thr[::7] = x[rng.integers(0, n, len(thr[::7]))]  # exact ties
    assert np.array_equal(first_at_or_below(x, start, thr), brute_first(x, start, thr))


@pytest.mark.parametrize("seed", range(4))
def test_first_crossing_is_the_same_whatever_the_period(seed):
    # a leverage profile's levels: `tiers` per candle at fixed distances from its price, on a walk long enough
    # for deep stacks, so answers are found in the window around the hint, by galloping up and down from it
    # and at the stack's bottom and top; `period` only says where to look first
    rng = np.random.default_rng(seed)
    n, tiers = 3_000, 5
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    start = np.repeat(np.sort(rng.choice(n, 600, replace=False)), tiers)
    dist = np.tile([0.2, 0.1, 0.04, 0.02, 0.006], 600) * rng.uniform(0.5, 1.5, len(start))
    for above in (False, True):
        thr = x[start] * (1 + dist if above else 1 - dist)
        thr[::11] = x[rng.integers(0, n, len(thr[::11]))]  # exact ties with records
        sign = -1.0 if above else 1.0
        want = np.array([next((j for j in np.flatnonzero(sign * x[s + 1 :] <= sign * t)), n - s - 1) + s + 1 for s, t in zip(start, thr)])
        for period in (1, 2, tiers, 7, 10_000):
            got = first_at_or_below(x, start, thr, above=above, offset=1, period=period)
            assert np.array_equal(got, want), (above, period)


def test_first_crossing_edge_cases():
    x = np.array([3.0, 1.0, 2.0, 1.0, 0.5])
    assert first_at_or_below(x, np.array([], dtype=np.int64), np.array([])).shape == (0,)
    assert list(first_at_or_below(np.array([]), np.array([0, 0]), np.array([1.0, 2.0]))) == [0, 0]
    # start past the end, a tie with the first record, never reached, an unsorted batch
    got = first_at_or_below(x, np.array([9, 0, 0, 2, 1]), np.array([5.0, 3.0, 0.1, 1.0, 1.0]))
    assert list(got) == [5, 0, 5, 3, 1]


def test_bins_equal_bin_index_at_and_around_every_edge():
    rng = np.random.default_rng(3)
    for lo, hi, size in ((20_000.0, 200_000.0, 100.0), (0.1, 0.9, 0.0002), (1.0, 2.0, 0.3)):
        edges = make_edges(lo, hi, size)
        at = np.repeat(edges, 3) + np.tile([0.0, -1e-9 * size, 1e-9 * size], len(edges))
        prices = np.concatenate([at, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf), rng.uniform(lo - size, hi + size, 5000)])
        assert np.array_equal(bins(prices, edges), bin_index(prices, edges)), (lo, hi, size)


def brute_span(start, stop, col, is_long, value, created, log_j, row_log, rows, n_cols, every, cls=None, j=0):
    out = np.zeros((2, len(row_log), n_cols))
    for i in range(len(value)):
        c = col[0] if len(col) == 1 else col[i]
        if not 0 <= c < n_cols or (cls is not None and cls[i] != j):
            continue
        for r in range(start[i] // every, min(stop[i] // every, len(row_log))):
            out[0 if is_long[i] else 1, r, c] += value[i] * np.exp(row_log[r] - log_j[created[i]])
    return out


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("epoch_nats", [600.0, 0.5])
def test_span_sum_equals_the_sum_over_rows(monkeypatch, every, epoch_nats):
    from liqtools.analysis import _numeric

    monkeypatch.setattr(_numeric, "_EPOCH_NATS", epoch_nats)  # 0.5: many epochs, pieces spanning several
    rng = np.random.default_rng(int(epoch_nats) + every)
    n, k, n_cols = 90, 400, 7
    log_j = np.concatenate([[0.0], np.cumsum(-rng.exponential(0.05, n - 1))])
    rows = np.arange(every - 1, n, every)
    created = rng.integers(0, n, k)
    stop = np.minimum(created + rng.integers(1, 60, k), n)
    col = rng.integers(-1, n_cols + 1, k).astype(np.int32)  # some outside the columns
    is_long, value, cls = rng.random(k) < 0.5, rng.uniform(1, 10, k), rng.integers(0, 2, k)
    got = span_sum(created, stop, col, is_long, value, created, log_j, log_j[rows], n_cols, every=every, cls=cls, j=1)
    want = brute_span(created, stop, col, is_long, value, created, log_j, log_j[rows], rows, n_cols, every, cls, 1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * value.sum())
    # one column for all pieces (the heatmap's active notional per candle), every class
    one = span_sum(created, stop, np.zeros(1, np.int32), is_long, value, created, log_j, log_j[rows], 1, every=every)
    want = brute_span(created, stop, np.zeros(1, np.int32), is_long, value, created, log_j, log_j[rows], rows, 1, every)
    np.testing.assert_allclose(one, want, rtol=1e-12, atol=1e-12 * value.sum())


def test_span_sum_bins_prices_in_its_own_pass():
    # edges= bins each piece's price inside the pass: the same sums as binning first, edges included
    rng = np.random.default_rng(7)
    n, k = 60, 500
    edges = np.linspace(10.0, 20.0, 11)
    price = np.concatenate([rng.uniform(9.0, 21.0, k - 13), edges, [np.nan, 20.5]])  # every edge, above, NaN
    log_j = np.concatenate([[0.0], np.cumsum(-rng.exponential(0.05, n - 1))])
    created = rng.integers(0, n, k)
    stop = np.minimum(created + rng.integers(1, 40, k), n)
    is_long, value = rng.random(k) < 0.5, rng.uniform(1, 10, k)
    rows = np.arange(2, n, 3)
    want = span_sum(created, stop, bins(price, edges), is_long, value, created, log_j, log_j[rows], 10, every=3)
    got = span_sum(created, stop, np.zeros(1, np.int32), is_long, value, created, log_j, log_j[rows], 10, every=3, price=price, edges=edges)
    assert want.sum() > 0 and np.array_equal(got, want)
    with pytest.raises(ValueError, match="both price= and edges="):
        span_sum(created, stop, np.zeros(1, np.int32), is_long, value, created, log_j, log_j[rows], 10, edges=edges)
    with pytest.raises(ValueError, match="edges must bound"):
        span_sum(created, stop, np.zeros(1, np.int32), is_long, value, created, log_j, log_j[rows], 9, price=price, edges=edges)


def test_span_sum_adds_into_a_given_result():
    # a mix of classes: each class's sums added to the running result as they finish, bit for bit the sum
    rng = np.random.default_rng(11)
    n, k, n_cols = 50, 300, 6
    log_j = np.concatenate([[0.0], np.cumsum(-rng.exponential(0.05, n - 1))])
    created = rng.integers(0, n, k)
    stop = np.minimum(created + rng.integers(1, 30, k), n)
    col, is_long = rng.integers(0, n_cols, k).astype(np.int32), rng.random(k) < 0.5
    value, cls = rng.uniform(1, 10, k), rng.integers(0, 2, k)
    args = (created, stop, col, is_long, value, created, log_j, log_j, n_cols)
    first, second = (span_sum(*args, cls=cls, j=j) for j in (0, 1))
    got = span_sum(*args, cls=cls, j=1, into=first.copy())
    assert np.array_equal(got, first + second)
    none = np.zeros(0, dtype=np.int64)
    empty = span_sum(none, none, col[:0], is_long[:0], value[:0], none, log_j, log_j, n_cols, into=first.copy())
    assert np.array_equal(empty, first)  # no pieces: the given result unchanged
    with pytest.raises(ValueError, match="into must have shape"):
        span_sum(*args, into=np.zeros((2, n, n_cols + 1)))


def test_span_sum_restarts_after_a_break_and_ignores_empty_input():
    # everything created before candle 4 ends there (a complete closing): rows from 4 on restart clean
    log_j = np.array([0.0, -1.0, -2.0, -3.0, 0.0, -0.5, -1.0])
    created, stop = np.array([0, 1, 4, 5]), np.array([4, 4, 7, 6])
    value, col, is_long = np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4, np.int32), np.ones(4, bool)
    got = span_sum(created, stop, col, is_long, value, created, log_j, log_j, 1, breaks=np.array([4]))
    want = brute_span(created, stop, col, is_long, value, created, log_j, log_j, np.arange(7), 1, 1)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert got[1, :, 0].sum() == 0 and got[0, 4:, 0].tolist() == pytest.approx([3.0, 3.0 * np.exp(-0.5) + 4.0, 3.0 * np.exp(-1.0)])
    assert span_sum(created[:0], stop[:0], col[:0], is_long[:0], value[:0], created[:0], log_j, log_j, 2).shape == (2, 7, 2)


@pytest.mark.parametrize(
    "options",
    [{}, {"half_life_mix": [(0.4, "6h"), (0.6, None)]}, {"near_cut": (0.01, 0.3)}, {"near_cut": (0.01, 1.0), "turnover": 0.01}],
)
def test_liquidated_per_candle_equals_the_levels_own_values(options):
    from liqtools import load_sample
    from liqtools.analysis._build import model_levels
    from liqtools.analysis._numeric import liquidated_per_candle
    from liqtools.analysis.ingredients import ModelOptions
    from liqtools.analysis.profile import LeverageProfile
    from liqtools.schema import validate_market

    df = validate_market(load_sample())
    lv, log_factor, _ = model_levels(df, LeverageProfile.default(), ModelOptions.build(**options))
    hit, value = lv.liquidated_value(log_factor)
    want = np.stack([np.bincount(lv.consumed[hit][side], value[side], len(df)) for side in (lv.is_long[hit], ~lv.is_long[hit])])
    got = liquidated_per_candle(lv, log_factor)
    assert want.sum() > 0
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-6)


def test_nan_is_never_turned_into_a_number():
    # unreachable from validated frames, but a NaN must surface as the numpy code gave it, not vanish
    from liqtools.analysis._kernels import finish_rows

    assert list(first_at_or_below(np.array([1.0, 2.0]), np.array([0, 0]), np.array([np.nan, 1.5]))) == [2, 0]
    assert bins(np.array([np.nan, 15.0]), np.array([10.0, 20.0])).tolist() == [-1, 0]
    m = np.array([[np.nan, -1.0], [1.0, 2.0]])
    none = np.zeros(0, dtype=np.int64)
    finish_rows(m, np.ones(2), np.zeros((0, 2)), none, none)
    assert np.isnan(m[:, 0]).all() and m[:, 1].tolist() == [0.0, 1.0]
    m = np.array([[np.nan, -1.0], [0.0, 2.0]])
    finish_rows(m, np.ones(2), np.zeros((0, 2)), np.array([0, 1]), np.array([2, 2]))  # over written columns
    assert np.isnan(m[:, 0]).all() and m[:, 1].tolist() == [0.0, 1.0]
    m = np.array([[-1e-310, 1.0]])  # a negative residue times a small factor underflows: +0.0, never -0.0
    finish_rows(m, np.array([1e-20]), np.zeros((0, 2)), none, none)
    assert m[0, 0] == 0.0 and not np.signbit(m[0, 0])


def _written(d):
    nz = d != 0  # a NaN counts as written
    some = nz.any(axis=1)
    return np.where(some, nz.argmax(axis=1), d.shape[1]), np.where(some, d.shape[1] - nz[:, ::-1].argmax(axis=1), 0)


@pytest.mark.parametrize("seed", range(5))
def test_finish_rows_over_the_written_columns_is_the_whole_row_bit_for_bit(seed):
    # pieces entering and leaving a wide grid: their sums leave rounding residues that must carry down
    from liqtools.analysis._kernels import finish_rows

    rng = np.random.default_rng(seed)
    rows, n_cols = 60, 40
    d = np.zeros((rows, n_cols))
    for _ in range(150):
        a, c, w = rng.integers(0, rows), rng.integers(0, n_cols), rng.uniform(0.1, 1e6)
        b = a + rng.integers(1, 30)
        d[a, c] += w
        if b < rows:
            d[b, c] -= w
    if seed == 1:
        d[20, 33] = np.nan
    factor = np.exp(-np.cumsum(rng.exponential(0.1, rows)))
    none, into = np.zeros(0, dtype=np.int64), rng.uniform(0, 1, (rows, n_cols))
    lo, hi = _written(d)
    for f in (factor, np.where(np.arange(rows) == 9, np.inf, factor)):  # inf: a row where 0 * f is not 0
        whole = finish_rows(d.copy(), f, np.zeros((0, n_cols)), none, none)
        assert np.array_equal(finish_rows(d.copy(), f, np.zeros((0, n_cols)), lo, hi), whole, equal_nan=True)
        added = finish_rows(d.copy(), f, into.copy(), none, none)
        assert np.array_equal(finish_rows(d.copy(), f, into.copy(), lo, hi), added, equal_nan=True)
    residue = (whole > 0) & (whole < 1e-6)  # sums that did not cancel to 0 carried to later rows
    assert residue.any() and (lo > 0).any() and (hi < n_cols).any()



def _as_spans(d, first):
    """``d`` in the column-span layout of ``side_pass``: each column's rows from ``first[c]`` on, the columns
    in a shuffled order (the order the pass meets them)."""
    rows, n_cols = d.shape
    start, at = np.zeros(n_cols, dtype=np.int64), 0
    for c in np.random.default_rng(0).permutation(n_cols):
        start[c] = at
        at += rows - first[c]
    vals = np.zeros(at)
    for c in range(n_cols):
        vals[start[c] : start[c] + rows - first[c]] = d[first[c] :, c]
    return vals, start


@pytest.mark.parametrize("seed", range(5))
def test_finish_spans_is_finish_rows_bit_for_bit(seed):
    # the same pieces as above, each column stored from its first entry on: the sums, residues carried to
    # the last row, a NaN, and the sums added into a later class's result, equal the whole matrix's
    from liqtools.analysis._kernels import finish_rows
    from liqtools.analysis._side_kernels import finish_spans
    from liqtools.analysis.snapshots import ColumnSpans

    rng = np.random.default_rng(seed)
    rows, n_cols = 60, 40
    d, first, hi = np.zeros((rows, n_cols)), np.full(n_cols, rows, dtype=np.int64), np.zeros(n_cols, dtype=np.int64)
    for _ in range(150):
        a, c, w = rng.integers(0, rows), rng.integers(0, n_cols - 5), rng.uniform(0.1, 1e6)  # 5 columns stay empty
        b = a + rng.integers(1, 30)
        d[a, c] += w
        first[c], hi[c] = min(first[c], a), max(hi[c], b + 1 if b < rows else a + 1)  # as side_pass keeps them
        if b < rows:
            d[b, c] -= w
    if seed == 1:
        d[20, 33] = np.nan
        first[33], hi[33] = min(first[33], 20), max(hi[33], 21)
    factor = np.exp(-np.cumsum(rng.exponential(0.1, rows)))
    none = np.zeros(0, dtype=np.int64)
    whole = finish_rows(d.copy(), factor, np.zeros((0, n_cols)), none, none)
    vals, start = _as_spans(d, first)
    finish_spans(vals, first, start, hi, factor, np.zeros(0))
    assert np.array_equal(ColumnSpans(first, start, vals, rows).dense(), whole, equal_nan=True)
    earlier = rng.uniform(0, 1, (rows, n_cols)) * (np.arange(rows)[:, None] >= first)  # a class summed before
    added = finish_rows(d.copy(), factor, earlier.copy(), none, none)
    into, _ = _as_spans(earlier, first)
    vals, _ = _as_spans(d, first)
    finish_spans(vals, first, start, hi, factor, into)
    assert np.array_equal(ColumnSpans(first, start, into, rows).dense(), added, equal_nan=True)
    assert ((whole > 0) & (whole < 1e-6)).any()  # residues carried past the last difference

@pytest.mark.parametrize(
    "split, weights, sensitivity",
    [("both", None, 0.0), ("candle", {2: 0.0, 10: 0.6, 125: 0.4}, 0.0), ("both", None, 0.7), ("candle", {2: 0.5, 125: 0.5}, 30.0)],
)
def test_compiled_levels_are_the_array_levels_bit_for_bit(split, weights, sensitivity):
    # the default model's levels from one compiled pass equal numpy's broadcasts exactly, zero-notional
    # levels (a zero weight, a candle's zero side share) left out alike; with crowding, each tier's leverage
    # scaled per candle (a large sensitivity clips it at 1 and at its cap)
    from liqtools import load_sample
    from liqtools.analysis._build import _levels_by_arrays, model_levels
    from liqtools.analysis.ingredients import Crowding, ModelOptions, oi_changes, split_fractions
    from liqtools.analysis.profile import LeverageProfile, as_profile
    from liqtools.schema import validate_market

    df = validate_market(load_sample())
    profile = as_profile(weights) if weights else LeverageProfile.default()
    opts = ModelOptions.build(split=split, crowding=Crowding("funding", sensitivity, window=48) if sensitivity else None)
    high, low, close = (df[c].to_numpy() for c in ("high", "low", "close"))
    a, b = split_fractions(df, opts.split)
    new_oi = np.maximum(oi_changes(df["oi_usd"].to_numpy())[0], 0.0)
    opened = np.flatnonzero(new_oi > 0)
    for with_tier in (False, True):  # with each level's tier too (liquidated_by_tier, calibration)
        lv = model_levels(df, profile, opts, with_tier=with_tier)[0]  # the compiled pass, one side per thread when large
        got = (lv.price, lv.notional, lv.created, lv.is_long, int(lv.is_long.sum()), lv.tier)
        want = _levels_by_arrays(df, opts, profile, high, low, close, opened, new_oi, a, b, with_tier)[:6]
        assert got[4] == want[4] > 0  # as many longs
        if weights:  # some levels had no notional
            assert len(got[0]) < 2 * len(opened) * len(profile)
        for g, w in zip(got[:4], want[:4]):
            assert g.dtype == w.dtype and np.array_equal(g, w)
        assert (got[5] is None and want[5] is None) if not with_tier else (got[5].dtype == np.int64 and np.array_equal(got[5], want[5]))


def test_one_level_of_a_later_class_is_valued_with_its_own_closing():
    # a single level, of the second closing class: its liquidation takes that class's closing factor
    import pandas as pd

    from liqtools import liquidation_heatmap
    from liqtools.analysis.heatmap import liquidated_by_tier

    index = pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC")
    df = pd.DataFrame({"open": 100.0, "high": 101.0, "low": [99.0, 99.0, 99.0, 99.0, 80.0, 99.0], "close": 100.0,
                       "volume": 1.0, "oi_usd": [1e6, 2e6, 1.9e6, 1.9e6, 1.9e6, 1.9e6]}, index=index)
    options = {"split": 1.0, "half_life_mix": [(0.0, None), (1.0, "1h")]}
    hm = liquidation_heatmap(df, leverage=10, **options)
    hit, value = hm._levels.liquidated_value(hm._log_factor)
    assert hit.sum() == 1 and len(hm._levels.created) == 1
    long, _ = liquidated_by_tier(df, np.array([10.0]), **options)
    assert hm.liquidated["long_usd"].iloc[4] == pytest.approx(value[0]) == pytest.approx(long[4, 0])
    assert value[0] == pytest.approx(1e6 * 0.95 * 0.5 ** 2)  # opened 1e6, then 0.95 of it, two 1h half-lives
