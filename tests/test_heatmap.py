import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import RTOL, assert_matches_reference, atol

from conftest import random_market
from liqtools import LeverageProfile, liquidation_heatmap, load_sample
from liqtools.analysis._numeric import first_at_or_below


@pytest.mark.parametrize("split", ["both", "taker", "candle", 0.3, 0.0, 1.0])
@pytest.mark.parametrize("every", [1, 4, 7])
def test_equals_reference_loop(split, every):
    df = random_market(250, seed=hash((str(split), every)) % 1000)
    assert_matches_reference(df, split=split, every=every)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 120),
    split=st.sampled_from(["both", "taker", "candle", 0.25, 0.8]),
    every=st.integers(1, 10),
    vol=st.sampled_from([0.005, 0.02, 0.06]),
)
def test_equals_reference_property(seed, n, split, every, vol):
    assert_matches_reference(random_market(n, seed, vol=vol), split=split, every=every)


@given(seed=st.integers(0, 10_000), lev=st.lists(st.sampled_from([1.0, 2.0, 3.0, 20.0, 75.0, 125.0]), min_size=1, max_size=4, unique=True))
def test_equals_reference_other_profiles(seed, lev):
    w = np.random.default_rng(seed).dirichlet(np.ones(len(lev)))
    weights = dict(zip(lev, w / w.sum()))
    assert_matches_reference(random_market(80, seed), weights=weights, mmr=0.005)


def test_mark_price_option_matches_reference():
    df = random_market(200, 3, mark=True)
    hm_mark, _, _ = assert_matches_reference(df, price="mark")
    hm_last = liquidation_heatmap(df, bin_size=1.0, price_range=(40.0, 250.0))
    assert not np.allclose(hm_mark.liquidated.to_numpy(), hm_last.liquidated.to_numpy())


def test_levels_at_every_candle_equal_reference():
    df = random_market(120, 11)
    hm, alive, _ = assert_matches_reference(df, every=5)
    for t in range(len(df)):
        lv = hm.levels_at(t)
        ref = pd.DataFrame(alive[t], columns=["price", "notional_usd", "is_long"])
        assert len(lv) == len(ref)
        for side, is_long in (("long", True), ("short", False)):
            ours = lv[lv["side"] == side].sort_values("price")
            theirs = ref[ref["is_long"] == is_long].sort_values("price")
            np.testing.assert_allclose(ours["price"].to_numpy(float), theirs["price"].to_numpy(float), rtol=1e-12)
            np.testing.assert_allclose(ours["notional_usd"].to_numpy(float), theirs["notional_usd"].to_numpy(float), rtol=RTOL)
    # a time label picks the last candle at or before it
    assert hm.levels_at(df.index[10] + pd.Timedelta("30min")).equals(hm.levels_at(10))


def test_accounting_invariant_every_candle():
    df = random_market(400, 5, oi_vol=0.1)
    hm = liquidation_heatmap(df)
    f = hm.flows
    opened = (f["opened_long_usd"] + f["opened_short_usd"]).cumsum()
    rest = (
        f["active_long_usd"]
        + f["active_short_usd"]
        + (f["liquidated_long_usd"] + f["liquidated_short_usd"]).cumsum()
        + (f["closed_long_usd"] + f["closed_short_usd"]).cumsum()
    )
    np.testing.assert_allclose(opened, rest, rtol=1e-9, atol=atol(df))
    # with split="both", each side receives the whole OI increase
    d_oi = df["oi_usd"].ffill().diff()
    np.testing.assert_allclose(f["opened_long_usd"].iloc[1:], d_oi.clip(lower=0).fillna(0).iloc[1:], rtol=1e-12)


def test_snapshots_every_k_and_trailing_group():
    df = random_market(23, 2)
    hm = liquidation_heatmap(df, every=5, bin_size=1.0)
    assert len(hm.times) == 4
    assert list(hm.times) == list(df.index[[4, 9, 14, 19]])
    snap = hm.snapshot(df.index[12])  # last snapshot at or before -> after candle 9
    np.testing.assert_array_equal(snap["long_usd"].to_numpy(), hm.long[1])
    # a snapshot equals the binned levels after its candle
    lv = hm.levels_at(9)
    longs = lv[lv["side"] == "long"]
    assert snap["long_usd"].sum() == pytest.approx(longs[(longs.price >= hm.edges[0]) & (longs.price < hm.edges[-1])].notional_usd.sum(), rel=1e-9)


def test_bins_are_half_open_and_anchored_at_price_range():
    idx = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    # entry (h+l+c)/3 = 100; single tier 10x with mmr 0 -> long 90, short 110 exactly
    df = pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 1.0, "oi_usd": [1.0, 2.0, 2.0]}, index=idx
    )
    hm = liquidation_heatmap(df, leverage=LeverageProfile.single(10, mmr=0.0), bin_size=10.0, price_range=(80.0, 120.0))
    np.testing.assert_array_equal(hm.edges, [80.0, 90.0, 100.0, 110.0, 120.0])
    np.testing.assert_array_equal(hm.long[-1], [0.0, 1.0, 0.0, 0.0])  # 90 falls in [90, 100)
    np.testing.assert_array_equal(hm.short[-1], [0.0, 0.0, 0.0, 1.0])  # 110 falls in [110, 120)
    assert hm.long[0].sum() == 0.0  # nothing at the first candle


def test_level_not_consumed_by_its_own_candle_and_consumed_later():
    idx = pd.date_range("2026-01-01", periods=4, freq="h", tz="UTC")
    df = pd.DataFrame(
        {
            "open": [100.0, 100, 100, 100],
            "high": [101.0, 101, 101, 101],
            "low": [99.0, 80, 99, 85],  # candle 1's low is below 90 but the 90 level is created there
            "close": [100.0, 100, 100, 100],
            "volume": 1.0,
            "oi_usd": [1.0, 2.0, 2.0, 2.0],
        },
        index=idx,
    )
    df.loc[idx[1], "high"] = 121.0
    # entry at candle 1 = (121 + 80 + 100) / 3
    e = (121.0 + 80.0 + 100.0) / 3
    hm = liquidation_heatmap(df, leverage=LeverageProfile.single(10, mmr=0.0), bin_size=1.0)
    assert hm.liquidated["long_usd"].tolist() == [0.0, 0.0, 0.0, 1.0] and e * 0.9 > 85
    assert hm.liquidated["short_usd"].sum() == 0.0


def test_closing_scales_levels_pro_rata_and_missing_oi_is_carried_forward():
    idx = pd.date_range("2026-01-01", periods=5, freq="h", tz="UTC")
    df = pd.DataFrame(
        {"open": 100.0, "high": 100.5, "low": 99.5, "close": 100.0, "volume": 1.0, "oi_usd": [np.nan, 10.0, 14.0, np.nan, 7.0]},
        index=idx,
    )
    hm = liquidation_heatmap(df, leverage=LeverageProfile.single(10), bin_size=1.0)
    f = hm.flows
    assert f["opened_long_usd"].tolist() == [0.0, 0.0, 4.0, 0.0, 0.0]  # leading NaN and first value open nothing
    assert f["active_long_usd"].tolist() == pytest.approx([0, 0, 4.0, 4.0, 2.0])  # 14 -> 7 halves the level
    assert f["closed_long_usd"].tolist() == pytest.approx([0, 0, 0, 0, 2.0])


def test_large_cumulative_decline_does_not_overflow():
    # OI halves and doubles 1,500 times: the closing factor falls to 2**-1500, far past float range
    n = 3000
    idx = pd.date_range("2026-01-01", periods=n, freq="min", tz="UTC")
    oi = np.where(np.arange(n) % 2 == 0, 1e6, 2e6)
    df = pd.DataFrame({"open": 100.0, "high": 100.01, "low": 99.99, "close": 100.0, "volume": 1.0, "oi_usd": oi}, index=idx)
    hm = liquidation_heatmap(df, bin_size=1.0, every=10)
    assert np.isfinite(hm.long).all() and np.isfinite(hm.flows.to_numpy()).all()
    # each doubling opens 1e6 per side and each halving halves every level: after the last doubling the
    # levels are 1e6, 5e5, 2.5e5, ... summing to 2e6 (none is ever hit: the range is +-0.01%)
    assert hm.flows["active_long_usd"].iloc[-1] == pytest.approx(2e6, rel=1e-12)
    assert hm.flows["active_long_usd"].iloc[-2] == pytest.approx(1e6, rel=1e-12)
    assert_matches_reference(df.iloc[:300], bin_size=1.0)


def test_first_at_or_below_matches_brute_force():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 17, 64, 65, 200):
        x = rng.normal(size=n)
        start = rng.integers(0, n + 2, 300)
        thr = rng.normal(size=300) - 1
        got = first_at_or_below(x, start, thr)
        for s, t, g in zip(start, thr, got):
            hits = [j for j in range(min(s, n), n) if x[j] <= t]
            assert g == (hits[0] if hits else n)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.iloc[::-1], "not sorted"),
        (lambda d: pd.concat([d.iloc[:3], d.iloc[2:3], d.iloc[3:]]), "duplicate timestamp"),
        (lambda d: d.drop(columns="oi_usd"), "missing column.*oi_usd"),
        (lambda d: d.drop(columns="low"), "missing column.*low"),
        (lambda d: d.assign(close=d["close"].where(d.index != d.index[5])), "'close' has a non-finite value nan at row 5"),
        (lambda d: d.assign(oi_usd=d["oi_usd"].where(d.index != d.index[4], -1.0)), "'oi_usd' must be > 0.*row 4"),
        (lambda d: d.assign(oi_usd=d["oi_usd"].where(d.index != d.index[4], 0.0)), "'oi_usd' must be > 0"),
        (lambda d: d.assign(high=d["low"] * 0.99), "row 0"),
        (lambda d: d.assign(oi_usd=d["oi_usd"].where(d.index != d.index[3], np.inf)), "'oi_usd' has a non-finite value inf at row 3"),
        (lambda d: d.assign(volume=d["volume"].where(d.index != d.index[2], 2e30)), "'volume' has 2e\\+30 at row 2"),
        (lambda d: d.assign(volume=d["volume"].where(d.index != d.index[6], -1.0)), "'volume' must be >= 0, got -1.0 at row 6"),
        (lambda d: d.assign(close=d["close"].astype(object).where(d.index != d.index[1], "x")), "'close' is not numeric"),
        (lambda d: pd.concat([d, d[["oi_usd"]]], axis=1), "'oi_usd' is not numeric"),  # two columns of one name
        (lambda d: d.tz_localize(None), "time zone"),
        (lambda d: d.reset_index(drop=True), "DatetimeIndex"),
    ],
)
def test_bad_market_input_names_the_problem(market, mutate, match):
    with pytest.raises(ValueError, match=match):
        liquidation_heatmap(mutate(market))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "taker"}, "taker_buy_volume"),
        ({"split": 1.5}, r"split must be in \[0, 1\]"),
        ({"split": "random"}, "split must be"),
        ({"every": 0}, "every"),
        ({"bin_size": -1.0}, "bin_size"),
        ({"price_range": (200.0, 100.0)}, "price_range"),
        ({"price": "index"}, "price must be"),
        ({"price": "mark"}, "mark"),
        ({"leverage": {10: 0.5, 20: 0.6}}, "sum to 1"),
        ({"leverage": 0.5}, "leverage must be >= 1"),
    ],
)
def test_bad_options(market, kwargs, match):
    with pytest.raises(ValueError, match=match):
        liquidation_heatmap(market.drop(columns="taker_buy_volume"), **kwargs)


def test_high_below_low_is_refused(market):
    bad = market.copy()
    bad.iloc[9, bad.columns.get_loc("high")] = bad["low"].iloc[9] - 1
    with pytest.raises(ValueError, match="high < low at row 9"):
        liquidation_heatmap(bad)


def test_many_epochs_still_equal_reference(monkeypatch):
    # force an epoch every 0.3 nats of closing so the rebasing path runs many times
    from liqtools.analysis import _numeric

    monkeypatch.setattr(_numeric, "_EPOCH_NATS", 0.3)
    df = random_market(200, 21, oi_vol=0.1)
    assert len(_numeric._epochs(liquidation_heatmap(df)._log_factor[0])) > 5
    for every in (1, 3):
        assert_matches_reference(df, every=every)


def test_edge_cases_of_bins_and_ranges(market):
    from liqtools import nice_bin_size

    assert nice_bin_size(1.5e-10) == 5e-13 and nice_bin_size(73_000) == 200.0
    with pytest.raises(ValueError, match="finite"):
        liquidation_heatmap(market, price_range=(0.0, float("inf")), bin_size=1.0)
    with pytest.raises(ValueError, match="bin_size"):
        liquidation_heatmap(market, bin_size=float("inf"))
    # only low-leverage longs, all far below the candles: the default range still works
    hm = liquidation_heatmap(market, leverage=1.5, split=1.0)
    assert hm.edges[-1] > hm.edges[0]
    with pytest.warns(UserWarning, match="'oi_usd' has no values"):
        empty = liquidation_heatmap(market.assign(oi_usd=np.nan), bin_size=1.0, price_range=(50.0, 150.0))
    assert empty.long.sum() == 0 and empty.liquidated.to_numpy().sum() == 0


def test_mark_columns_are_checked(market):
    df = random_market(50, 1, mark=True)
    bad = df.copy()
    bad.iloc[3, bad.columns.get_loc("mark_close")] = bad["mark_high"].iloc[3] * 2
    with pytest.raises(ValueError, match="mark_close above mark_high at row 3.*mark_high="):
        liquidation_heatmap(bad, price="mark")


def test_oversized_snapshot_matrices_are_refused_with_advice():
    df = random_market(30_000, 4, vol=0.002)
    with pytest.raises(ValueError, match="too large for the snapshot matrices; raise every="):
        liquidation_heatmap(df, bin_size=0.001)


def test_first_at_or_below_is_exact_at_float32_rounding():
    # thresholds a hair below / at / above values (ties included): the answer is exact
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        x = 70_000 + rng.normal(0, 1, n)
        start = rng.integers(0, n + 1, 300)
        thr = x[rng.integers(0, n, 300)] - rng.choice([0.0, 1e-9, 1e-6, -1e-9, 2e-3], 300)
        got = first_at_or_below(x, start, thr)
        for s, t, g in zip(start, thr, got):
            hits = [j for j in range(s, n) if x[j] <= t]
            assert g == (hits[0] if hits else n)


@pytest.mark.parametrize("drop", [1e-50, 1e-300, 1e-310, 1e-320])
@pytest.mark.parametrize("every", [1, 2, 4])
@pytest.mark.parametrize("at", [2, 3, 20])
def test_open_interest_collapse_is_finite_and_equals_reference(drop, every, at):
    # issue 12: OI falling by hundreds of orders of magnitude in one candle (an empty closing epoch
    # used to fail inside np.bincount; factors below float range gave NaN)
    df = random_market(40, at, nan_share=0.0)
    oi = df["oi_usd"].to_numpy().copy()
    oi[at:] *= drop
    oi[at + 10 :] *= 1e6  # and recovers a little: new levels on top of the vanished ones
    df = df.assign(oi_usd=oi)
    hm, _, _ = assert_matches_reference(df, every=every)
    for x in (hm.long, hm.short, hm.liquidated.to_numpy(), hm.flows.to_numpy()):
        assert np.isfinite(x).all()
    # what was open before the collapse keeps only its share of the collapsed open interest
    f = hm.flows
    before = f["active_long_usd"].iloc[at - 1]
    assert f["active_long_usd"].iloc[at] <= before * drop * 1.01 + f["opened_long_usd"].iloc[at]


@pytest.mark.parametrize("half_life", [1e-3, 1e-200, 5e-324])
def test_half_life_far_below_one_candle_closes_everything(half_life):
    # issue 12: used to fail with a casting error inside the span sums
    df = random_market(40, 5, nan_share=0.0)
    hm = liquidation_heatmap(df, half_life=half_life, bin_size=1.0)
    for x in (hm.long, hm.short, hm.liquidated.to_numpy(), hm.flows.to_numpy()):
        assert np.isfinite(x).all()
    # every level lives for exactly one candle: what is active after a candle is what it just opened
    f = hm.flows
    np.testing.assert_allclose(f["active_long_usd"], f["opened_long_usd"], rtol=1e-9, atol=1e-9)
    assert_matches_reference(df, half_life=half_life)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    exponent=st.sampled_from([5, 100, 250, 305, 320]),
    every=st.integers(1, 4),
    options=st.sampled_from(
        [{}, {"half_life": 1e-6}, {"turnover": 1e9}, {"half_life_mix": [(0.5, 1e-300), (0.5, None)]}, {"near_cut": (0.01, 1.0)}]
    ),
)
def test_collapses_never_give_nan_property(seed, n, exponent, every, options):
    # issue 12: open interest falling by up to 320 orders of magnitude at a random candle, with options
    # that close everything at once, never yields NaN, inf or an error, and never negative values
    df = random_market(n, seed, nan_share=0.2)
    rng = np.random.default_rng(seed)
    at = int(rng.integers(0, n))
    oi = df["oi_usd"].to_numpy().copy()
    oi[at:] *= 10.0**-exponent
    hm = liquidation_heatmap(df.assign(oi_usd=oi), every=every, bin_size=1.0, price_range=(40.0, 250.0), **options)
    for x in (hm.long, hm.short, hm.liquidated.to_numpy(), hm.flows.to_numpy()):
        assert np.isfinite(x).all() and (x >= 0).all()


def _arrays(obj, seen=None):
    """Every numpy array reachable from ``obj``'s attributes, frames and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (pd.DataFrame, pd.Series)):
        yield from (obj[c].to_numpy() for c in obj) if isinstance(obj, pd.DataFrame) else [obj.to_numpy()]
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _arrays(x, seen)
    elif dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name), seen)


@pytest.mark.parametrize("fast", [True, False])
def test_a_heatmap_keeps_no_array_of_the_callers_frame(monkeypatch, fast):
    # the heatmap validates without copying the frame: whatever it keeps must be its own
    from liqtools.analysis import heatmap as heatmap_module

    sample = load_sample()
    df = pd.DataFrame({c: sample[c].to_numpy().copy() for c in sample}, index=sample.index)
    if not fast:
        monkeypatch.setattr(heatmap_module, "sides_at_once", lambda *args: None)
    hm = liquidation_heatmap(df, bin_size=500, near_cut=(0.01, 0.3))
    columns = [df[c].to_numpy() for c in df]
    kept = list(_arrays(hm))
    assert len(kept) > 10 and any(np.array_equal(a, df["close"].to_numpy()) for a in kept)
    assert not any(np.shares_memory(a, c) for a in kept for c in columns)


def test_a_heatmap_is_not_changed_by_later_edits_of_the_callers_frame():
    # the heatmap keeps arrays of the validated frame: they must not be views of the caller's buffers
    sample = load_sample()
    df = pd.DataFrame({c: sample[c].to_numpy().copy() for c in sample}, index=sample.index)
    hm = liquidation_heatmap(df, bin_size=500)
    before, tail = hm.close_at(5), hm._tail.copy()
    df.iloc[5, df.columns.get_loc("close")] = 1.0
    df.iloc[-1, df.columns.get_loc("oi_usd")] = 1.0
    assert hm.close_at(5) == before
    pd.testing.assert_frame_equal(hm._tail, tail)


def test_the_liquidated_frame_and_the_flows_do_not_write_into_each_other():
    # hm.liquidated is two of hm.flows' columns under their own names, shared until either is written
    hm = liquidation_heatmap(load_sample(), bin_size=500)
    liq, flows = hm.liquidated.copy(), hm.flows.copy()
    assert np.array_equal(liq.to_numpy(), flows[["liquidated_long_usd", "liquidated_short_usd"]].to_numpy())
    hm.liquidated.iloc[5, 0] = 1e12
    hm.liquidated["short_usd"] *= 2
    pd.testing.assert_frame_equal(hm.flows, flows)
    hm.flows.iloc[7, hm.flows.columns.get_loc("liquidated_long_usd")] = -3.0
    assert hm.liquidated.iloc[7, 0] == liq.iloc[7, 0] and hm.liquidated.iloc[5, 0] == 1e12
