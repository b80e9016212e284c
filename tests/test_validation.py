"""validate / calibrate: synthetic ground truth, aggregation to realized periods, no look-ahead, bad input."""

import numpy as np
import pandas as pd
import pytest

from liqtools import calibrate, liquidation_heatmap, load_sample, load_sample_liquidations, validate
from liqtools.analysis.calibration import DEFAULT_EXTRA_OPTIONS
from liqtools.cli import main

TRUE = {5.0: 0.10, 10.0: 0.25, 25.0: 0.30, 50.0: 0.20, 100.0: 0.15}


def ground_truth_market(days, seed, *, sigma=0.008, sub=4):
    """Hourly candles of a random walk (``sub`` steps each) and open interest with 3% hourly changes."""
    rng = np.random.default_rng(seed)
    n = days * 24
    p = 100 * np.exp(np.r_[0.0, np.cumsum(rng.normal(0, sigma / np.sqrt(sub), n * sub))])
    steps = p[1:].reshape(n, sub)
    o = p[:-1:sub][:n]
    idx = pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(steps.max(1), o),
            "low": np.minimum(steps.min(1), o),
            "close": steps[:, -1],
            "volume": 1.0,
            "oi_usd": 1e8 * np.exp(np.cumsum(rng.normal(0, 0.03, n))),
        },
        index=idx,
    )


def ground_truth_liquidations(df, seed, *, noise, weights=TRUE, **options):
    """Daily liquidations of positions opened from OI changes with a known leverage profile and liquidated
    when price crosses (the model itself, checked against a plain loop in test_heatmap), times
    log-normal measurement noise."""
    rng = np.random.default_rng(seed + 1)
    daily = liquidation_heatmap(df, leverage=weights, every=len(df), **options).liquidated.resample("1D").sum()
    return daily * np.exp(rng.normal(0, noise, daily.shape))


def test_validate_with_the_true_profile_ranks_periods_right():
    df = ground_truth_market(120, 0)
    real = ground_truth_liquidations(df, 0, noise=0.3)
    v = validate(df, real, leverage=TRUE)
    assert (v.table["spearman"] > 0.9).all(), v.table
    assert (v.table["spearman"] > v.table["baseline_spearman"]).all()
    assert (v.table["r2_gain"] > 0).all() and (v.table["model_pvalue"] < 0.01).all()
    assert (v.table["n"] == 120).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_calibrate_recovers_the_true_weights(seed):
    df = ground_truth_market(180, seed)
    real = ground_truth_liquidations(df, seed, noise=0.2)
    cal = calibrate(
        df, real, train=0.7, splits=("both",), half_lives=(None,), entries=("typical",), families=("tiers",), scale=1.0
    )
    got = cal.options["leverage"]
    assert sorted(got) == sorted(TRUE)
    for lev, w in TRUE.items():
        assert abs(got[lev] - w) < 0.1, (lev, got)
    assert (cal.test["spearman"] > 0.9).all()
    # with a free scale (realized data from another venue) and less noise, still within 0.1
    free = calibrate(
        df,
        ground_truth_liquidations(df, seed, noise=0.1),
        train=0.7,
        splits=("both",),
        half_lives=(None,),
        entries=("typical",),
        families=("tiers",),
    )
    for lev, w in TRUE.items():
        assert abs(free.options["leverage"][lev] - w) < 0.1, (lev, free.options)


def test_calibrate_full_search_on_ground_truth_and_its_options_run():
    df = ground_truth_market(150, 2)
    real = ground_truth_liquidations(df, 2, noise=0.2)
    cal = calibrate(df, real, train=0.7, scale=1.0)
    assert len(cal.candidates) == 2 * 3 * 2 * 2 * (1 + len(DEFAULT_EXTRA_OPTIONS))  # grid x (none + default turnovers)
    assert set(cal.candidates["turnover"].dropna()) == {0.3, 1.0, 3.0}
    assert cal.candidates["score"].is_monotonic_decreasing
    assert (cal.test["spearman"] > 0.9).all()
    hm = liquidation_heatmap(df, **cal.options)  # the options are liquidation_heatmap keywords
    assert hm.liquidated.to_numpy().sum() > 0
    assert "Test (out of sample)" in cal.summary()


def test_calibrate_never_looks_at_the_test_span():
    df = ground_truth_market(120, 3)
    real = ground_truth_liquidations(df, 3, noise=0.3)
    kwargs = {"train": 0.6, "half_lives": (None, 24.0), "entries": ("typical",), "families": ("tiers", "lognormal")}
    a = calibrate(df, real, **kwargs)
    scrambled = real.copy()
    cut = a.test_periods[0]
    rng = np.random.default_rng(0)
    scrambled.loc[scrambled.index >= cut] *= rng.uniform(0, 10, scrambled.loc[scrambled.index >= cut].shape)
    b = calibrate(df, scrambled, **kwargs)
    assert a.options == b.options
    pd.testing.assert_frame_equal(a.train, b.train)
    pd.testing.assert_series_equal(a.candidates["score"], b.candidates["score"])
    assert not a.test.equals(b.test)
    # the training span ends before the test span starts
    assert a.train_periods[-1] < a.test_periods[0]


def test_predictions_are_summed_over_fully_covered_periods():
    df = ground_truth_market(10, 4).iloc[5:-3]  # first and last day partly covered
    real = ground_truth_liquidations(ground_truth_market(10, 4), 4, noise=0.0)
    v = validate(df, real)
    hm = liquidation_heatmap(df)
    by_day = hm.liquidated.resample("1D").sum()
    assert list(v.periods.index) == list(real.index[1:-1])
    np.testing.assert_allclose(v.periods["predicted_long_usd"], by_day["long_usd"].iloc[1:-1])
    day = df.loc["2026-01-03"]
    assert v.periods.loc["2026-01-03", "adverse_long"] == pytest.approx(np.log(day["open"].iloc[0] / day["low"].min()))
    assert v.periods.loc["2026-01-03", "adverse_short"] == pytest.approx(
        np.log(day["high"].max() / day["open"].iloc[0])
    )
    # a heatmap built beforehand gives the same table
    pd.testing.assert_frame_equal(validate(df, real, heatmap=hm).table, v.table)


def test_validate_on_the_bundled_sample():
    v = validate(load_sample(), load_sample_liquidations())
    assert list(v.table.index) == ["long", "short"]
    assert list(v.table.columns[:6]) == [
        "spearman",
        "baseline_spearman",
        "r2_baseline",
        "r2_model",
        "r2_gain",
        "model_coef",
    ]
    assert (v.table["n"] == 49).all()  # 2025-12-07 is only partly covered by the candles
    assert np.isfinite(v.table[["spearman", "baseline_spearman", "r2_gain"]].to_numpy()).all()
    assert "Predicted vs realized" in v.summary()


def test_cli_validate_runs_on_the_sample(capsys, tmp_path):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "spearman" in out and "baseline_spearman" in out and "long" in out and "short" in out
    path = tmp_path / "liq.csv"
    load_sample_liquidations().to_csv(path)
    assert main(["validate", "--realized", str(path), "--format", "csv"]) == 0
    got = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out), index_col=0)
    expected = validate(load_sample(), load_sample_liquidations()).table
    np.testing.assert_allclose(got["spearman"].to_numpy(), expected["spearman"].to_numpy())
    assert main(["validate", "--half-life", "7D", "--entry", "path"]) == 0
    capsys.readouterr()
    far = load_sample_liquidations()
    far.index = far.index - pd.Timedelta("800D")
    far.to_csv(path)
    assert main(["validate", "--realized", str(path)]) == 2
    assert "do not overlap" in capsys.readouterr().err
    assert main(["validate", "--realized", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_momentum_runs_on_the_sample(capsys):
    assert main(["momentum", "--horizons", "1,4"]) == 0
    out = capsys.readouterr().out
    assert "Event study" in out and "volume_ratio" in out and "Bands: the clusters" in out


def daily(values, start="2026-01-01"):
    idx = pd.date_range(start, periods=len(values), freq="D", tz="UTC")
    return pd.DataFrame({"long_usd": values, "short_usd": values}, index=idx)


@pytest.mark.parametrize(
    "realized, kwargs, match",
    [
        (daily([1.0] * 5, start="2020-01-01"), {}, "do not overlap"),
        (daily([1.0, 2.0]).drop(columns="short_usd"), {}, "short_usd"),
        (daily([1.0, -2.0]), {}, "must be finite and >= 0"),
        (daily([1.0, 2.0]).tz_localize(None), {}, "UTC DatetimeIndex"),
        (daily([1.0]), {}, "period"),
        (daily([1.0, 2.0]).iloc[::-1], {}, "sorted"),
        (daily([1.0] * 5), {"period": "soon"}, "period must be"),
    ],
)
def test_validate_bad_input(realized, kwargs, match):
    with pytest.raises(ValueError, match=match):
        validate(ground_truth_market(6, 1), realized, **kwargs)


def test_calibrate_bad_input():
    df = ground_truth_market(12, 1)
    real = ground_truth_liquidations(df, 1, noise=0.1)
    with pytest.raises(ValueError, match="too few realized periods"):
        calibrate(df, real)
    with pytest.raises(ValueError, match="train must be"):
        calibrate(df, real, train=1.5)
    with pytest.raises(ValueError, match="heatmap or model options"):
        validate(df, real, heatmap=liquidation_heatmap(df), split="candle")


def test_hac_ols_and_spearman_match_statsmodels_and_scipy():
    import statsmodels.api as sm
    from scipy import stats

    from liqtools.analysis.scoring import hac_ols, spearman

    rng = np.random.default_rng(3)
    for n in (8, 60, 240):
        x = np.column_stack([np.ones(n), rng.normal(size=n), rng.exponential(size=n)])
        y = x @ [1.0, 2.0, 0.3] + rng.standard_t(3, size=n)
        beta, t, r2 = hac_ols(y, x, 3)
        res = sm.OLS(y, x).fit(cov_type="HAC", cov_kwds={"maxlags": 3})
        np.testing.assert_allclose(beta, res.params, rtol=1e-10)
        np.testing.assert_allclose(t, res.tvalues, rtol=1e-10)
        assert r2 == pytest.approx(res.rsquared, abs=1e-12)
        a = rng.integers(0, 5, n).astype(float)  # ties
        b = a + rng.normal(size=n)
        assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)


def test_validate_coin_units_and_the_candle_grid():
    df = ground_truth_market(10, 5)
    real = ground_truth_liquidations(df, 5, noise=0.2)
    coin = real.div(df["close"].resample("1D").mean(), axis=0)
    usd = validate(df, real)
    got = validate(df, coin, units="coin")
    np.testing.assert_allclose(got.periods["realized_long_usd"], usd.periods["realized_long_usd"])
    assert got.units == "coin"
    with pytest.raises(ValueError, match="units must be 'usd' or 'coin'"):
        validate(df, real, units="USDT")
    with pytest.raises(ValueError, match="not on the candle grid"):
        validate(df, real.set_axis(real.index + pd.Timedelta("10min")))
    with pytest.raises(ValueError, match="whole number of candles"):
        validate(df, real, period="90min")
