"""The closing logs (liqtools.analysis._build.class_steps and its compiled passes) against the numpy
operations that define them, bit for bit: unknown open interest, rises with and without turnover, ratios
below float range, complete closings, per-class decays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqtools.analysis._build import class_logs, class_steps
from liqtools.analysis.ingredients import RESET_NATS, ModelOptions, decay_log_factor


def numpy_steps(index, opts, prev, cur, turnover):
    """The definition in whole-array numpy operations (the code before the compiled passes)."""
    keep = np.fmin(prev, cur) - turnover
    with np.errstate(invalid="ignore", divide="ignore"):
        step = keep / prev
        tiny = ~(step > 1e-300)
        step = np.log(step)
        step[tiny] = np.log(keep[tiny]) - np.log(prev[tiny])
    zero = ~(np.isfinite(prev) & np.isfinite(cur)) | ((cur >= prev) & ~(turnover > 0))
    step[zero] = 0.0
    if opts.half_life is not None:
        step = step + decay_log_factor(index, opts.half_life)
    rows, resets = [], []
    for _, hl in opts.classes:
        row = step + decay_log_factor(index, hl, name="half_life_mix") if hl is not None else step.copy()
        row[np.isnan(row)] = -np.inf
        reset = row <= -RESET_NATS
        row[reset] = 0.0
        rows.append(row)
        resets.append(np.flatnonzero(reset))
    return np.array(rows), resets


def awkward_open_interest(n, seed):
    rng = np.random.default_rng(seed)
    oi = 5e9 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    oi[rng.integers(0, n, n // 20)] = np.nan  # unknown
    oi[rng.integers(0, n, 3)] = 1e-310  # collapses past float range: ratios below 1e-300, complete closings
    oi[rng.integers(1, n, n // 10)] = oi[rng.integers(0, n, n // 10)]  # repeats: cur == prev
    for at in rng.integers(0, n - 1, 5):  # ratios of 1e-302 and so on: taken from the logs, not reset
        oi[at : at + 2] = [1e29, 10.0 ** -rng.uniform(271, 275)]
    cur = pd.Series(oi).ffill().to_numpy()
    prev = np.concatenate([[np.nan], cur[:-1]])
    turnover = np.where(rng.random(n) < 0.3, rng.uniform(0, 2, n) * np.nan_to_num(np.fmin(prev, cur)), 0.0)  # some above keep
    return prev, cur, turnover


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("options", [{}, {"half_life": "7D"}, {"half_life_mix": [(0.5, "12h"), (0.5, None)]}, {"half_life_mix": [(0.3, "1h"), (0.7, "30D")], "half_life": "2D"}])
def test_class_steps_are_the_numpy_definition_bit_for_bit(seed, options):
    n = 5_000
    index = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    df = pd.DataFrame({"close": np.ones(n)}, index=index)
    prev, cur, turnover = awkward_open_interest(n, seed)
    opts = ModelOptions.build(**options)
    want, want_resets = numpy_steps(index, opts, prev, cur, turnover)
    assert sum(len(r) for r in want_resets) > 0 and np.isfinite(want).all()  # the awkward cases are there
    got, resets = class_steps(df, opts, prev, cur, turnover)
    assert got.tobytes() == want.tobytes()
    assert all(r.dtype == np.int64 and np.array_equal(r, w) for r, w in zip(resets, want_resets, strict=True))
    logs, resets = class_logs(df, opts, prev, cur, turnover)
    assert logs.tobytes() == np.cumsum(want, axis=1).tobytes()  # np.cumsum's own order of additions
    assert all(np.array_equal(r, w) for r, w in zip(resets, want_resets, strict=True))


def test_class_steps_of_no_candles():
    df = pd.DataFrame({"close": []}, index=pd.DatetimeIndex([], tz="UTC"))
    empty = np.zeros(0)
    logs, resets = class_logs(df, ModelOptions(), empty, empty, empty)
    assert logs.shape == (1, 0) and resets[0].shape == (0,)
