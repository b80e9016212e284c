"""Heatmap options beyond MODEL.md (half_life, entry="path", LeverageProfile.lognormal), each checked
against the plain reference loop, and the default left exactly as MODEL.md states it."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import RTOL, assert_matches_reference, atol

from conftest import DEFAULT_WEIGHTS, random_market
from liqtools import LeverageProfile, liquidation_heatmap, load_sample
from liqtools.analysis.heatmap import liquidated_by_tier


def check(df, *, weights=DEFAULT_WEIGHTS, mmr=0.004, split="both", every=1, half_life=None, entry="typical", **beyond):
    hm, alive, flows = assert_matches_reference(
        df, weights=weights, mmr=mmr, split=split, every=every, half_life=half_life, entry=entry, **beyond
    )
    tol = atol(df)
    f = hm.flows
    np.testing.assert_allclose(
        (f["opened_long_usd"] + f["opened_short_usd"]).cumsum(), flows["opened"], rtol=RTOL, atol=tol
    )
    for t in (len(df) // 2, len(df) - 1):
        lv = hm.levels_at(t)
        assert len(lv) == len([a for a in alive[t] if a[1] > 0])  # completely closed levels leave the model
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
    from liqtools.analysis.ingredients import Crowding

    df = crowded_market(300, 12, vol=0.03)
    lev = np.array([50.0, 5.0, 20.0])
    for kwargs in (
        {},
        {"half_life": 24.0, "entry": "path", "split": "candle"},
        {"turnover": 0.01, "half_life_mix": [(0.5, 4.0), (0.5, None)], "near_cut": (0.01, 0.3)},
        {"crowding": Crowding("ratio", 0.6, window=12), "consume_margin": 0.003, "split": "accounts"},
    ):
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


# -- ingredients of issue 10: turnover, age mixture, near-liquidation cuts, crowding, consumption margin


def crowded_market(n, seed, **kwargs):
    """random_market plus the crowding columns: funding (sparse, carried forward) and long/short accounts."""
    df = random_market(n, seed, **kwargs)
    rng = np.random.default_rng(seed + 1)
    funding = np.where(np.arange(n) % 8 == 0, rng.normal(1e-4, 2e-4, n), np.nan)
    ratio = np.exp(np.cumsum(rng.normal(0, 0.05, n)))
    return df.assign(funding_rate=funding, long_short_ratio=ratio)


BEYOND = [
    {"turnover": 0.02},
    {"turnover": 50.0},  # the cap binds: every old position closes in busy candles
    {"half_life_mix": [(0.3, 2.0), (0.7, None)]},
    {"half_life_mix": [(0.5, 1.0), (0.25, 20.0), (0.25, None)], "half_life": 30.0},
    {"near_cut": (0.01, 0.4)},
    {"near_cut": (0.03, 1.0)},
    {"crowding": ("funding", 0.5, 12)},
    {"crowding": ("ratio", -0.8, 6)},
    {"crowding": ("taker", 1.5, 24)},
    {"consume_margin": 0.005},
    {"turnover": 0.01, "near_cut": (0.02, 0.5), "half_life_mix": [(0.5, 3.0), (0.5, None)], "consume_margin": 0.002},
]


@pytest.mark.parametrize("beyond", BEYOND, ids=[str(b) for b in BEYOND])
@pytest.mark.parametrize("entry", ["typical", "path"])
@pytest.mark.parametrize("every", [1, 3])
def test_ingredients_equal_reference_loop(beyond, entry, every):
    df = crowded_market(160, 3 + every, vol=0.03)
    check(df, every=every, entry=entry, split="taker", **beyond)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 90),
    split=st.sampled_from(["both", "candle", "accounts", 0.3]),
    turnover=st.sampled_from([0.0, 0.005, 0.1, 100.0]),
    mix=st.sampled_from([None, [(0.4, 1.5), (0.6, None)], [(0.2, 0.5), (0.3, 8.0), (0.5, 40.0)]]),
    near_cut=st.sampled_from([None, (0.005, 0.3), (0.02, 1.0)]),
    crowding=st.sampled_from([None, ("funding", 0.7, 5), ("ratio", 0.3, 10), ("taker", -1.0, 3)]),
    margin=st.sampled_from([0.0, 0.003]),
    entry=st.sampled_from(["typical", "path"]),
    vol=st.sampled_from([0.005, 0.03, 0.08]),
)
def test_ingredients_equal_reference_property(seed, n, split, turnover, mix, near_cut, crowding, margin, entry, vol):
    df = crowded_market(n, seed, vol=vol)
    check(
        df, split=split, entry=entry, every=1 + seed % 4, turnover=turnover, half_life_mix=mix,
        near_cut=near_cut, crowding=crowding, consume_margin=margin,
    )


def test_defaults_of_the_ingredients_are_model_md():
    df = crowded_market(200, 8, vol=0.03)
    base = liquidation_heatmap(df, bin_size=1.0)
    from liqtools.analysis.ingredients import Crowding

    for kwargs in (
        {"turnover": 0.0},
        {"half_life_mix": [(1.0, None)]},
        {"crowding": Crowding("funding", 0.0)},
        {"consume_margin": 0.0},
        {"near_cut": None},
    ):
        other = liquidation_heatmap(df, bin_size=1.0, **kwargs)
        np.testing.assert_array_equal(other.long, base.long)
        np.testing.assert_array_equal(other.liquidated.to_numpy(), base.liquidated.to_numpy())


def test_turnover_refreshes_a_flat_open_interest():
    # open interest never changes after candle 1, but the candles trade: with turnover the old levels
    # are replaced by new ones at later prices; without it the map stays where candle 1 put it
    idx = pd.date_range("2026-01-01", periods=30, freq="h", tz="UTC")
    close = 100 + np.arange(30.0)
    df = pd.DataFrame(
        {"open": close - 0.5, "high": close + 0.5, "low": close - 1, "close": close, "volume": 10.0, "oi_usd": [1e4] + [2e4] * 29},
        index=idx,
    )
    one = LeverageProfile.single(10, mmr=0.0)
    flat = liquidation_heatmap(df, leverage=one, bin_size=1.0)
    busy = liquidation_heatmap(df, leverage=one, bin_size=1.0, turnover=0.5)
    assert flat.levels_at(-1)["price"].tolist() == pytest.approx([0.9 * (101.5 + 100 + 101) / 3])  # candle 1's long
    lv = busy.levels_at(-1)
    lv = lv[lv["side"] == "long"]  # (rising prices liquidate shorts)
    recent = lv[lv["price"] > 0.9 * 119]["notional_usd"].sum()  # opened in the last 10 candles
    assert recent > 0.2 * lv["notional_usd"].sum()
    f = busy.flows
    # each candle closes the share G / OI of the old positions, G = the opened amount (OI is flat)
    share = f["opened_long_usd"].iloc[2:].to_numpy() / 2e4
    np.testing.assert_allclose(f["closed_long_usd"].iloc[2:], f["active_long_usd"].iloc[1:-1].to_numpy() * share, rtol=1e-9)
    # the cap: a share of volume above the open interest closes every old position
    capped = liquidation_heatmap(df, leverage=one, bin_size=1.0, turnover=1e6)
    last = capped.levels_at(-1)
    assert len(last) == 2 and last["notional_usd"].tolist() == pytest.approx([2e4, 2e4])


def test_near_cut_closes_a_share_at_the_first_approach():
    idx = pd.date_range("2026-01-01", periods=5, freq="h", tz="UTC")
    # 10x long at 90 (mmr 0); candle 2 dips to 90.5 (within 1%), candle 3 to 90.4 again, candle 4 hits 89
    df = pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": [99.0, 99.0, 90.5, 90.4, 89.0], "close": 100.0, "volume": 1.0, "oi_usd": [1.0, 2.0, 2.0, 2.0, 2.0]},
        index=idx,
    )
    hm = liquidation_heatmap(df, leverage=LeverageProfile.single(10, mmr=0.0), split=1.0, bin_size=1.0, near_cut=(0.01, 0.25))
    assert hm.flows["active_long_usd"].tolist() == pytest.approx([0, 1.0, 0.75, 0.75, 0.0])
    assert hm.liquidated["long_usd"].tolist() == pytest.approx([0, 0, 0, 0, 0.75])
    assert hm.flows["closed_long_usd"].tolist() == pytest.approx([0, 0, 0.25, 0, 0])


def test_consume_margin_waits_for_the_move_to_pass_the_level():
    idx = pd.date_range("2026-01-01", periods=4, freq="h", tz="UTC")
    df = pd.DataFrame(
        {"open": 100.0, "high": 101.0, "low": [99.0, 99.0, 89.9, 89.0], "close": 100.0, "volume": 1.0, "oi_usd": [1.0, 2.0, 2.0, 2.0]},
        index=idx,
    )
    one = LeverageProfile.single(10, mmr=0.0)
    assert liquidation_heatmap(df, leverage=one, bin_size=1.0).liquidated["long_usd"].tolist() == pytest.approx([0, 0, 1, 0])
    late = liquidation_heatmap(df, leverage=one, bin_size=1.0, consume_margin=0.005)  # needs 89.55
    assert late.liquidated["long_usd"].tolist() == pytest.approx([0, 0, 0, 1])


def test_crowding_levers_up_the_crowded_side():
    from liqtools.analysis.ingredients import Crowding, crowding_scores

    df = crowded_market(300, 2, vol=0.02)
    z = crowding_scores(df, Crowding("ratio", 1.0, window=24))
    assert np.all(np.abs(z) <= 3) and np.all(z[:24] == 0) and np.any(z != 0)
    hi = int(np.argmax(z))
    base = liquidation_heatmap(df.iloc[: hi + 1], leverage=10, bin_size=1.0)
    tilted = liquidation_heatmap(df.iloc[: hi + 1], leverage=10, bin_size=1.0, crowding=Crowding("ratio", 0.5, window=24))
    lv_b, lv_t = base.levels_at(hi), tilted.levels_at(hi)
    # the newest long level (candle hi, z > 0) sits closer to the price: higher leverage
    newest = lambda lv, side: lv[lv["side"] == side]["price"].to_numpy()
    if df["oi_usd"].ffill().diff().iloc[hi] > 0:
        assert newest(lv_t, "long").max() > newest(lv_b, "long").max()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"turnover": -0.1}, "turnover"),
        ({"consume_margin": 1.0}, "consume_margin"),
        ({"near_cut": (0.0, 0.5)}, "near_cut"),
        ({"near_cut": (0.01, 1.5)}, "near_cut"),
        ({"near_cut": "close"}, "near_cut"),
        ({"half_life_mix": [(0.5, 3.0)]}, "sum to 1"),
        ({"half_life_mix": [(0.5, 3.0), (0.5, -1.0)]}, "half_life_mix must be"),
        ({"crowding": "funding"}, "Crowding"),
        ({"split": "accounts"}, "long_short_ratio"),
    ],
)
def test_bad_ingredient_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        liquidation_heatmap(random_market(50, 1), **kwargs)


def test_bad_crowding():
    from liqtools.analysis.ingredients import Crowding

    with pytest.raises(ValueError, match="signal"):
        Crowding("vibes", 1.0)
    with pytest.raises(ValueError, match="window"):
        Crowding("funding", 1.0, window=1)
    with pytest.raises(ValueError, match="funding_rate"):
        liquidation_heatmap(random_market(50, 1), crowding=Crowding("funding", 1.0))


def test_a_bad_half_life_is_reported_before_any_work_on_the_candles():
    # checked with the options, ahead of other options' errors that need the frame (crowding's column here)
    from liqtools.analysis.ingredients import Crowding
    from liqtools.errors import DataError

    df = load_sample().drop(columns=["funding_rate"])
    with pytest.raises(DataError, match="half_life must be > 0"):
        liquidation_heatmap(df, half_life=-1, crowding=Crowding("funding", 0.3, window=24))
    with pytest.raises(DataError, match="half_life_mix must be None, a number of candles or a time"):
        liquidation_heatmap(df.iloc[:1], half_life_mix=[(0.5, "soon"), (0.5, None)])
    with pytest.raises(DataError, match="crowding signal 'funding' needs a 'funding_rate' column"):
        liquidation_heatmap(df, half_life="7D", crowding=Crowding("funding", 0.3, window=24))


def test_bins_finer_than_the_float_spacing_still_build():
    hm = liquidation_heatmap(load_sample(), price_range=(1e20, 1e20 + 16384), bin_size=1.0, every=24)
    assert hm.long.shape[0] == len(hm.times) and not hm.long.any() and not hm.short.any()
