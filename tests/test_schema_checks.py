"""The compiled yes/no checks behind validate_market (liqtools._checks) against the numpy definitions they
stand for, on columns salted with every kind of bad value; a no always ends in the schema's own error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqtools._checks import candles_fine, column_fine, none_above, times_fine
from liqtools.errors import DataError
from liqtools.schema import MAX_ABS_VALUE, validate_market

BAD = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1e-300, 2 * MAX_ABS_VALUE, -2 * MAX_ABS_VALUE, MAX_ABS_VALUE, -MAX_ABS_VALUE]


def numpy_fine(x, nullable, floor, strict):
    fine = np.abs(x) <= MAX_ABS_VALUE
    ok = (fine | np.isnan(x)).all() if nullable else fine.all()
    return bool(ok and not ((x <= floor) if strict else (x < floor)).any())


@pytest.mark.parametrize("seed", range(5))
def test_column_fine_is_the_numpy_definition(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        x = rng.uniform(1, 100, int(rng.integers(0, 50)))
        if len(x) and rng.random() < 0.7:
            x[rng.integers(0, len(x))] = BAD[rng.integers(0, len(BAD))]
        for nullable in (False, True):
            for floor, strict in ((0.0, True), (0.0, False), (-np.inf, False)):
                assert column_fine(x, nullable, floor, strict, MAX_ABS_VALUE) == numpy_fine(x, nullable, floor, strict), (x, nullable, floor, strict)


@pytest.mark.parametrize("seed", range(5))
def test_candles_fine_is_the_numpy_definition(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(0, 20))
        low = rng.uniform(1, 2, n)
        high = low + rng.uniform(0, 1, n)
        open_, close = (low + rng.uniform(0, 1, n) * (high - low) for _ in range(2))
        if n and rng.random() < 0.7:
            which = [open_, high, low, close][rng.integers(0, 4)]
            which[rng.integers(0, n)] += rng.choice([-2.0, 2.0, np.nan])
        want = not ((high < low) | (open_ > high) | (open_ < low) | (close > high) | (close < low)).any()
        assert candles_fine(open_, high, low, close) == want


@pytest.mark.parametrize("seed", range(5))
def test_times_fine_is_the_numpy_definition(seed):
    rng = np.random.default_rng(seed)
    nat = np.iinfo(np.int64).min
    for _ in range(200):
        t = np.cumsum(rng.integers(1, 5, int(rng.integers(0, 20)))).astype(np.int64)
        if len(t) and rng.random() < 0.7:
            t[rng.integers(0, len(t))] = rng.choice([nat, 0, int(t[0]), int(t[-1])])
        want = not (t == nat).any() and bool((np.diff(t) > 0).all())
        assert times_fine(t) == want, t


@pytest.mark.parametrize("seed", range(5))
def test_none_above_is_the_numpy_definition(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(0, 20))
        y = rng.uniform(1, 2, n)
        x = y * rng.uniform(0, 1, n)
        if n and rng.random() < 0.7:
            x[rng.integers(0, n)] = rng.choice([y[0] * (1 + 2e-9), y[-1] * (1 + 1e-10), np.nan, np.inf])
        if n and rng.random() < 0.3:
            y[rng.integers(0, n)] = np.nan
        assert none_above(x, y, 1 + 1e-9) == (not (x > y * (1 + 1e-9)).any())


def test_a_bad_time_deep_in_a_long_index_is_named():
    n = 200_000
    idx = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    df = pd.DataFrame({"open": 2.0, "high": 3.0, "low": 1.0, "close": 2.0, "volume": 5.0}, index=idx)
    times = idx.tz_localize(None).to_numpy()
    cases = (
        (np.datetime64("NaT"), "index has a missing timestamp at row 150000"),
        (times[149_999], "duplicate timestamp 2024-04-14 03:59:00\\+00:00 at rows 149999 and 150000"),
        (times[10], "index is not sorted: row 150000 \\(2024-01-01 00:10:00\\+00:00\\) comes before the row above it"),
    )
    for value, message in cases:
        bad = times.copy()
        bad[150_000] = value
        with pytest.raises(DataError, match=message):
            validate_market(df.set_axis(pd.DatetimeIndex(bad).tz_localize("UTC")))
    over = df.assign(taker_buy_volume=4.0)
    over.iloc[150_000, over.columns.get_loc("taker_buy_volume")] = 6.0
    with pytest.raises(DataError, match="taker_buy_volume exceeds volume at row 150000"):
        validate_market(over)


def test_a_bad_value_deep_in_a_long_frame_is_named():
    n = 200_000
    idx = pd.date_range("2024-01-01", periods=n, freq="min", tz="UTC")
    df = pd.DataFrame({"open": 2.0, "high": 3.0, "low": 1.0, "close": 2.0, "volume": 5.0, "oi_usd": np.nan}, index=idx)
    validate_market(df)  # NaN open interest is allowed (unknown)
    for col, value, message in (
        ("volume", -0.5, "'volume' must be >= 0, got -0.5 at row 150000"),
        ("oi_usd", 0.0, "'oi_usd' must be > 0 (NaN for unknown), got 0.0 at row 150000"),
        ("close", np.inf, "'close' has a non-finite value inf at row 150000"),
        ("open", 1e31, "'open' has 1e+31 at row 150000"),
        ("low", 3.5, "high < low at row 150000"),
    ):
        bad = df.copy()
        bad.iloc[150_000, bad.columns.get_loc(col)] = value
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
            validate_market(bad)
