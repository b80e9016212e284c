"""Heatmap options beyond MODEL.md (half_life, entry="path", LeverageProfile.lognormal), each checked
against the plain reference loop, and the default left exactly as MODEL.md states it."""

import numpy as np
import pandas as pd
import pytest
from conftest import DEFAULT_WEIGHTS, random_market
from hypothesis import given
from hypothesis import strategies as st
from reference import RTOL, assert_matches_reference, atol

from liqtools import LeverageProfile, liquidation_heatmap
from liqtools.analysis.heatmap import liquidated_by_tier

def check(df, *, weights=DEFAULT_WEIGHTS, mmr=0.004, split="both", every=1, half_life=None, entry="typical"):
    hm, alive, flows = assert_matches_reference(df, weights=weights, mmr=mmr, split=split, every=every, half_life=half_life, entry=entry)
    tol = atol(df)
    f = hm.flows
    np.testing.assert_allclose(
        (f["opened_long_usd"] + f["opened_short_usd"]).cumsum(), flows["opened"], rtol=RTOL, atol=tol
    )
    for t in (len(df) // 2, len(df) - 1):
        lv = hm.levels_at(t)
        assert len(lv) == len(alive[t])
        np.testing.assert_allclose(lv["notional_usd"].sum(), sum(v for _, v, _ in alive[t]), rtol=RTOL, atol=tol)
    return hm


@pytest.mark.parametrize("half_life", [0.5, 3.0, 50.0])
@pytest.mark.parametrize("entry", ["typical", "path"])
@pytest.mark.parametrize("every", [1, 4])
def test_options_equal_reference_loop(half_life, entry, every):
    df = random_market(200, seed=int(half_life * 10) + every, vol=0.03)
    check(df, half_life=half_life, entry=entry, every=every, split="taker")


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 100),
    split=st.sampled_from(["both", "candle", 0.3]),
    half_life=st.sampled_from([None, 1.0, 10.0]),
    entry=st.sampled_from(["typical", "path"]),
    vol=st.sampled_from([0.005, 0.03, 0.08]),
)
def test_options_equal_reference_property(seed, n, split, half_life, entry, vol):
    check(random_market(n, seed, vol=vol), split=split, half_life=half_life, entry=entry, every=1 + seed % 5)


def test_path_entry_liquidates_inside_the_candle():
    idx = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    # candle 1 falls: open 100 -> high 101 -> low 90 -> close 91; 10x longs opened at the open and the
    # high (q ~ 90.0, 90.9) are hit by the low of the same candle; the typical-price model cannot see it
    df = pd.DataFrame(
        {
            "open": [100.0, 100, 91],
            "high": [100.5, 101, 91.5],
            "low": [99.5, 90, 90.5],
            "close": [100.0, 91, 91],
            "volume": 1.0,
            "oi_usd": [1.0, 2.0, 2.0],
        },
        index=idx,
    )
    one = LeverageProfile.single(10, mmr=0.0)
    path = liquidation_heatmap(df, leverage=one, entry="path", bin_size=1.0)
    typical = liquidation_heatmap(df, leverage=one, bin_size=1.0)
    assert path.liquidated["long_usd"].tolist() == pytest.approx([0.0, 0.5, 0.0])  # open and high quarters
    assert typical.liquidated["long_usd"].sum() == 0.0
    f = path.flows
    assert f["opened_long_usd"].sum() == pytest.approx(f["active_long_usd"].iloc[-1] + f["liquidated_long_usd"].sum())


def test_half_life_in_time_units_matches_candles_on_a_regular_grid():
    df = random_market(150, 4)
    a = liquidation_heatmap(df, half_life=12.0)
    b = liquidation_heatmap(df, half_life="12h")
    np.testing.assert_allclose(a.long, b.long, rtol=1e-12, atol=1e-6)
    # half of a level is gone after one half-life with no other change
    idx = pd.date_range("2026-01-01", periods=12, freq="h", tz="UTC")
    flat = pd.DataFrame(
        {"open": 100.0, "high": 100.1, "low": 99.9, "close": 100.0, "volume": 1.0, "oi_usd": [1.0, 2.0] + [2.0] * 10},
        index=idx,
    )
    hm = liquidation_heatmap(flat, leverage=10, half_life="5h")
    assert hm.flows["active_long_usd"].iloc[6] == pytest.approx(0.5)


def test_lognormal_profile_is_a_continuous_distribution():
    p = LeverageProfile.lognormal(20, 0.6, n=50)
    assert len(p) == 50 and p.weights_array.sum() == pytest.approx(1.0)
    assert np.exp(np.sum(p.weights_array * np.log(p.leverages))) == pytest.approx(20, rel=0.05)
    df = random_market(120, 9)
    check(df, weights=dict(zip(p.leverages, p.weights_array)), mmr=0.004)


def test_liquidated_by_tier_is_linear_in_the_weights():
    df = random_market(300, 12, vol=0.03)
    lev = np.array([50.0, 5.0, 20.0])
    for kwargs in ({}, {"half_life": 24.0, "entry": "path", "split": "candle"}):
        long_b, short_b = liquidated_by_tier(df, lev, **kwargs)
        w = np.array([0.2, 0.5, 0.3])
        hm = liquidation_heatmap(df, leverage=dict(zip(lev, w)), **kwargs)
        np.testing.assert_allclose(long_b @ w, hm.liquidated["long_usd"], rtol=1e-9, atol=1e-3)
        np.testing.assert_allclose(short_b @ w, hm.liquidated["short_usd"], rtol=1e-9, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"half_life": 0.0}, "half_life"),
        ({"half_life": "-1D"}, "half_life"),
        ({"half_life": "soon"}, "half_life"),
        ({"entry": "vwap"}, "entry must be"),
        ({"entry": "path", "price": "mark"}, "entry='path'"),
    ],
)
def test_bad_option_values(market, kwargs, match):
    with pytest.raises(ValueError, match=match):
        liquidation_heatmap(random_market(50, 1, mark=True), **kwargs)


@pytest.mark.parametrize(
    "kwargs, match", [({"median": 0.5}, "median"), ({"sigma": 0.0}, "sigma"), ({"low": 5, "high": 2}, "low")]
)
def test_bad_lognormal(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LeverageProfile.lognormal(**kwargs)
