import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqtools import LeverageProfile, find_clusters, liquidation_map, liquidation_price, synthetic_levels
from liqtools.errors import DataError


def random_levels(seed, n=200, center=100.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "price": center * np.exp(rng.normal(0, 0.1, n)),
            "notional_usd": rng.lognormal(10, 1, n),
            "side": rng.choice(["long", "short"], n),
        }
    )


@given(seed=st.integers(0, 5000), price=st.floats(80, 120), size=st.sampled_from([0.5, 1.0, 2.5]))
def test_map_cumulative_curves_match_the_definition(seed, price, size):
    lv = random_levels(seed)
    m = liquidation_map(lv, price, bin_size=size)
    q, v, s = lv["price"].to_numpy(), lv["notional_usd"].to_numpy(), lv["side"].to_numpy()
    for row in m.itertuples():
        want_short = v[(s == "short") & (q > price) & (q <= row.high)].sum() if row.high > price else 0.0
        want_long = v[(s == "long") & (q >= row.low) & (q < price)].sum() if row.low <= price else 0.0
        assert row.cum_short_usd == pytest.approx(want_short, rel=1e-9, abs=1e-6)
        assert row.cum_long_usd == pytest.approx(want_long, rel=1e-9, abs=1e-6)
    # bins hold every level inside the range, by side
    inside = (q >= m["low"].iloc[0]) & (q < m["high"].iloc[-1])
    assert m["long_usd"].sum() == pytest.approx(v[inside & (s == "long")].sum(), rel=1e-9)
    assert m["short_usd"].sum() == pytest.approx(v[inside & (s == "short")].sum(), rel=1e-9)
    assert (np.diff(m["low"]) > 0).all() and np.allclose(m["high"] - m["low"], size)


def test_map_reads_a_band():
    lv = pd.DataFrame({"price": [72_600.0, 75_000.0, 79_400.0, 81_000.0], "notional_usd": [1e9, 5e8, 4e8, 7e8], "side": "short"})
    m = liquidation_map(lv, 72_000.0, bin_size=500.0)
    at = m.set_index("high")["cum_short_usd"]
    assert at[79_500.0] - at[72_500.0] == pytest.approx(1.9e9)


def test_map_errors():
    lv = random_levels(1)
    with pytest.raises(ValueError, match="price"):
        liquidation_map(lv, -1.0)
    with pytest.raises(ValueError, match="side"):
        liquidation_map(lv.assign(side="up"), 100.0)
    with pytest.raises(ValueError, match="missing column"):
        liquidation_map(lv.drop(columns="side"), 100.0)
    with pytest.raises(ValueError, match="'price' has a non-finite value nan at row 3"):
        liquidation_map(lv.assign(price=lv["price"].where(lv.index != 3)), 100.0)
    with pytest.raises(ValueError, match="notional_usd"):
        liquidation_map(lv.assign(notional_usd=-1.0), 100.0)


def test_synthetic_levels_follow_the_tiers():
    lv = synthetic_levels(100_000, 1e9, spread=0.0, n_entries=1)
    p = LeverageProfile.default()
    longs = lv[lv.side == "long"].sort_values("price")
    np.testing.assert_allclose(np.sort(longs["price"]), np.sort(liquidation_price(100_000.0, p.leverages, "long")))
    assert longs["notional_usd"].sum() == pytest.approx(1e9)
    assert lv[lv.side == "short"]["notional_usd"].sum() == pytest.approx(1e9)  # "both": every contract has two sides
    split = synthetic_levels(100_000, 1e9, split=0.7)
    assert split.groupby("side")["notional_usd"].sum().to_dict() == pytest.approx({"long": 7e8, "short": 3e8})
    wide = synthetic_levels(100_000, 1e9, spread=0.05, n_entries=101)
    assert len(wide) == 2 * 5 * 101
    entries_long = wide[wide.side == "long"]["price"]
    assert entries_long.min() < 80_000 < 100_000 * 0.99 < entries_long.max()


@pytest.mark.parametrize("kwargs, match", [({"spread": -0.1}, "spread"), ({"split": "taker"}, "teaching mode"), ({"split": 2.0}, "split")])
def test_synthetic_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic_levels(100.0, 1e6, **kwargs)
    with pytest.raises(ValueError, match="open_interest_usd"):
        synthetic_levels(100.0, -1.0)


def test_clusters_find_planted_bands():
    rng = np.random.default_rng(3)
    background = pd.DataFrame({"price": rng.uniform(80, 120, 400), "notional_usd": 1.0})
    background["side"] = np.where(background["price"] > 100, "short", "long")
    bands = pd.DataFrame(
        {"price": np.r_[rng.uniform(104, 106, 50), rng.uniform(90, 91, 40)], "notional_usd": 10.0, "side": ["short"] * 50 + ["long"] * 40}
    )
    m = liquidation_map(pd.concat([background, bands], ignore_index=True), 100.0, bin_size=0.5)
    c = find_clusters(m, 100.0)
    top_short = c[c.side == "short"].iloc[0]
    top_long = c[c.side == "long"].iloc[0]
    assert top_short.low == pytest.approx(104.0) and top_short.high == pytest.approx(106.0)
    assert top_long.low == pytest.approx(90.0) and top_long.high == pytest.approx(91.0)
    assert top_short.distance_pct == pytest.approx(4.0) and top_long.distance_pct == pytest.approx(-9.0)
    assert 0 < top_short.share <= 1 and list(c.columns) == ["side", "low", "high", "notional_usd", "distance_pct", "share"]
    assert (c.groupby("side")["notional_usd"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_clusters_ignore_levels_on_the_wrong_side():
    lv = pd.DataFrame({"price": [95.0, 105.0], "notional_usd": [100.0, 100.0], "side": ["short", "long"]})
    assert find_clusters(liquidation_map(lv, 100.0, bin_size=1.0), 100.0).empty


def test_cluster_errors():
    m = liquidation_map(random_levels(2), 100.0)
    with pytest.raises(ValueError, match="threshold"):
        find_clusters(m, 100.0, threshold=0)
    with pytest.raises(ValueError, match="missing column"):
        find_clusters(m.drop(columns="cum_long_usd"), 100.0)


def test_clusters_need_a_map_that_contains_the_price():
    lv = pd.DataFrame({"price": [101.0, 120.5], "notional_usd": [1e6, 1.0], "side": "short"})
    m = liquidation_map(lv, 100.0, bin_size=1.0, price_range=(120.0, 130.0))
    with pytest.raises(ValueError, match="must contain the price 100"):
        find_clusters(m, 100.0)


def test_cluster_share_is_of_the_whole_side_and_filters_are_optional():
    lv = pd.DataFrame({"price": [101.5, 101.2, 150.5], "notional_usd": [10.0, 10.0, 20.0], "side": "short"})
    m = liquidation_map(lv, 100.0, bin_size=1.0)
    c = find_clusters(m, 100.0)
    assert c["notional_usd"].tolist() == [20.0, 20.0] and c["share"].tolist() == [0.5, 0.5]
    near = find_clusters(m, 100.0, max_distance_pct=10)
    assert near["low"].tolist() == [101.0] and near["share"].tolist() == [0.5]


def test_non_numeric_levels_are_named():
    with pytest.raises(ValueError, match="'price' is not numeric"):
        liquidation_map(pd.DataFrame({"price": ["abc"], "notional_usd": [1.0], "side": ["long"]}), 100.0)


def test_cumulative_curves_known_answer_at_the_edges():
    """MODEL.md section 4: cum_short(p) counts shorts with P < q <= p, cum_long(p) longs with p <= q < P."""
    lv = pd.DataFrame(
        {
            "price": [100.0, 101.0, 102.0, 102.5, 98.0, 99.0, 100.0],
            "notional_usd": [1.0, 10.0, 100.0, 1000.0, 2.0, 20.0, 200.0],
            "side": ["short", "short", "short", "short", "long", "long", "long"],
        }
    )
    m = liquidation_map(lv, 100.0, bin_size=1.0).set_index("low")
    assert m.loc[100.0, "cum_short_usd"] == 10.0  # p = 101: the short at 101 counts, the one at P = 100 does not
    assert m.loc[101.0, "cum_short_usd"] == 110.0  # p = 102
    assert m.loc[102.0, "cum_short_usd"] == 1110.0  # p = 103
    assert m.loc[99.0, "cum_long_usd"] == 20.0  # p = 99: the long at 99 counts, the one at P does not
    assert m.loc[98.0, "cum_long_usd"] == 22.0


def test_unbounded_sizes_are_refused_at_once():
    with pytest.raises(ValueError, match="n_entries"):
        synthetic_levels(100.0, 1e6, n_entries=10**8)
    with pytest.raises(ValueError, match="n must be"):
        LeverageProfile.lognormal(n=10**7)


def test_notionals_that_overflow_are_refused():
    lv = pd.DataFrame({"price": [101.0, 102.0, 99.0, 98.0], "notional_usd": [1e308] * 4, "side": ["short", "short", "long", "long"]})
    with pytest.raises(ValueError, match="overflow"):
        liquidation_map(lv, 100.0, bin_size=1.0)
    with pytest.raises(ValueError, match="overflow"):
        synthetic_levels(100.0, 1.7e308, split="both")


@pytest.mark.parametrize("kwargs, match", [({"top": -1}, "top"), ({"top": 1.5}, "top"), ({"max_distance_pct": float("nan")}, "max_distance_pct"),
                                           ({"max_distance_pct": -1.0}, "max_distance_pct"), ({"min_share": float("nan")}, "min_share"),
                                           ({"threshold": float("inf")}, "threshold"), ({"gap": 1.5}, "gap")])
def test_cluster_option_errors(kwargs, match):
    m = liquidation_map(random_levels(2), 100.0)
    with pytest.raises(ValueError, match=match):
        find_clusters(m, 100.0, **kwargs)


@pytest.mark.parametrize("options", [{}, {"half_life_mix": [(0.5, "1D"), (0.5, "7D")]}, {"entry": "path"}])
def test_the_map_from_arrays_is_the_frame_map_bit_for_bit(options):
    """A widget reads the map from the heatmap's arrays; the numbers are the frame path's, bit for bit (a mix's
    classes and the path's entries put several levels at one price: their order is the same)."""
    import liqtools as lt
    from liqtools.analysis.levels import liquidation_map_arrays

    df = lt.load_sample().iloc[:600]
    hm = lt.liquidation_heatmap(df, every=6, **options)
    rng = (float(hm.edges[0]), float(hm.edges[-1]))
    for t in (10, 300, -1):
        price, notional, is_long = hm.level_arrays_at(t)
        frame = hm.levels_at(t)
        assert np.array_equal(price, frame["price"]) and np.array_equal(notional, frame["notional_usd"])
        assert np.array_equal(is_long, (frame["side"] == "long").to_numpy())
        if options and t != 10:
            assert len(np.unique(price)) < len(price)  # levels at one price: their order matters for the sums
        p = hm.close_at(t)
        want = liquidation_map(frame, p, bin_size=hm.bin_size, price_range=rng)
        assert liquidation_map_arrays(price, notional, is_long, p, bin_size=hm.bin_size, price_range=rng).equals(want)


def test_the_map_from_arrays_names_bad_levels():
    from liqtools.analysis.levels import liquidation_map_arrays

    ok = np.array([90.0, 110.0])
    with pytest.raises(DataError, match=r"'notional_usd' has a non-finite value nan at row 1"):
        liquidation_map_arrays(ok, np.array([1.0, np.nan]), np.array([True, False]), 100.0)
    with pytest.raises(DataError, match=r"'notional_usd' must be >= 0, got -1.0 at row 0"):
        liquidation_map_arrays(ok, np.array([-1.0, 1.0]), np.array([True, False]), 100.0)
    with pytest.raises(DataError, match=r"one length, got shapes \(2,\), \(3,\), \(2,\)"):
        liquidation_map_arrays(ok, np.ones(3), np.array([True, False]), 100.0)
