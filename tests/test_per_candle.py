"""The compiled per-candle loops (liqtools.analysis._per_candle) against the numpy expressions they replace,
bit for bit, and the huge-page-aligned arrays they write into (liqtools.analysis._memory)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqtools.analysis._memory import HUGE_PAGE, big_empty, big_zeros
from liqtools.analysis._per_candle import carry_oi, flows_of_side, positive_at


def awkward(n, seed):
    rng = np.random.default_rng(seed)
    x = 5e9 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    x[: rng.integers(0, 5)] = np.nan  # unknown at the start
    x[rng.integers(0, n, n // 10)] = np.nan
    x[rng.integers(1, n, n // 10)] = x[rng.integers(0, n, n // 10)]
    return x


@pytest.mark.parametrize("seed", range(4))
def test_carry_oi_is_ffill_and_differences(seed):
    oi = awkward(3_000, seed)
    filled = pd.Series(oi).ffill().to_numpy()
    prev = np.concatenate([[np.nan], filled[:-1]])
    d_oi = filled - prev
    d_oi[~np.isfinite(d_oi)] = 0.0
    got = carry_oi(oi)
    for g, w in zip(got, (d_oi, prev, filled), strict=True):
        assert g.dtype == np.float64 and g.tobytes() == w.tobytes()
    assert all(len(a) == 0 for a in carry_oi(np.zeros(0)))


def test_positive_at_is_flatnonzero():
    x = np.array([0.0, -0.0, 1e-320, np.nan, -np.inf, np.inf, -1.0, 2.0])
    assert positive_at(x).tolist() == np.flatnonzero(x > 0).tolist() == [2, 5, 7]
    big = awkward(700_000, 1) - 5e9  # a year's size: aligned storage
    assert np.array_equal(positive_at(big), np.flatnonzero(big > 0))
    assert positive_at(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize("seed", range(4))
def test_flows_of_side_are_the_accounting(seed):
    rng = np.random.default_rng(seed)
    n = 2_000
    new_oi = np.where(rng.random(n) < 0.5, rng.uniform(0, 1e7, n), 0.0)
    share = rng.uniform(0, 1, n)
    active = np.abs(np.cumsum(rng.normal(0, 1e6, n)))
    liq = np.where(rng.random(n) < 0.2, rng.uniform(0, 1e6, n), 0.0)
    active[rng.integers(0, n, 20)] = np.nan  # NaN goes through as numpy's maximum keeps it
    opened, closed = np.empty(n), np.empty(n)
    flows_of_side(new_oi, share, liq, active, opened, closed)
    want_opened = new_oi * share
    before = np.concatenate([[0.0], active[:-1]])
    want_closed = np.maximum(before + want_opened - liq - active, 0.0)
    assert opened.tobytes() == want_opened.tobytes()
    assert np.array_equal(closed, want_closed, equal_nan=True)
    assert (closed[~np.isnan(closed)] >= 0).all() and (want_closed < 0).sum() == 0
    assert ((before + want_opened - liq - active) < 0).any()  # the clip is exercised


def test_big_arrays_start_on_a_huge_page_and_behave_like_numpys():
    for shape, dtype in (((8, 525_600), np.float64), (5_000_000, np.bool_), (262_144, np.int64)):  # 2 MB or more
        a, z = big_empty(shape, dtype), big_zeros(shape, dtype)
        for x in (a, z):
            assert x.shape == (shape if isinstance(shape, tuple) else (shape,)) and x.dtype == dtype
            assert x.flags.c_contiguous and x.flags.writeable and x.ctypes.data % HUGE_PAGE == 0
        assert not z.any()
    for small in (big_zeros(10), big_empty((2, 3), np.int32), big_zeros(2_000_000, np.bool_)):  # under 2 MB: numpy's own
        assert small.base is None and small.flags.c_contiguous


def test_prev_and_cur_are_read_only_views_a_candle_apart():
    _, prev, cur = carry_oi(np.array([np.nan, 5.0, np.nan, 7.0]))
    assert np.shares_memory(prev, cur) and np.array_equal(prev[1:], cur[:-1], equal_nan=True) and np.isnan(prev[0])
    for view in (prev, cur):
        with pytest.raises(ValueError, match="read-only"):
            view[1] = 0.0


def test_compiled_division_by_zero_gives_what_numpy_gives():
    # the loops divide as numpy does (inf or NaN), never raising: closing ratios with a zero open interest,
    # and bins finer than the prices' float spacing (the first two edges one float)
    from liqtools.analysis._closing import closing_ratio
    from liqtools.analysis._numeric import bins
    from liqtools.analysis.bins import make_edges

    prev, cur = np.array([0.0, 1.0, 0.0]), np.array([0.0, 1.0, 2.0])
    out = np.empty(3)
    closing_ratio(prev, cur, np.zeros(3), out)
    with np.errstate(all="ignore"):
        want = (np.fmin(prev, cur) - 0.0) / prev
    assert np.array_equal(out, want, equal_nan=True)
    edges = make_edges(1e20, 1e20 + 16384, 1.0)  # most neighbouring edges are one float
    assert edges[1] == edges[0] and edges[-1] > edges[0]
    prices = np.concatenate([edges[::997], [edges[0] - 1e5, edges[-1], 5.0, np.nan]])
    got = bins(prices, edges)
    inside = (prices >= edges[0]) & (prices < edges[-1])
    b = got[inside]
    assert inside.sum() > 5 and ((edges[b] <= prices[inside]) & (prices[inside] < edges[b + 1])).all()
    assert (got[~inside] == np.where(prices[~inside] >= edges[-1], len(edges) - 1, -1)).all()
