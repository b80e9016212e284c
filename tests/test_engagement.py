"""Engagement with liquidation bands, the alert and its backtest (docs/model.md section 9) on constructed markets
with known answers, plus the bundled sample's February 2026 crash."""

import math
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import pytest

import liqtools as lt
from liqtools import AlertRule, DataError, alert_backtest, alerts, engagement
from liqtools.analysis.engagement import engagement_at
from liqtools.analysis.indicators import velocity, volume_ratio

IDX0 = pd.Timestamp("2026-01-01", tz="UTC")
RULE = AlertRule(velocity_min=0.004, volume_ratio_min=2.0)


def market(close, volume, oi=None):
    close = np.asarray(close, dtype=float)
    open_ = np.r_[close[0], close[:-1]]
    cols = {
        "open": open_,
        "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999,
        "close": close,
        "volume": np.asarray(volume, dtype=float),
    }
    if oi is not None:
        cols["oi_usd"] = oi
    return pd.DataFrame(cols, index=pd.date_range(IDX0, periods=len(close), freq="h", tz="UTC"))


def band_levels():
    """$1B of shorts at 110.05..111.95 and of longs at 88.05..89.95, thin levels elsewhere."""
    dense = np.round(np.arange(20) * 0.1 + 0.05, 2)
    thin_short = np.r_[np.arange(101.0, 109.0), np.arange(114.0, 131.0)]
    thin_long = np.r_[np.arange(80.0, 88.0), np.arange(91.0, 100.0)]
    price = np.r_[110 + dense, thin_short, 88 + dense, thin_long]
    notional = np.r_[np.full(20, 5e7), np.full(len(thin_short), 5e6), np.full(20, 5e7), np.full(len(thin_long), 5e6)]
    side = ["short"] * (20 + len(thin_short)) + ["long"] * (20 + len(thin_long))
    return pd.DataFrame({"price": price, "notional_usd": notional, "side": side})


def rally_close(n=100):
    """Flat at 100, then +0.75% per candle from candle 48 to 62 (111.9) (entering the 110-112 band at candle 60), flat."""
    t = np.arange(n)
    return 100 * np.exp(0.0075 * np.clip(t - 47, 0, 15))


def rally_volume(n=100, surge=True):
    v = 100.0 + np.arange(n) % 3
    if surge:
        v[58:63] = 300.0
    return v


def run(df, **kw):
    return engagement(df, band_levels(), rule=kw.pop("rule", RULE), price=100.0, bin_size=0.5, **kw)


def test_alert_fires_at_the_entry_candle_with_the_expected_text():
    df = market(rally_close(), rally_volume())
    e = run(df)
    fired = np.flatnonzero(e["alert"] != "")
    assert fired.tolist() == [60]  # not before, not again while inside
    row = e.iloc[60]
    assert (row["side"], row["band_low"], row["band_high"], row["band_notional_usd"]) == ("short", 110.0, 112.0, 1e9)
    assert bool(row["inside"]) and bool(row["entered"]) and not e["inside"].iloc[:60].any()
    c = df["close"].to_numpy()
    v = (math.log(c[60]) - math.log(c[48])) / 12
    assert row["velocity"] == pytest.approx(v, rel=1e-12) and v == pytest.approx(0.0075)
    assert row["pct_per_hour"] == pytest.approx(100 * math.expm1(0.0075), rel=1e-9)
    ratio = 300.0 / statistics.median(df["volume"].iloc[48:60])
    assert row["volume_ratio"] == pytest.approx(ratio) and ratio == pytest.approx(300 / 101)
    lv = band_levels()
    high = df["high"].iloc[60]
    ahead = lv[(lv["side"] == "short") & (lv["price"] > high) & (lv["price"] <= c[60] * 1.03)]["notional_usd"].sum()
    assert row["notional_ahead_usd"] == pytest.approx(ahead) and ahead == pytest.approx(8e8)
    assert row["alert"] == (
        "price entered the $110-$112 short band at +0.75% per hour on 3.0x volume; "
        "$800.0M modelled shorts within the next 3%"
    )
    (a,) = alerts(df, band_levels(), rule=RULE, price=100.0, bin_size=0.5)
    assert a.time == df.index[60] and a.text == row["alert"] and a.price == c[60]
    assert str(a).startswith("2026-01-03 12:00 UTC: price entered")


def test_no_alert_on_a_rally_without_volume():
    e = run(market(rally_close(), rally_volume(surge=False)))
    assert (e["alert"] == "").all()
    assert bool(e["entered"].iloc[60]) and e["velocity"].iloc[60] == pytest.approx(0.0075)


def test_rearm_needs_a_whole_candle_beyond_the_rearm_distance():
    close = rally_close(90)
    close[63:67] = 109.3  # just outside the widened band (109.725), inside the re-arm distance (108.63)
    close[67:71] = 110.5  # back in: not an entry
    close[71:77] = 106.0  # a whole candle more than 1% below: re-armed
    close[77:] = 110.5  # entry again
    df = market(close, np.full(90, 100.0))
    e = run(df, rule=AlertRule(velocity_min=0.0, volume_ratio_min=0.0))
    assert np.flatnonzero(e["entered"]).tolist() == [60, 77]
    assert np.flatnonzero(e["alert"] != "").tolist() == [60, 77]
    assert e["inside"].iloc[67:72].all() and not e["inside"].iloc[64:67].any()


def test_columns_match_the_indicators_and_the_next_band():
    df = market(rally_close(), rally_volume())
    e = run(df)
    direction = np.where(e["side"] == "short", 1.0, -1.0)
    np.testing.assert_allclose(e["velocity"] * direction, velocity(df, 12), rtol=1e-12)
    np.testing.assert_allclose(e["volume_ratio"], volume_ratio(df, 12), rtol=1e-12)
    # flat at 100 (velocity 0): the nearest band ahead, 10% away on either side
    assert abs(e["distance_pct"].iloc[20]) == pytest.approx(10.0)
    # rising: the short band ahead
    assert e["side"].iloc[50] == "short" and e["distance_pct"].iloc[50] > 0
    assert e["distance_pct"].iloc[61] == 0.0


def test_engagement_at_equals_the_batch_and_is_fast():
    df = lt.load_sample()
    hm = lt.liquidation_heatmap(df, every=24)
    rule = AlertRule.from_history(df)
    e = engagement(df, hm, rule=rule)
    checked = 0
    for t in [*range(40, len(df), 97), *np.flatnonzero(e["alert"] != "")]:
        snap = hm.times[hm.times.searchsorted(df.index[t]) - 1]
        assert snap < df.index[t] and e["map_time"].iloc[t] == snap
        lv, p = hm.levels_at(snap), hm.close_at(snap)
        cl = lt.find_clusters(lt.liquidation_map(lv, p, bin_size=hm.bin_size), p)
        got = engagement_at(df.iloc[: t + 1], t, cl, lv, rule)
        want = e.iloc[t]
        assert got.row()[1:4] == tuple(want.iloc[1:4]), t
        np.testing.assert_allclose(np.array(got.row()[4:12], dtype=float), want.iloc[4:12].to_numpy(float), rtol=1e-9)
        assert (got.alert.text if got.alert else "") == want["alert"]
        checked += 1
    assert checked > 20
    window = lt.validate_market(df.iloc[1200:1501])
    engagement_at(window, -1, cl, lv, rule, validate=False)
    start = time.perf_counter()
    for _ in range(50):
        engagement_at(window, -1, cl, lv, rule, validate=False)
    per_call = (time.perf_counter() - start) / 50
    assert per_call < 3e-3, per_call  # about 0.5 ms on a quiet machine


def test_heatmap_is_causal():
    df = lt.load_sample().iloc[:500]
    rule = AlertRule(velocity_min=0.001, volume_ratio_min=1.5)
    changed = df.copy()
    changed.iloc[301:, :4] *= 0.9
    changed.iloc[301:, changed.columns.get_loc("volume")] *= 5
    changed.iloc[301:, changed.columns.get_loc("oi_usd")] *= 1.3
    a = engagement(df, lt.liquidation_heatmap(df, every=3), rule=rule)
    b = engagement(changed, lt.liquidation_heatmap(changed, every=3), rule=rule)
    pd.testing.assert_frame_equal(a.iloc[:301], b.iloc[:301])
    assert not a.iloc[301:].equals(b.iloc[301:])
    assert (a["map_time"].dropna() < a.index[a["map_time"].notna()]).all()
    assert a["map_time"].isna().sum() == 3  # before the first snapshot (after candle 2)


def test_thresholds_from_history_are_the_stated_quantiles():
    df = lt.load_sample().iloc[:800]
    rule = AlertRule.from_history(df, quantile=0.8, lookback=6, within_pct=2.0)
    assert rule.velocity_min == velocity(df, 6).abs().quantile(0.8)
    assert rule.volume_ratio_min == volume_ratio(df, 6).quantile(0.8)
    assert (rule.lookback, rule.within_pct) == (6, 2.0)
    text = rule.describe()
    assert f"{rule.velocity_min:.4f}" in text and f"{rule.volume_ratio_min:.1f}x" in text and "80% quantiles" in text


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"velocity_min": -0.001}, "velocity_min"),
        ({"velocity_min": math.nan}, "velocity_min"),
        ({"volume_ratio_min": "2"}, "volume_ratio_min"),
        ({"within_pct": 0}, "within_pct"),
        ({"within_pct": -3.0}, "within_pct"),
        ({"edge_pct": math.inf}, "edge_pct"),
        ({"rearm_pct": -1}, "rearm_pct"),
        ({"lookback": 0}, "lookback"),
    ],
)
def test_bad_rule_values_are_named(kwargs, name):
    args = {"velocity_min": 0.001, "volume_ratio_min": 2.0, **kwargs}
    with pytest.raises(DataError, match=name):
        AlertRule(**args)


def test_bad_inputs_are_named():
    df = market(rally_close(), rally_volume())
    bad_levels = band_levels()
    bad_levels.loc[3, "side"] = "up"
    with pytest.raises(DataError, match="side"):
        engagement(df, bad_levels, rule=RULE, price=100.0)
    clusters = pd.DataFrame({"side": ["middle"], "low": [110.0], "high": [112.0]})
    with pytest.raises(DataError, match="side 'middle'"):
        engagement_at(df, 60, clusters, band_levels(), RULE)
    with pytest.raises(DataError, match="levels_or_heatmap"):
        engagement(df, "levels", rule=RULE)
    with pytest.raises(DataError, match="quantile"):
        AlertRule.from_history(df, quantile=1.5)
    with pytest.raises(DataError, match="rule"):
        engagement(df, band_levels(), rule={"velocity_min": 1})
    with pytest.raises(DataError, match="horizons"):
        alert_backtest(df, band_levels(), rule=RULE, horizons=(0,))


def planted(n, seed, *, drift, edge=0.0025, rearm=0.01):
    """Mean-reverting market around 100 where entering a band (widened by ``edge``) from its liquidating side,
    re-armed as the alert's rule, adds ``drift`` per candle into the band for 12 candles."""
    rng = np.random.default_rng(seed)
    bands = [(102.0 * (1 - edge), 102.5 * (1 + edge), 1), (97.5 * (1 - edge), 98.0 * (1 + edge), -1)]
    armed = [0, 0]
    active: list[tuple[int, int]] = []
    logp = math.log(100.0)
    o, h, lo, c = (np.empty(n) for _ in range(4))
    for i in range(n):
        d = drift * sum(s for _, s in active)
        x = logp + np.cumsum(rng.normal(d / 4 - 0.003 * (logp - math.log(100.0)) / 4, 0.002, 4))
        path = np.exp(np.r_[logp, x])
        o[i], c[i], h[i], lo[i] = path[0], path[-1], path.max(), path.min()
        logp = x[-1]
        active = [(end, s) for end, s in active if end > i]
        for k, (a, b, s) in enumerate(bands):
            if h[i] < a * (1 - rearm):
                armed[k] = 1
            elif lo[i] > b * (1 + rearm):
                armed[k] = -1
            elif lo[i] <= b and h[i] >= a:
                if armed[k] == s:
                    active.append((i + 12, s))
                armed[k] = 0
    df = pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": rng.lognormal(0, 0.3, n)},
                      index=pd.date_range(IDX0, periods=n, freq="h", tz="UTC"))
    thin = np.arange(90.0, 110.0, 0.25) + 0.125
    lv = pd.DataFrame({
        "price": np.r_[np.arange(102.0, 102.5, 0.05) + 0.025, np.arange(97.5, 98.0, 0.05) + 0.025, thin],
        "notional_usd": np.r_[np.full(20, 5e7), np.full(len(thin), 1e6)],
        "side": ["short"] * 10 + ["long"] * 10 + ["short" if p > 100 else "long" for p in thin],
    })
    return df, lv


def test_backtest_finds_a_planted_effect_and_not_a_null_one():
    rule = AlertRule(velocity_min=0.0, volume_ratio_min=0.0)
    results = {}
    for drift in (0.002, 0.0):
        df, lv = planted(4000, 7, drift=drift)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bt = alert_backtest(df, lv, rule=rule, price=100.0, bin_size=0.25)
        assert bt.counts["alerts"] > 10 and bt.counts["control_alerts"] > 10, bt.counts
        # the alerts are exactly engagement()'s
        e = engagement(df, lv, rule=rule, price=100.0, bin_size=0.25)
        assert bt.alerts["time"].tolist() == e.index[e["alert"] != ""].tolist()
        results[drift] = bt.table.set_index("horizon")
    planted_rows, null_rows = results[0.002], results[0.0]
    assert (planted_rows["against"] == "controls").all()
    assert planted_rows.loc[12, "pvalue"] < 0.01 and planted_rows.loc[12, "effect"] == pytest.approx(0.024, abs=0.012)
    assert (null_rows["pvalue"] > 0.05).all(), null_rows
    assert "Fired" in bt.summary()


def test_bundled_crash_fires_long_alerts(capsys):
    df = lt.load_sample()
    hm = lt.liquidation_heatmap(df, every=6)
    found = alerts(df, hm)
    crash = [a for a in found if pd.Timestamp("2026-01-29", tz="UTC") <= a.time < pd.Timestamp("2026-02-07", tz="UTC")]
    for a in crash:
        print(a)
    assert len(crash) >= 5 and all(a.side == "long" for a in crash)
    assert all(math.isfinite(a.pct_per_hour) and -5 < a.pct_per_hour < 0 for a in crash)
    assert all(a.notional_ahead_usd >= 0 for a in crash) and sum(a.notional_ahead_usd > 0 for a in crash) >= len(crash) - 1
    assert all(a.volume_ratio > 1 and a.velocity > 0 and "nan" not in a.text and "inf" not in a.text for a in found)
    assert "long band at -" in capsys.readouterr().out
