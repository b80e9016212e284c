import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import reference_cascade

from liqtools import asymmetry, simulate_cascade, synthetic_levels, tipping_point
from liqtools.analysis.cascade import RUNAWAY_FLOW, RUNAWAY_MOVE_PCT
from liqtools.data.depth import Depth, depth_table, market_depth, side_for
from liqtools.errors import DataError


def random_levels(seed, n=300, p0=100.0, width=0.08):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "price": p0 * np.exp(rng.normal(0, width, n)),
            "notional_usd": rng.lognormal(13, 1.2, n),
            "side": rng.choice(["long", "short"], n),
        }
    )


@pytest.mark.parametrize("impact", ["linear", "sqrt"])
@pytest.mark.parametrize("shock", [0.002, 0.01, 0.03, -0.002, -0.01, -0.03])
@pytest.mark.parametrize("depth", [2e5, 1e6, 5e7])
def test_equals_reference(impact, shock, depth):
    lv = random_levels(int(depth) % 97 + int(shock * 1000) + 50)
    r = simulate_cascade(lv, 100.0, shock, depth_usd=depth, impact=impact)
    final, total, steps = reference_cascade(lv, 100.0, shock, depth, impact)
    assert r.final_price == pytest.approx(final, rel=1e-9)
    assert r.total_usd == pytest.approx(total, rel=1e-9)
    assert len(r.steps) == len(steps)
    np.testing.assert_allclose(r.steps["price"], [s[0] for s in steps], rtol=1e-9)
    np.testing.assert_allclose(r.steps["cumulative_usd"], [s[1] for s in steps], rtol=1e-9)
    # step totals are consistent
    assert r.steps["liquidated_usd"].sum() == pytest.approx(r.total_usd, rel=1e-9)
    np.testing.assert_allclose(r.steps["liquidated_usd"].cumsum(), r.steps["cumulative_usd"], rtol=1e-9)
    assert (r.steps["liquidated_usd"].iloc[1:] > 0).all()
    assert r.direction == ("up" if shock > 0 else "down")


@given(seed=st.integers(0, 10_000), shock=st.floats(-0.2, 0.2), depth=st.floats(1e5, 1e8), impact=st.sampled_from(["linear", "sqrt"]))
def test_equals_reference_property(seed, shock, depth, impact):
    lv = random_levels(seed, n=60)
    r = simulate_cascade(lv, 100.0, shock, depth_usd=depth, impact=impact)
    final, total, _ = reference_cascade(lv, 100.0, shock, depth, impact)
    assert r.final_price == pytest.approx(final, rel=1e-9)
    assert r.total_usd == pytest.approx(total, rel=1e-9)


@given(seed=st.integers(0, 10_000), a=st.floats(0.0, 0.1), b=st.floats(0.0, 0.1), impact=st.sampled_from(["linear", "sqrt"]))
def test_monotone_in_shock(seed, a, b, impact):
    lv = random_levels(seed, n=80)
    lo, hi = sorted([a, b])
    up = [simulate_cascade(lv, 100.0, s, depth_usd=1e6, impact=impact).final_price for s in (lo, hi)]
    down = [simulate_cascade(lv, 100.0, -s, depth_usd=1e6, impact=impact).final_price for s in (lo, hi)]
    assert up[0] <= up[1] and down[0] >= down[1]


@given(seed=st.integers(0, 10_000), d1=st.floats(1e5, 1e8), d2=st.floats(1e5, 1e8), shock=st.floats(0.0, 0.05))
def test_monotone_in_inverse_depth(seed, d1, d2, shock):
    lv = random_levels(seed, n=80)
    thin, deep = sorted([d1, d2])
    assert simulate_cascade(lv, 100.0, shock, depth_usd=thin).final_price >= simulate_cascade(lv, 100.0, shock, depth_usd=deep).final_price
    assert simulate_cascade(lv, 100.0, -shock, depth_usd=thin).final_price <= simulate_cascade(lv, 100.0, -shock, depth_usd=deep).final_price


@given(shock=st.floats(-0.5, 0.5), impact=st.sampled_from(["linear", "sqrt"]))
def test_no_levels_gives_the_shocked_price(shock, impact):
    empty = pd.DataFrame({"price": [], "notional_usd": [], "side": []})
    r = simulate_cascade(empty, 100.0, shock, depth_usd=1e6, impact=impact)
    assert r.final_price == pytest.approx(100.0 * (1 + shock), rel=1e-12) and r.total_usd == 0 and r.n_steps == 0


@given(seed=st.integers(0, 10_000), shock=st.floats(0.0, 0.1))
def test_levels_on_the_wrong_side_never_trigger(seed, shock):
    lv = random_levels(seed)
    wrong = pd.concat(
        [
            lv[lv.side == "long"],  # longs never trigger an up cascade
            lv[(lv.side == "short") & (lv.price <= 100.0)],  # nor shorts at or below the start price
        ]
    )
    r = simulate_cascade(wrong, 100.0, shock, depth_usd=1e5)
    assert r.total_usd == 0 and r.final_price == pytest.approx(100.0 * (1 + shock))
    both = simulate_cascade(lv, 100.0, shock, depth_usd=1e5)
    only_right = simulate_cascade(lv[(lv.side == "short") & (lv.price > 100)], 100.0, shock, depth_usd=1e5)
    assert both.final_price == only_right.final_price


@given(seed=st.integers(0, 10_000), shock=st.floats(0.0, 0.2), impact=st.sampled_from(["linear", "sqrt"]))
def test_down_mirrors_up(seed, shock, impact):
    lv = random_levels(seed, n=100)
    p0 = 100.0
    mirrored = pd.DataFrame(
        {"price": p0**2 / lv["price"], "notional_usd": lv["notional_usd"], "side": lv["side"].map({"long": "short", "short": "long"})}
    )
    up = simulate_cascade(lv, p0, shock, depth_usd=1e6, impact=impact)
    down = simulate_cascade(mirrored, p0, 1.0 / (1.0 + shock) - 1.0, depth_usd=1e6, impact=impact)
    assert down.final_price == pytest.approx(p0**2 / up.final_price, rel=1e-9)
    assert down.total_usd == pytest.approx(up.total_usd, rel=1e-9)
    assert len(down.steps) == len(up.steps)


@pytest.mark.parametrize("impact", ["linear", "sqrt"])
@pytest.mark.parametrize("target", [103.0, 106.0, 97.0, 92.0])
def test_tipping_point_brackets_the_target(impact, target):
    lv = random_levels(4, n=2000, width=0.05)
    d = tipping_point(lv, 100.0, target, depth_usd=3e6, impact=impact)
    up = target > 100
    assert (d > 0) == up
    assert abs(d) <= abs(target / 100 - 1) + 1e-12

    def reaches(s):
        f = simulate_cascade(lv, 100.0, s, depth_usd=3e6, impact=impact).final_price
        return f >= target if up else f <= target

    assert reaches(d * 1.001)
    assert not reaches(d * 0.99)


def test_tipping_point_without_cascade_is_the_direct_move():
    empty = pd.DataFrame({"price": [], "notional_usd": [], "side": []})
    assert tipping_point(empty, 100.0, 105.0, depth_usd=1e6) == pytest.approx(0.05, rel=1e-6)
    assert tipping_point(empty, 100.0, 100.0, depth_usd=1e6) == 0.0


def test_tipping_point_error_names_the_maximum():
    empty = pd.DataFrame({"price": [], "notional_usd": [], "side": []})
    with pytest.raises(ValueError, match="no shock up to 10%"):
        tipping_point(empty, 100.0, 150.0, depth_usd=1e6, max_shock=0.1)


def test_asymmetry_table():
    lv = synthetic_levels(100.0, 1e8, split=0.7)  # more longs than shorts
    t = asymmetry(lv, 100.0, shocks=[0.005, 0.02], depth_usd=5e6)
    assert list(t["shock"]) == [0.005, 0.02]
    for _, row in t.iterrows():
        up = simulate_cascade(lv, 100.0, row.shock, depth_usd=5e6)
        down = simulate_cascade(lv, 100.0, -row.shock, depth_usd=5e6)
        assert row.up_final_price == up.final_price and row.down_final_price == down.final_price
        assert row.up_forced_usd == up.total_usd and row.down_steps == down.n_steps
        assert row.ratio == pytest.approx(abs(up.move_pct / down.move_pct))
    assert (t["down_forced_usd"] >= t["up_forced_usd"]).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth_usd": -1.0}, "depth_usd must be > 0"),
        ({"depth_usd": 0.0}, "depth_usd"),
        ({"shock": -1.0}, "shock must be"),
        ({"shock": float("nan")}, "shock"),
        ({"price": float("nan")}, "price"),
        ({"impact": "cubic"}, "impact"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"price": 100.0, "shock": 0.01, "depth_usd": 1e6} | kwargs
    with pytest.raises(ValueError, match=match):
        simulate_cascade(random_levels(1), args.pop("price"), args.pop("shock"), **args)


def test_bad_levels():
    lv = random_levels(1)
    with pytest.raises(ValueError, match="'side' must be 'long' or 'short'.*'buy'"):
        simulate_cascade(lv.assign(side="buy"), 100.0, 0.01, depth_usd=1e6)
    with pytest.raises(ValueError, match="'price' has a non-finite value nan at row 2"):
        simulate_cascade(lv.assign(price=lv.price.where(lv.index != 2)), 100.0, 0.01, depth_usd=1e6)


def test_summary_is_honest():
    r = simulate_cascade(random_levels(3), 100.0, 0.01, depth_usd=1e6)
    text = r.summary()
    assert "short squeeze" in text and "Estimate" in text and "real books thin out" in text
    assert f"{r.move_pct:+.2f}%" in text


@pytest.mark.parametrize("impact", ["linear", "sqrt"])
def test_long_chain_one_level_per_step_equals_reference(impact):
    # equally spaced shorts sized so that each liquidation reaches exactly the next level: a chain far
    # longer than the step loop, which the vectorised path must finish identically
    n = 400
    depth = 1e6
    q = 100.0 * np.exp(np.arange(1, n + 1) * 1e-4)
    if impact == "linear":
        v = np.full(n, 1e-2 * depth)  # each level adds m = 1e-4
    else:
        target_m = np.arange(1, n + 1) * 1e-4 + 5e-5
        v = np.diff(np.r_[0.0, depth * (target_m / 0.01) ** 2])
    lv = pd.DataFrame({"price": q, "notional_usd": v, "side": "short"})
    r = simulate_cascade(lv, 100.0, 1.5e-4, depth_usd=depth, impact=impact)
    final, total, steps = reference_cascade(lv, 100.0, 1.5e-4, depth, impact)
    assert len(r.steps) == len(steps) > 100
    assert r.steps["step"].tolist() == list(range(len(steps)))
    assert (r.steps["liquidated_usd"].iloc[1:] > 0).all()
    assert r.final_price == pytest.approx(final, rel=1e-9) and r.total_usd == pytest.approx(total, rel=1e-9)
    np.testing.assert_allclose(r.steps["price"], [s[0] for s in steps], rtol=1e-9)
    np.testing.assert_allclose(r.steps["cumulative_usd"], [s[1] for s in steps], rtol=1e-9)
    down = simulate_cascade(
        pd.DataFrame({"price": 1e4 / q, "notional_usd": v, "side": "long"}), 100.0, 1 / (1 + 1.5e-4) - 1, depth_usd=depth, impact=impact
    )
    assert down.final_price == pytest.approx(1e4 / r.final_price, rel=1e-9) and len(down.steps) == len(r.steps)


def test_runaway_linear_impact_is_a_clear_error_not_an_overflow():
    lv = synthetic_levels(100_000, 1e10)
    with pytest.raises(ValueError, match="x the depth.*impact='sqrt'"):
        simulate_cascade(lv, 100_000, 0.05, depth_usd=1e5, impact="linear")
    # the same book with square-root impact is finite, and far levels that are never reached do not trip it
    assert np.isfinite(simulate_cascade(lv, 100_000, 0.05, depth_usd=1e5, impact="sqrt").final_price)
    far = pd.DataFrame({"price": [101.0, 1e6], "notional_usd": [1e3, 1e15], "side": "short"})
    assert simulate_cascade(far, 100.0, 0.02, depth_usd=1e6, impact="linear").final_price < 110
    # a tipping point through a runaway chain is still found
    assert 0 < tipping_point(lv, 100_000, 150_000, depth_usd=1e5, impact="linear") < 0.5


# ---------------------------------------------------------------------------- the square-root default


def test_default_impact_is_the_square_root_law():
    # known answer: shorts at 101 ($1M) and 102 ($2M); +1% reaches 101, its $1M of buys moves
    # 0.01 * sqrt(1) = 1% (to 102.01, past 102), then $3M moves 0.01 * sqrt(3)
    lv = pd.DataFrame({"price": [101.0, 102.0, 110.0], "notional_usd": [1e6, 2e6, 1e6], "side": "short"})
    r = simulate_cascade(lv, 100.0, 0.01, depth_usd=1e6)
    assert r.impact == "sqrt"
    assert r.final_price == pytest.approx(101.0 * math.exp(0.01 * math.sqrt(3.0)), rel=1e-12)
    assert r.steps["price"].tolist() == pytest.approx([101.0, 101.0 * math.exp(0.01)])
    assert r.total_usd == 3e6
    linear = simulate_cascade(lv, 100.0, 0.01, depth_usd=1e6, impact="linear")
    assert linear.final_price == pytest.approx(101.0 * math.exp(0.03), rel=1e-12)
    # a forced flow of exactly D moves 1% under both laws; 4 D moves 2% (square root) or 4% (linear)
    one = pd.DataFrame({"price": [100.5], "notional_usd": [4e6], "side": "short"})
    assert simulate_cascade(one, 100.0, 0.01, depth_usd=4e6).final_price == pytest.approx(101.0 * math.exp(0.01))
    assert simulate_cascade(one, 100.0, 0.01, depth_usd=1e6).final_price == pytest.approx(101.0 * math.exp(0.02))
    assert simulate_cascade(one, 100.0, 0.01, depth_usd=1e6, impact="linear").final_price == pytest.approx(101.0 * math.exp(0.04))


def test_tipping_point_and_asymmetry_default_to_the_square_root():
    lv = pd.DataFrame({"price": [101.0, 102.5], "notional_usd": [1e6, 2e6], "side": "short"})
    # reaching 102.5 needs 100 (1 + d) e^0.01 >= 102.5; then $3M carries to 100 (1 + d) e^(0.01 sqrt 3) >= 104
    assert tipping_point(lv, 100.0, 104.0, depth_usd=1e6) == pytest.approx(1.04 / math.exp(0.01 * math.sqrt(3)) - 1, rel=1e-6)
    t = asymmetry(lv, 100.0, shocks=[0.02], depth_usd=1e6)
    assert t["up_final_price"].iloc[0] == pytest.approx(102.0 * math.exp(0.01 * math.sqrt(3)))


# ---------------------------------------------------------------------------- the documented depth


def test_depth_table_states_band_source_and_date_for_each_market():
    t = depth_table()
    assert sorted(set(t["market"])) == ["BTC", "ETH", "SOL"]
    assert (t.groupby("market")["side"].apply(sorted) == pd.Series({m: ["ask", "bid"] for m in ["BTC", "ETH", "SOL"]})).all()
    assert (t["depth_usd"] > 1e6).all()
    for col in ("band", "venue", "date", "source"):
        assert t[col].str.len().min() > 5 or col == "date", col
    assert set(t[t.market != "SOL"]["date"]) == {"2024-06-02", "2025-07-21"}
    assert "rough scale" in t[t.market == "SOL"]["note"].iloc[0]
    assert t["band"].str.contains("2% of mid, one side").all()


def test_market_depth_known_figures_and_names():
    btc = market_depth()
    assert (btc.coin, btc.bid_usd, btc.ask_usd) == ("BTC", 202.40e6 / 2, 209.44e6 / 2)  # Kaiko 2% sides, halved
    for name in ("btc", "BTCUSDT", "BTC/USDT:USDT", "btc-2025"):
        assert market_depth(name) == btc
    eth = market_depth("eth-2024")
    assert (eth.bid_usd, eth.ask_usd) == (91.75e6, pytest.approx(104.995e6))
    assert market_depth("SOL").bid_usd == pytest.approx(14.5e6 / 0.4453 / 2, rel=1e-9)
    with pytest.raises(DataError, match="no documented order-book depth for 'DOGE'.*BTC"):
        market_depth("DOGE")
    with pytest.raises(DataError, match="side must be"):
        btc.usd("mid")  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        btc.bid_usd = 1.0  # type: ignore[misc]  # frozen


def test_depth_record_uses_asks_for_a_squeeze_and_bids_for_a_flush():
    lv = random_levels(11, n=400)
    d = Depth("X", bid_usd=2e6, ask_usd=8e6, band="b", venue="v", date="2026-01-01", source="s")
    assert side_for(0.0) == "ask" and side_for(-1e-9) == "bid"
    up, down = simulate_cascade(lv, 100.0, 0.02, depth_usd=d), simulate_cascade(lv, 100.0, -0.02, depth_usd=d)
    assert up.depth_usd == 8e6 and down.depth_usd == 2e6 and up.depth is d
    assert up.final_price == simulate_cascade(lv, 100.0, 0.02, depth_usd=8e6).final_price
    assert down.final_price == simulate_cascade(lv, 100.0, -0.02, depth_usd=2e6).final_price
    t = asymmetry(lv, 100.0, shocks=[0.02], depth_usd=d)
    assert t["up_final_price"].iloc[0] == up.final_price and t["down_final_price"].iloc[0] == down.final_price
    assert tipping_point(lv, 100.0, 95.0, depth_usd=d) == tipping_point(lv, 100.0, 95.0, depth_usd=2e6)
    assert tipping_point(lv, 100.0, 105.0, depth_usd=d) == tipping_point(lv, 100.0, 105.0, depth_usd=8e6)
    text = up.summary()
    assert "per 1% of asks" in text and "Depth assumed: X asks $8.0M per 1% (b; v, 2026-01-01; s)." in text
    assert "per 1% of bids" in down.summary()
    with pytest.raises(DataError, match="depth_usd must be a number"):
        simulate_cascade(lv, 100.0, 0.01, depth_usd="deep")  # type: ignore[arg-type]


def test_sample_default_shock_gives_a_plausible_move():
    # the acceptance figure of issue 13: +1% on the bundled sample with the sourced BTC depth and the
    # square-root law moves the price a few percent, not +258%
    from liqtools import clusters_at, load_sample

    view = clusters_at(load_sample())
    r = simulate_cascade(view.levels, view.price, 0.01, depth_usd=market_depth("BTC"))
    assert 1.0 < r.move_pct < 5.0 and not r.runaway
    assert "final price $" in r.summary() and f"({r.move_pct:+.2f}%," in r.summary()


# ---------------------------------------------------------------------------- runaway flag


@pytest.mark.parametrize("impact", ["linear", "sqrt"])
def test_runaway_flag(impact):
    lv = pd.DataFrame({"price": [100.5], "notional_usd": [1e6], "side": "short"})
    calm = simulate_cascade(lv, 100.0, 0.01, depth_usd=1e6, impact=impact)
    assert not calm.runaway and calm.runaway_reason is None and "RUNAWAY" not in calm.summary()
    # flow just above the threshold multiple of the depth
    k = RUNAWAY_FLOW[impact]
    heavy = simulate_cascade(lv.assign(notional_usd=1.01 * k * 1e4), 100.0, 0.01, depth_usd=1e4, impact=impact)
    assert heavy.runaway and f"forced flow {1.01 * k:,.0f}x the depth" in heavy.runaway_reason
    assert "RUNAWAY (forced flow" in heavy.summary()
    at = simulate_cascade(lv.assign(notional_usd=k * 1e4), 100.0, 0.01, depth_usd=1e4, impact=impact)
    assert not at.runaway  # the threshold itself is not runaway
    # a move beyond 50% with no forced flow at all (a big shock) is flagged too
    big = simulate_cascade(lv.iloc[:0], 100.0, 0.6, depth_usd=1e6, impact=impact)
    assert big.runaway and big.runaway_reason == "a move of +60%" and RUNAWAY_MOVE_PCT == 50.0
    assert not simulate_cascade(lv.iloc[:0], 100.0, -0.5, depth_usd=1e6, impact=impact).runaway


# ---------------------------------------------------------------------------- tolerance errors


@pytest.mark.parametrize("rtol", [0.0, -1e-7, float("nan"), float("inf"), 1.0, "tight"])
def test_tipping_point_bad_rtol_fails_at_once(rtol):
    lv = random_levels(2)
    with pytest.raises(DataError, match="rtol must be a number in \\(0, 1\\)"):
        tipping_point(lv, 100.0, 104.0, depth_usd=1e6, rtol=rtol)


def test_tipping_point_rtol_below_machine_precision_still_ends():
    lv = random_levels(2, n=200)
    tight = tipping_point(lv, 100.0, 104.0, depth_usd=1e6, rtol=1e-300)
    assert tight == pytest.approx(tipping_point(lv, 100.0, 104.0, depth_usd=1e6), rel=1e-6)
