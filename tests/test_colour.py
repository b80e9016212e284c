"""The picture's colours in one compiled pass: the same palette index, cell for cell, as numpy's definition
(divide, nan_to_num, clip, truncate), on salted cells and on every kind of colour top."""

import numpy as np
import pytest

import liqtools as lt
from liqtools.plotting._colour import palette_cells
from liqtools.plotting.heatmap_time import _INFERNO_RGBA, heatmap_color_high, heatmap_rgba


def numpy_rgba(values, high, log=False):
    n = len(_INFERNO_RGBA)
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        if log:
            low = high / 1000.0
            frac = np.log(np.maximum(v, low) / low) / np.log(high / low) if high > low > 0 else np.zeros_like(v)
        else:
            frac = v / high if high > 0 else np.zeros_like(v)
        index = np.clip(np.nan_to_num(frac * n, nan=0.0, posinf=n - 1, neginf=0.0), 0, n - 1).astype(np.intp)
    return _INFERNO_RGBA[index]


@pytest.fixture(scope="module")
def cells():
    hm = lt.liquidation_heatmap(lt.load_sample(), every=3)
    v = hm.long.T + hm.short.T
    salted = v.copy()
    at = np.random.default_rng(7).choice(v.size, 400, replace=False)
    for k, x in enumerate((np.nan, np.inf, -np.inf, -5.0)):
        salted.flat[at[100 * k : 100 * (k + 1)]] = x
    return hm, v, salted


@pytest.mark.parametrize("log", [False, True])
def test_compiled_colours_match_numpy_cell_for_cell(cells, log):
    hm, v, salted = cells
    top = heatmap_color_high(hm)
    for high in (top, top * (1 + 1e-15), 0.0, -1.0, 1e-300, np.inf, np.nan):
        for x in (v, salted, v[:, ::3], salted[::2].T):  # strided and transposed views too
            assert np.array_equal(heatmap_rgba(x, high, log=log), numpy_rgba(x, high, log)), (high, log)
    # the cells exactly at a palette step's edge land on the upper colour, as truncation says
    edges = np.arange(257) / 256 * top
    assert np.array_equal(heatmap_rgba(edges[None, :], top), numpy_rgba(edges[None, :], top))


def test_palette_cells_shape_and_errors():
    palette = np.arange(4, dtype=np.uint32)
    assert palette_cells(np.array([0.0, 0.25, 0.5, 1.0]), 1.0, palette).tolist() == [0, 1, 2, 3]
    assert palette_cells(np.zeros((2, 3)), 1.0, palette).shape == (2, 3)
    assert palette_cells(np.ones((2, 2)), 0.0, palette).tolist() == [[0, 0], [0, 0]]  # no top: the first colour


def test_the_colour_top_is_numpys_percentile_of_the_positive_cells(cells):
    from liqtools.plotting._colour import positive_sums

    hm, _, salted = cells
    total = hm.long + hm.short
    for q in (0.0, 90.0, 99.5, 100.0):
        assert heatmap_color_high(hm, q) == float(np.percentile(total[total > 0], q))
    a, b = salted, -0.25 * np.abs(salted[::-1])  # NaN, inf, negative and cancelling cells
    with np.errstate(invalid="ignore"):
        s = a + b
        want = np.sort(s[s > 0])
    assert np.array_equal(np.sort(positive_sums(a, b)), want) and len(want) > 0
    assert positive_sums(np.zeros((3, 2)), np.zeros((3, 2))).size == 0
    with pytest.raises(ValueError, match="differ in shape"):
        positive_sums(np.zeros((3, 2)), np.zeros((2, 3)))
