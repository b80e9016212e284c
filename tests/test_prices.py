import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqtools import (
    BINANCE_BTCUSDT_BRACKETS,
    BINANCE_BTCUSDT_BRACKETS_DATE,
    bracket_for,
    liquidation_price,
    position_liquidation_price,
)


@pytest.mark.parametrize(
    "leverage, side, expected",
    [(10, "long", 90_361.4), (10, "short", 109_561.8), (100, "long", 99_397.6), (100, "short", 100_597.6)],
)
def test_known_answers(leverage, side, expected):
    assert round(liquidation_price(100_000, leverage, side), 1) == expected


def test_exact_formula_differs_from_the_shortcut_at_high_leverage():
    exact = liquidation_price(100_000, 100, "long")
    shortcut = 100_000 * (1 - 1 / 100 + 0.004)
    assert exact == pytest.approx(99_397.59036, rel=1e-9)
    assert abs(exact - shortcut) > 2.0  # the shortcut is off by about $2.4 per $100k at 100x


def test_arrays_broadcast():
    q = liquidation_price(np.array([[100.0], [200.0]]), np.array([10.0, 20.0]), "long", mmr=0.0)
    np.testing.assert_allclose(q, [[90.0, 95.0], [180.0, 190.0]])
    sides = liquidation_price(100.0, 10.0, np.array(["long", "short"]), mmr=0.0)
    np.testing.assert_allclose(sides, [90.0, 110.0])


@given(
    entry=st.floats(1e-3, 1e7),
    leverage=st.floats(1.0, 125.0),
    mmr=st.floats(0.0, 0.007),
)
def test_long_below_and_short_above_entry(entry, leverage, mmr):
    long_q = liquidation_price(entry, leverage, "long", mmr=mmr)
    short_q = liquidation_price(entry, leverage, "short", mmr=mmr)
    assert 0 <= long_q <= entry * (1 + 1e-12)
    assert short_q >= entry * (1 - 1e-12)
    # the maintenance margin moves the long's price up and the short's down
    assert long_q >= liquidation_price(entry, leverage, "long", mmr=0.0) * (1 - 1e-12)
    assert short_q <= liquidation_price(entry, leverage, "short", mmr=0.0) * (1 + 1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"entry": 0.0}, "entry"),
        ({"entry": -5.0}, "entry"),
        ({"leverage": 0.5}, "leverage must be >= 1"),
        ({"mmr": 1.0}, "mmr"),
        ({"mmr": -0.1}, "mmr"),
        ({"leverage": 300.0}, "too high"),
        ({"side": "buy"}, "side"),
        ({"entry": float("nan")}, "entry"),
        ({"maintenance_amount": 10.0}, "notional"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"entry": 100.0, "leverage": 10.0, "side": "long"} | kwargs
    entry, leverage, side = args.pop("entry"), args.pop("leverage"), args.pop("side")
    with pytest.raises(ValueError, match=match):
        liquidation_price(entry, leverage, side, **args)


def test_bracket_table_is_dated_and_continuous():
    assert BINANCE_BTCUSDT_BRACKETS_DATE
    b = BINANCE_BTCUSDT_BRACKETS
    np.testing.assert_array_equal(b["notional_floor"].to_numpy()[1:], b["notional_cap"].to_numpy()[:-1])
    # maintenance margin mmr * N - cum is continuous at every floor
    floors = b["notional_floor"].to_numpy()[1:]
    below = floors * b["mmr"].to_numpy()[:-1] - b["maintenance_amount"].to_numpy()[:-1]
    above = floors * b["mmr"].to_numpy()[1:] - b["maintenance_amount"].to_numpy()[1:]
    np.testing.assert_allclose(below, above)
    assert (np.diff(b["max_leverage"].to_numpy()) <= 0).all()


def test_position_uses_its_bracket():
    assert position_liquidation_price(100_000, 10, "long", 50_000) == liquidation_price(100_000, 10, "long")
    row = bracket_for(1_000_000)
    assert row["mmr"] == 0.0065 and row["maintenance_amount"] == 1_500
    q = position_liquidation_price(100_000, 10, "long", 1_000_000)
    # by hand: quantity 10 BTC, wallet 100k; (100k*(1-0.1) - 1500/10) / (1 - 0.0065)
    assert q == pytest.approx((90_000 - 150) / 0.9935, rel=1e-12)
    short = position_liquidation_price(100_000, 10, "short", 1_000_000)
    assert short == pytest.approx((110_000 + 150) / 1.0065, rel=1e-12)


def test_bracket_errors():
    with pytest.raises(ValueError, match="exceeds the maximum 50x"):
        position_liquidation_price(100_000, 75, "long", 5_000_000)
    with pytest.raises(ValueError, match="outside the bracket table"):
        bracket_for(5e9)
    with pytest.raises(ValueError, match="notional must be > 0"):
        bracket_for(0)


def test_bracket_tiers_are_floor_exclusive_cap_inclusive():
    """Binance: a tier holds floor < notional <= cap, so 125x is allowed at exactly 300,000 USDT."""
    assert bracket_for(300_000).name == 1
    assert bracket_for(300_000.01).name == 2
    assert bracket_for(299_999.99).name == 1
    assert bracket_for(800_000).name == 2 and bracket_for(1.2e9).name == 12
    assert position_liquidation_price(100_000, 125, "long", 300_000) == pytest.approx(100_000 * (1 - 1 / 125) / 0.996)
    with pytest.raises(ValueError, match="exceeds the maximum 100x"):
        position_liquidation_price(100_000, 125, "long", 300_001)
    with pytest.raises(ValueError, match="outside the bracket table"):
        bracket_for(1.2e9 + 1)
    assert isinstance(BINANCE_BTCUSDT_BRACKETS, pd.DataFrame)


def _one_tier(cum):
    return pd.DataFrame(
        {"notional_floor": [0.0], "notional_cap": [1e12], "max_leverage": [10.0], "mmr": [0.01], "maintenance_amount": [cum]}
    )


@pytest.mark.parametrize("cum", [1e9, float("nan"), float("inf")])
def test_maintenance_amounts_that_break_the_price_are_refused(cum):
    with pytest.raises(ValueError, match="maintenance"):
        position_liquidation_price(100_000, 10, "long", 1_000_000, brackets=_one_tier(cum))
    with pytest.raises(ValueError, match="maintenance"):
        liquidation_price(100_000, 10, "long", maintenance_amount=cum, notional=1_000_000)


@pytest.mark.parametrize("kwargs", [{"entry": 1.7e308}, {"entry": float("inf")}, {"notional": float("inf"), "maintenance_amount": 1.0}])
def test_overflowing_inputs_are_refused(kwargs):
    args = {"entry": 100.0, "leverage": 10.0, "side": "short"} | kwargs
    entry, leverage, side = args.pop("entry"), args.pop("leverage"), args.pop("side")
    with pytest.raises(ValueError):
        liquidation_price(entry, leverage, side, **args)
    with pytest.raises(ValueError, match="notional"):
        bracket_for(float("inf"))
