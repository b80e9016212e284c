"""Shared checks of the widget tests: a source holds exactly the analysis result."""

import numpy as np

import liqtools as lt
from liqtools.analysis.moment import describe_clusters
from liqtools.plotting.figures import map_data


def assert_source(ex, name, expected):
    data = ex.sources[name].data
    assert set(data) == set(expected), name
    for col, want in expected.items():
        got = data[col]
        if len(want) and isinstance(want[0], np.ndarray):  # image columns
            for g, w in zip(got, want):
                np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        elif np.asarray(want).dtype.kind in "fi":
            np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(want, dtype=float), err_msg=f"{name}.{col}")
        else:
            assert list(got) == list(want), f"{name}.{col}"


def expected_map(ex, levels, price):
    rng = (float(ex.map["low"].iloc[0]), float(ex.map["high"].iloc[-1]))
    m = lt.liquidation_map(levels, price, bin_size=float(ex.controls["bin_size"].value), price_range=rng)
    c = lt.find_clusters(m, price, top=3)
    return m, c, map_data(m, price, c)


def check_map_explorer(ex, levels, price):
    _m, c, data = expected_map(ex, levels, price)
    for name, cols in data.items():
        assert_source(ex, name, cols)
    for sentence in describe_clusters(c, price):
        assert sentence.replace("'", "&#x27;") in ex.readout.value
