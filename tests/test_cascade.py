import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import reference_cascade

from liqtools import asymmetry, simulate_cascade, synthetic_levels, tipping_point


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
        simulate_cascade(lv, 100_000, 0.05, depth_usd=1e5)
    # the same book with square-root impact is finite, and far levels that are never reached do not trip it
    assert np.isfinite(simulate_cascade(lv, 100_000, 0.05, depth_usd=1e5, impact="sqrt").final_price)
    far = pd.DataFrame({"price": [101.0, 1e6], "notional_usd": [1e3, 1e15], "side": "short"})
    assert simulate_cascade(far, 100.0, 0.02, depth_usd=1e6).final_price < 110
    # a tipping point through a runaway chain is still found
    assert 0 < tipping_point(lv, 100_000, 150_000, depth_usd=1e5) < 0.5
