"""measured_levels, fit_profile and compare_maps: real positions as levels, a profile fitted to them, and the
modelled map scored against the measured one on hand-made cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from exchange_replay import HyperliquidInfo, fast_exchange, hyperliquid_positions

import liqtools as lt
from liqtools.analysis.map_compare import compare_maps
from liqtools.analysis.positions import VENUE_LEVERAGES, fit_profile, measured_levels
from liqtools.data import fetch_positions, sample_positions
from liqtools.errors import DataError


def positions(**cols):
    base = {
        "user": ["a", "b", "c", "d"],
        "symbol": ["BTC/USDC:USDC"] * 4,
        "side": ["long", "short", "long", "short"],
        "contracts": [1.0, 2.0, 0.5, 1.0],
        "notional_usd": [100_000.0, 200_000.0, 50_000.0, 100_000.0],
        "entry_price": [100_000.0] * 4,
        "leverage": [10.0, 20.0, 3.0, 5.0],
        "margin_mode": ["isolated", "isolated", "cross", "cross"],
        "liquidation_price": [90_500.0, 104_500.0, 67_000.0, math.nan],
    }
    base.update(cols)
    return pd.DataFrame(base)


# -- measured_levels -------------------------------------------------------------------------------------
def test_measured_levels_is_the_models_levels_frame():
    lv = measured_levels(positions())
    assert list(lv.columns) == ["price", "notional_usd", "side", "leverage", "user"]
    assert lv["price"].tolist() == [90_500.0, 104_500.0, 67_000.0]
    assert lv["side"].tolist() == ["long", "short", "long"]
    assert lv["user"].tolist() == ["a", "b", "c"]
    assert lv.attrs["no_liquidation_price"] == 1
    assert lv.attrs["no_liquidation_price_usd"] == 100_000.0
    assert lv.attrs["measured_usd"] == 450_000.0
    assert lv.attrs["accounts"] == 4


def test_the_model_functions_run_unchanged_on_measured_levels():
    lv = measured_levels(positions())
    m = lt.liquidation_map(lv, 100_000.0, bin_size=1_000.0)
    assert m["long_usd"].sum() == 150_000.0 and m["short_usd"].sum() == 200_000.0
    assert m.loc[m["low"] == 104_000.0, "short_usd"].item() == 200_000.0
    clusters = lt.find_clusters(m, 100_000.0)
    assert set(clusters["side"]) <= {"long", "short"} and len(clusters) >= 1
    up = lt.simulate_cascade(lv, 100_000.0, 0.05, depth_usd=1e6)
    assert up.total_usd == 200_000.0  # the short at 104,500 is reached by a 5% shock
    down = lt.simulate_cascade(lv, 100_000.0, -0.10, depth_usd=1e9)
    assert down.total_usd == 100_000.0  # the long at 90,500, not the one at 67,000


def test_measured_levels_from_the_recorded_hyperliquid_answers(monkeypatch, tmp_path):
    fast_exchange(monkeypatch)
    info, fixture = hyperliquid_positions()
    ex = info.ex(fixture["markets"])
    users = [f"0x{d * 40}" for d in "12345"]
    pos = fetch_positions(ex, users, symbol="BTC/USDC:USDC", cache_dir=tmp_path, progress=False)
    lv = measured_levels(pos)
    has = pos["liquidation_price"].notna()
    assert lv["price"].tolist() == pos.loc[has, "liquidation_price"].tolist()
    assert lv["notional_usd"].tolist() == pos.loc[has, "notional_usd"].tolist()
    assert lv.attrs["time"] == pos["time"].max()
    assert isinstance(info, HyperliquidInfo)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"liquidation_price": [math.nan] * 4}, "no position has a liquidation price"),
        ({"symbol": ["BTC/USDC:USDC", "ETH/USDC:USDC", "BTC/USDC:USDC", "BTC/USDC:USDC"]}, "several symbols"),
        ({"side": ["long", "sell", "long", "short"]}, "'side' must be 'long' or 'short', got 'sell' at row 1"),
        ({"contracts": [1.0, -2.0, 0.5, 1.0]}, "'contracts' must be > 0 (the side says the direction), got -2.0 at row 1"),
        ({"notional_usd": [1.0, 2.0, -3.0, 4.0]}, "'notional_usd' must be >= 0"),
        ({"notional_usd": [1.0, 2.0, math.inf, 4.0]}, "'notional_usd' must be a finite number, got inf at row 2"),
        ({"liquidation_price": [1.0, -5.0, 3.0, 4.0]}, "'liquidation_price' must be > 0 and finite"),
        ({"notional_usd": ["1", "x", "3", "4"]}, "'notional_usd' is not numeric"),
    ],
)
def test_bad_positions_get_a_clear_error(change, message):
    with pytest.raises(DataError) as err:
        measured_levels(positions(**change))
    assert message in str(err.value)


def test_symbol_picks_one_market_and_a_missing_one_is_named():
    pos = positions(symbol=["BTC/USDC:USDC", "ETH/USDC:USDC", "BTC/USDC:USDC", "BTC/USDC:USDC"])
    assert measured_levels(pos, symbol="BTC/USDC:USDC")["user"].tolist() == ["a", "c"]
    with pytest.raises(DataError, match=r"no position of symbol 'SOL/USDC:USDC'; the frame holds \['BTC/USDC:USDC', 'ETH/USDC:USDC'\]"):
        measured_levels(pos, symbol="SOL/USDC:USDC")
    with pytest.raises(DataError, match=r"missing column\(s\) \['liquidation_price'\]"):
        measured_levels(positions().drop(columns="liquidation_price"))
    with pytest.raises(DataError, match="must be a DataFrame"):
        measured_levels([1, 2])  # type: ignore[arg-type]


# -- fit_profile -----------------------------------------------------------------------------------------
PLANTED = {3.0: 0.15, 10.0: 0.40, 20.0: 0.30, 40.0: 0.15}


def planted_positions(n=4000, seed=3):
    """Accounts whose notional-weighted leverage mix is PLANTED (stated leverages jittered off the ladder)."""
    rng = np.random.default_rng(seed)
    lev = rng.choice(list(PLANTED), size=n, p=list(PLANTED.values()))
    notional = rng.lognormal(11, 1.0, size=n)
    stated = lev * np.exp(rng.uniform(-0.08, 0.08, size=n))  # 10x reads 9.2x-10.8x: still nearest to 10x
    side = np.where(rng.random(n) < 0.5, "long", "short")
    entry = rng.uniform(60_000, 80_000, size=n)
    mmr = 1 / 80
    liq = np.where(side == "long", entry * (1 - 1 / lev + mmr), entry * (1 + 1 / lev - mmr))
    return pd.DataFrame({"user": [f"u{i}" for i in range(n)], "side": side, "notional_usd": notional,
                         "entry_price": entry, "leverage": stated, "liquidation_price": liq}), lev


def test_fit_profile_is_each_tiers_notional_share():
    pos, lev = planted_positions()
    p = fit_profile(pos)
    assert p.leverages.tolist() == sorted(PLANTED)
    for L, w in zip(p.leverages, p.weights_array, strict=True):
        exact = pos["notional_usd"][lev == L].sum() / pos["notional_usd"].sum()
        assert w == pytest.approx(exact, abs=1e-12)
        assert w == pytest.approx(PLANTED[L], abs=0.04)  # the planted mix, within sampling noise
    assert p.mmrs.tolist() == [1 / 80] * 4  # Hyperliquid's rule at the top tier, 40x


def test_fit_profile_implied_recovers_the_leverage_behind_the_venues_prices():
    pos, _ = planted_positions()
    implied = fit_profile(pos, use="implied", max_leverage=40)
    stated = fit_profile(pos)
    assert implied.leverages.tolist() == stated.leverages.tolist()
    assert implied.weights_array == pytest.approx(stated.weights_array, abs=1e-12)
    # a cross account with spare collateral sits further away: it reads as a lower leverage
    far = pos.assign(liquidation_price=np.where(pos["side"] == "long", pos["entry_price"] * 0.5, pos["entry_price"] * 1.5))
    assert fit_profile(far, use="implied", max_leverage=40).leverages.tolist() == [2.0]


def test_a_fitted_profile_runs_in_every_model_call():
    pos = sample_positions()
    p = fit_profile(pos)
    df = lt.load_sample().iloc[-300:]
    hm = lt.liquidation_heatmap(df, leverage=p)
    assert np.isfinite(hm.long).all() and hm.long.sum() > 0
    lv = hm.levels_at(len(df) - 1)
    assert lt.simulate_cascade(lv, float(df["close"].iloc[-1]), 0.01, depth_usd=1e9).final_price > 0
    assert len(lt.clusters_at(df, leverage=p).clusters) >= 1


@pytest.mark.parametrize(
    ("kwargs", "change", "message"),
    [
        ({}, {"leverage": [10.0, 0.5, 3.0, 5.0]}, "'leverage' must be a finite number >= 1, got 0.5 at row 1"),
        ({}, {"leverage": [10.0, math.nan, 3.0, 5.0]}, "'leverage' must be a finite number >= 1"),
        ({"use": "guess"}, {}, "use must be 'stated' or 'implied'"),
        ({"tiers": [0.5, 2]}, {}, "tiers must be leverages >= 1"),
        ({"max_leverage": 5}, {}, "max_leverage must be >= the highest fitted tier 20"),
        ({}, {"notional_usd": [0.0] * 4}, "sums to 0"),
    ],
)
def test_fit_profile_bad_input(kwargs, change, message):
    with pytest.raises(DataError) as err:
        fit_profile(positions(**change), **kwargs)
    assert message in str(err.value)


def test_venue_ladder_is_the_default_tiers():
    p = fit_profile(positions(leverage=[12.0, 13.0, 1.2, 200.0]))
    assert p.leverages.tolist() == [1.0, 10.0, 15.0, 125.0] and set(p.leverages) <= set(VENUE_LEVERAGES)


# -- compare_maps ----------------------------------------------------------------------------------------
def levels(rows):
    return pd.DataFrame(rows, columns=["price", "notional_usd", "side"])


P = 100.0


def test_a_model_where_the_accounts_are_scores_one():
    measured = levels([(95.5, 10, "long"), (93.5, 5, "long"), (104.5, 8, "short"), (101.5, 2, "short")])
    c = compare_maps(measured, measured, P, bin_pct=1, reach_pct=8)
    assert c.table.loc["long", "share_top"] == 1.0 and c.table.loc["short", "share_top"] == 1.0
    assert c.table.loc["long", "top_bins"] == 2 and c.table.loc["long", "chance"] == 2 / 8
    assert c.table.loc["short", "share_nearest"] == 0.2  # the bins 0-2% above hold the 2 of 10
    assert c.table.loc["long", "share_nearest"] == 0.0


def test_known_answer_with_chance_nearest_and_spearman():
    # 20 bins a side (reach 20%, bins of 1%): the model puts mass in bins 10..14 below the price, rising
    modelled = levels([(P * (1 - (j + 0.5) / 100), float(j), "long") for j in range(10, 15)] + [(150.0, 1.0, "short")])
    # the accounts: 60 in bin 12, 30 in bin 0 (right at the price), 10 in bin 19
    measured = levels([(P * (1 - 0.125), 60.0, "long"), (P * (1 - 0.005), 30.0, "long"), (P * (1 - 0.195), 10.0, "long"),
                       (P * 1.1, 5.0, "short")])
    c = compare_maps(modelled, measured, P)
    r = c.table.loc["long"]
    assert (r["bins"], r["top_bins"]) == (20, 5)
    assert r["share_top"] == pytest.approx(0.6)
    assert r["chance"] == 0.25
    assert r["share_nearest"] == pytest.approx(0.3)
    mod = np.zeros(20)
    mod[10:15] = np.arange(10, 15)
    mea = np.zeros(20)
    mea[[12, 0, 19]] = [60, 30, 10]
    from scipy.stats import spearmanr

    assert r["spearman"] == pytest.approx(spearmanr(mod, mea).statistic, abs=1e-12)
    assert (r["modelled_usd"], r["measured_usd"]) == (60.0, 100.0)
    s = c.table.loc["short"]  # the model has nothing within 20% above: no share, measured said
    assert math.isnan(s["share_top"]) and s["measured_usd"] == 5.0
    assert "Shorts: the model puts nothing within 20% above $100" in c.summary()
    bins = c.bins[c.bins["side"] == "long"]
    assert bins["low"].iloc[12] == pytest.approx(87.0) and bins["high"].iloc[12] == pytest.approx(88.0)
    assert bins["top"].sum() == 5 and bins["measured_usd"].sum() == 100.0


def test_a_model_far_from_the_accounts_scores_zero_and_levels_out_of_reach_do_not_count():
    measured = levels([(99.5, 10, "long"), (100.5, 10, "short"), (50.0, 1e9, "long"), (101.0, 1e9, "long")])
    modelled = levels([(85.5, 10, "long"), (115.5, 10, "short")])
    c = compare_maps(modelled, measured, P)
    assert c.table["share_top"].tolist() == [0.0, 0.0]
    assert c.table["share_nearest"].tolist() == [1.0, 1.0]
    assert c.table["measured_usd"].tolist() == [10.0, 10.0]  # 50 is out of reach; a long above the price is not a long level


def test_coverage_accounts_and_the_positions_frame_directly():
    pos = positions()
    c = compare_maps(measured_levels(pos), pos, 100_000.0, open_interest_usd=4.5e6)
    assert c.coverage == pytest.approx(0.1)  # every measured position, with or without a price: 450k of 4.5M
    assert c.accounts == 4 and c.no_price == 1
    text = c.summary()
    assert "10.0% of the $4.5M open interest" in text and "a sample of accounts, not the market" in text
    assert "1 measured position(s) have no liquidation price" in text


def test_comparison_plot_mirrors_the_bins():
    from liqtools.plotting.compare import comparison_data

    measured = levels([(95.5, 10, "long"), (104.5, 8, "short")])
    modelled = levels([(95.5, 30, "long"), (96.5, 10, "long"), (104.5, 8, "short")])
    c = compare_maps(modelled, measured, P, bin_pct=1, reach_pct=8)
    data = comparison_data(c)
    assert len(data["x"]) == 16
    assert data["modelled_share"][:8].sum() == pytest.approx(1.0) and data["measured_share"][:8].sum() == pytest.approx(-1.0)
    assert data["modelled_share"][4] == pytest.approx(0.75)
    fig = c.plot()
    assert fig.select_one({"name": "comparison_bars"}).data["x"].tolist() == data["x"].tolist()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bin_pct": 0}, "bin_pct must be a percentage"),
        ({"reach_pct": math.nan}, "reach_pct must be a percentage"),
        ({"bin_pct": 3, "reach_pct": 20}, "whole multiple"),
        ({"open_interest_usd": -1.0}, "open_interest_usd must be a positive number"),
        ({"price": 0.0}, "price must be a positive number"),
    ],
)
def test_compare_maps_bad_arguments(kwargs, message):
    lv = levels([(95.5, 10, "long")])
    args = {"price": P, **kwargs}
    with pytest.raises(DataError, match=message):
        compare_maps(lv, lv, args.pop("price"), **args)


def test_positions_of_another_market_are_named():
    btc_model = levels([(95_000.0, 1e6, "long"), (105_000.0, 1e6, "short")])
    eth_positions = levels([(3_100.0, 1e5, "long"), (3_900.0, 1e5, "short")])
    with pytest.raises(DataError, match=r"no measured liquidation price lies within 20% .*the nearest is \$3,900.*another market"):
        compare_maps(btc_model, eth_positions, 100_000.0)
