import numpy as np
import pandas as pd
import pytest

from conftest import random_market
from liqtools import cluster_distance, indicators, realized_volatility, rsi, velocity, volume_ratio


def plain_rsi(close, period):
    change = np.diff(close)
    out = [np.nan] * len(close)
    if len(close) <= period:
        return out
    g = sum(max(x, 0) for x in change[:period]) / period
    lo = sum(max(-x, 0) for x in change[:period]) / period
    out[period] = 100 - 100 / (1 + g / lo) if lo > 0 else 100.0
    for i in range(period + 1, len(close)):
        x = change[i - 1]
        g = (g * (period - 1) + max(x, 0)) / period
        lo = (lo * (period - 1) + max(-x, 0)) / period
        out[i] = 100 - 100 / (1 + g / lo) if lo > 0 else 100.0
    return out


def test_velocity_volume_ratio_and_volatility_by_hand():
    df = random_market(200, 3)
    c, v = df["close"].to_numpy(), df["volume"].to_numpy()
    vel = velocity(df, 5)
    assert vel.iloc[10] == pytest.approx(np.log(c[10] / c[5]) / 5)
    assert vel.iloc[:5].isna().all()
    vr = volume_ratio(df, 7)
    med = np.median(v[13:20])
    assert vr.iloc[20] == pytest.approx(v[20] / med if med > 0 else np.nan, nan_ok=True)
    assert vr.iloc[:7].isna().all()
    rv = realized_volatility(df, 10)
    assert rv.iloc[30] == pytest.approx(np.std(np.diff(np.log(c[20:31])), ddof=1))


@pytest.mark.parametrize("period", [2, 14])
def test_rsi_equals_a_plain_loop(period):
    df = random_market(150, 8)
    np.testing.assert_allclose(rsi(df, period).to_numpy(), plain_rsi(df["close"].to_numpy(), period), rtol=1e-10)


def test_rsi_extremes():
    idx = pd.date_range("2026-01-01", periods=30, freq="h", tz="UTC")
    up = np.linspace(100, 130, 30)
    df = pd.DataFrame({"open": up, "high": up, "low": up, "close": up, "volume": 1.0}, index=idx)
    assert (rsi(df).dropna() == 100).all()
    down = df.iloc[::-1].copy()
    down.index = idx
    assert (rsi(down).dropna() == 0).all()


def test_no_look_ahead():
    df = random_market(300, 4)
    later = df.copy()
    later.iloc[200:, :5] *= 1.3  # change the future
    later["high"] = later[["open", "high", "close"]].max(axis=1)
    a, b = indicators(df), indicators(later)
    pd.testing.assert_frame_equal(a.iloc[:200], b.iloc[:200])


def test_cluster_distance_sides():
    idx = pd.date_range("2026-01-01", periods=3, freq="h", tz="UTC")
    c = np.array([100.0, 110.0, 90.0])
    df = pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0}, index=idx)
    d = cluster_distance(df, [(105, 106, "short"), (120, 121, "short"), (95, 96, "long")])
    assert d["to_short_pct"].tolist()[0] == pytest.approx(5.0)
    assert d["to_short_pct"].tolist()[1] == pytest.approx(10 / 110 * 100)  # 105-106 is below 110 now
    assert np.isnan(d["to_long_pct"].iloc[2])  # no long band at or below 90
    assert d["to_long_pct"].iloc[0] == pytest.approx(-4.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda df: velocity(df, 0), "lookback must be a positive integer"),
        (lambda df: volume_ratio(df, -2), "window"),
        (lambda df: realized_volatility(df, 1), "window must be >= 2"),
        (lambda df: rsi(df, 1.5), "period"),
        (lambda df: cluster_distance(df, [(5, 4, "long")]), "band 0 has low >= high"),
        (lambda df: cluster_distance(df, pd.DataFrame({"low": [1.0]})), "missing column"),
        (lambda df: velocity(df.iloc[::-1]), "not sorted"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(random_market(50, 1))
