import numpy as np
import pytest

from liqtools import LeverageProfile, liquidation_price


def test_default_is_model_section_2():
    p = LeverageProfile.default()
    assert p.leverages.tolist() == [5, 10, 25, 50, 100]
    assert p.weights_array.tolist() == [0.10, 0.25, 0.30, 0.20, 0.15]
    assert p.mmrs.tolist() == [0.004] * 5


def test_single_and_parse():
    assert LeverageProfile.single(20).leverages.tolist() == [20.0]
    p = LeverageProfile.parse("10x:0.4,25:0.6", mmr=0.005)
    assert p.leverages.tolist() == [10.0, 25.0] and p.mmrs.tolist() == [0.005, 0.005]
    assert LeverageProfile.parse("50").weights_array.tolist() == [1.0]


def test_per_tier_mmr_and_prices():
    p = LeverageProfile({10: 0.5, 20: 0.5}, mmr={10: 0.004, 20: 0.01})
    q = p.liquidation_prices([100.0, 200.0], "short")
    assert q.shape == (2, 2)
    assert q[1, 1] == liquidation_price(200.0, 20, "short", mmr=0.01)


@pytest.mark.parametrize(
    "weights, mmr, match",
    [
        ({10: 0.5, 20: 0.6}, 0.004, "sum to 1"),
        ({0.5: 1.0}, 0.004, "leverage must be >= 1"),
        ({10: 1.5, 20: -0.5}, 0.004, ">= 0"),
        ({}, 0.004, "non-empty"),
        ({10: 1.0}, 1.2, "mmr"),
        ({10: 0.5, 20: 0.5}, {10: 0.004}, "no entry for leverage 20"),
        ({500: 1.0}, 0.004, "too high"),
    ],
)
def test_bad_profiles(weights, mmr, match):
    with pytest.raises(ValueError, match=match):
        LeverageProfile(weights, mmr)


def test_parse_errors_name_the_text():
    with pytest.raises(ValueError, match="cannot read leverage profile"):
        LeverageProfile.parse("ten:1")
    assert np.isclose(LeverageProfile.parse("5:0.5,10:0.5").weights_array.sum(), 1.0)
