"""Heatmap.extend: new candles into a heatmap give what the batch model gives on the longer frame, for every
option, every way of cutting the new candles, and branches; bad new candles are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_heatmap_options import BEYOND, crowded_market

from liqtools import liquidation_heatmap
from liqtools.analysis.ingredients import Crowding
from liqtools.errors import DataError

RTOL = 1e-9


def built(df, **options):
    if isinstance(options.get("crowding"), tuple):
        options["crowding"] = Crowding(*options["crowding"])
    return liquidation_heatmap(df, bin_size=2.0, price_range=(10.0, 400.0), **options)


def assert_same(got, want):
    tol = 1e-6 * max(1.0, float(want.flows["opened_long_usd"].sum()))
    assert got.times.equals(want.times)
    np.testing.assert_allclose(got.long, want.long, rtol=RTOL, atol=tol)
    np.testing.assert_allclose(got.short, want.short, rtol=RTOL, atol=tol)
    pd.testing.assert_frame_equal(got.liquidated, want.liquidated, rtol=RTOL, atol=tol, check_freq=False)
    pd.testing.assert_frame_equal(got.flows, want.flows, rtol=RTOL, atol=tol, check_freq=False)
    np.testing.assert_allclose(got._log_factor, want._log_factor, rtol=0, atol=0)  # the same sums, step for step
    n = len(want._index)
    for t in sorted({0, n // 3, n - 2, n - 1} & set(range(n))):
        a, b = got.levels_at(t), want.levels_at(t)
        key = ["price", "side", "notional_usd"]
        a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
        assert len(a) == len(b)
        np.testing.assert_allclose(a["price"], b["price"], rtol=RTOL)  # crowding: rolling sums round differently
        np.testing.assert_allclose(a["notional_usd"], b["notional_usd"], rtol=RTOL, atol=tol)


def grow(df, cut_points, **options):
    hm = built(df.iloc[: cut_points[0]], **options)
    for a, b in zip(cut_points, [*cut_points[1:], len(df)], strict=True):
        hm = hm.extend(df.iloc[a:b])
    return hm


OPTIONS = [{}, {"split": "taker"}, {"split": "candle"}, {"half_life": 5.0}, {"half_life": "6h"}, {"entry": "path"},
           {"price": "mark"}, *BEYOND, {"split": "accounts"}]


@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
@pytest.mark.parametrize("every", [1, 4])
def test_extend_equals_the_batch_model_for_every_option(options, every):
    options = {**options, "every": every}
    from conftest import random_market

    df = crowded_market(120, 11, vol=0.03)
    if options.get("price") == "mark":
        df = random_market(120, 11, vol=0.03, mark=True)
    want = built(df, **options)
    assert_same(grow(df, [60], **options), want)  # one block of 60 (chunked inside)
    assert_same(grow(df, list(range(90, 120)), **options), want)  # one candle at a time


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 70),
    data=st.data(),
    opt=st.sampled_from(OPTIONS),
    every=st.integers(1, 5),
)
def test_extend_equals_batch_property(seed, n, data, opt, every):
    df = crowded_market(n, seed, vol=0.05)
    if opt.get("price") == "mark":
        return  # the market has no mark columns here (covered above)
    cuts = sorted(data.draw(st.sets(st.integers(2, n - 1), min_size=1, max_size=6)))
    assert_same(grow(df, cuts, every=every, **opt), built(df, every=every, **opt))


def test_branches_and_the_older_heatmap_stay_right():
    df = crowded_market(100, 5, vol=0.04)
    base = built(df.iloc[:60], turnover=0.02)
    before = (base.long.copy(), base.flows.copy(), base.levels_at(59).copy())
    a = base.extend(df.iloc[60:80])
    a2 = a.extend(df.iloc[80:100])  # grows a's buffers in place
    b = base.extend(df.iloc[60:70])  # a branch from base: copies, leaves a and a2 alone
    assert_same(a2, built(df, turnover=0.02))
    assert_same(a, built(df.iloc[:80], turnover=0.02))
    assert_same(b, built(df.iloc[:70], turnover=0.02))
    np.testing.assert_array_equal(base.long, before[0])
    pd.testing.assert_frame_equal(base.flows, before[1])
    pd.testing.assert_frame_equal(base.levels_at(59), before[2])  # its levels read as before


def test_bad_new_candles_are_refused():
    df = crowded_market(50, 2)
    hm = built(df.iloc[:40])
    with pytest.raises(DataError, match="must start after the heatmap's last candle"):
        hm.extend(df.iloc[30:45])
    with pytest.raises(DataError, match=r"missing column\(s\) \['taker_buy_volume'"):
        hm.extend(df.iloc[40:].drop(columns="taker_buy_volume"))
    with pytest.raises(DataError, match="oi_usd"):
        hm.extend(df.iloc[40:].drop(columns="oi_usd"))
    assert hm.extend(df.iloc[40:40]) is hm


def test_a_short_start_keeps_the_whole_crowding_window():
    df = crowded_market(35, 0, vol=0.05)  # built on 2 candles, then 32 + 1: the context must grow to 13 rows
    assert_same(grow(df, [2, 34], crowding=("funding", 0.5, 12)), built(df, crowding=("funding", 0.5, 12)))


@pytest.mark.parametrize("gap", [(60, 80), (0, 80)])
def test_open_interest_missing_at_the_cut_is_carried_from_before_it(gap):
    # the kept tail starts inside a gap of open interest: the model carries the last value from before
    # the tail (or none, when the gap starts the frame), as the batch model does
    df = crowded_market(100, 3, vol=0.04)
    df.iloc[gap[0]:gap[1], df.columns.get_loc("oi_usd")] = np.nan
    for options in ({}, {"crowding": ("ratio", 0.5, 3)}):
        full = built(df, **options)
        assert_same(built(df.iloc[:75], **options).extend(df.iloc[75:]), full)


def test_the_value_carried_into_the_tail_is_the_last_one_known_before_it():
    from liqtools.analysis.heatmap_extend import _last_known

    n = 100_000
    for at in (0, 1, n - 4096 - 1, n - 4096, n - 4097, n - 12_288, n - 1):  # around the chunks read back
        col = np.full(n, np.nan)
        col[at] = 7.0
        col[: max(at - 5, 0)] = 1.0  # older values must not win
        assert _last_known(pd.Series(col)) == 7.0, at
    assert np.isnan(_last_known(pd.Series(np.full(n, np.nan)))) and np.isnan(_last_known(pd.Series([], dtype=float)))
