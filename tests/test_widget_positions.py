"""MapExplorer(df, positions=...): the measured map under the modelled one, and the comparison in the readout."""

from __future__ import annotations

import numpy as np
import pytest

import liqtools as lt
from liqtools.data import sample_positions
from liqtools.widgets import MapExplorer


@pytest.fixture(scope="module")
def pos():
    return sample_positions()


def expected(ex, pos):
    """The measured bars and the comparison as the analysis functions give them for the explorer's state."""
    price = ex.current_price()
    m = ex.map
    measured = lt.measured_levels(pos)
    bars = lt.liquidation_map(measured, price, bin_size=float(ex.controls["bin_size"].value),
                              price_range=(float(m["low"].iloc[0]), float(m["high"].iloc[-1])))
    oi = None  # coverage: against the open interest when the positions were read (data mode)
    if not ex.teaching:
        oi = float(ex.df["oi_usd"].ffill()[ex.df.index <= pos["time"].max()].iloc[-1])
    comparison = lt.compare_maps(ex.current_levels(), measured, price, open_interest_usd=oi)
    return bars, comparison


def check(ex, pos):
    bars, comparison = expected(ex, pos)
    data = ex.measured.source.data
    assert data["price"].tolist() == bars.index.tolist()
    assert data["long_usd"].tolist() == bars["long_usd"].tolist()
    assert data["short_usd"].tolist() == bars["short_usd"].tolist()
    assert ex.measured.figure.x_range is ex.map_figure.x_range  # one price axis
    lines = comparison.summary().splitlines()
    assert ex.readout_lines[-len(lines):] == lines


def test_measured_map_under_the_modelled_one_in_data_mode(pos):
    df = lt.load_sample()
    ex = MapExplorer(df, positions=pos)
    assert ex.df.index[ex.controls["time"].value] == pos["time"].max()  # opens at the candle the positions were read in
    check(ex, pos)
    assert any("top quarter of bins" in line for line in ex.readout_lines)
    assert any("a sample of accounts, not the market" in line for line in ex.readout_lines)
    ex.update(w5x=0, w100x=50)  # the modelled map moves, the measured bars stay, the comparison follows
    before = ex.measured.source.data["long_usd"].copy()
    check(ex, pos)
    assert np.array_equal(ex.measured.source.data["long_usd"], before)
    ex.controls["bin_size"].value = ex.controls["bin_size"].options[-1][1]
    check(ex, pos)
    ex.controls["time"].value = 1500  # another candle: still compared, at that candle's price
    check(ex, pos)


def test_teaching_mode_with_positions_and_a_comparison_that_cannot_be_made(pos):
    ex = MapExplorer(price=73_400, open_interest_usd=2e9, positions=pos)
    check(ex, pos)
    ex.controls["price"].value = 70_000.0  # the teaching map moves under the same measured positions
    check(ex, pos)
    assert ex.measured.comparison.open_interest_usd is None  # no venue figure in teaching mode: no coverage
    far = MapExplorer(price=5_000, open_interest_usd=2e9, positions=pos)  # every measured price out of reach
    assert any(line.startswith("No comparison with the measured map: no measured liquidation price lies within") for line in far.readout_lines)
    assert far.measured.comparison is None
