"""Inference by episode (liqtools.analysis.momentum_stats): equal to statsmodels without the correction, to a
brute-force n x n computation with it, and sized on a case where the plain cluster t test is not."""

import numpy as np
import pytest
import scipy.linalg as sl
import statsmodels.api as sm
from scipy import stats

from liqtools.analysis.momentum_stats import episode_mean, episode_ols, episodes


def design(seed, n=240, k=3):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 4000, n))
    d = (rng.random(n) < 0.3).astype(float)
    cols = [np.ones(n), d] + [rng.normal(size=n) for _ in range(k - 2)]
    x = np.column_stack(cols)
    y = rng.standard_t(4, n) + 0.2 * d
    return y, x, t


@pytest.mark.parametrize("lags", [0, 1, 3])
@pytest.mark.parametrize("k", [2, 3])
def test_plain_sums_equal_statsmodels_driscoll_kraay_over_episodes(lags, k):
    y, x, t = design(lags + 10 * k, k=k)
    codes = episodes(t, 12)
    res = sm.OLS(y, x).fit(cov_type="hac-groupsum", cov_kwds={"time": codes, "maxlags": lags, "use_correction": False})
    fit = episode_ols(y, x, t, 12, coef=1, lags=lags, small_sample=False)
    assert fit.estimate == pytest.approx(res.params[1], rel=1e-12)
    assert fit.se == pytest.approx(res.bse[1], rel=1e-10)
    assert fit.n_episodes == codes.max() + 1


def brute_force(y, x, codes, coef, lags, cr2=True):
    """CR2 with explicit (I - H_gg)^-1/2 blocks, Bartlett weights over episodes, and the Satterthwaite dof
    from the n x G matrix G = (I - H) [A_g X_g M ell embedded] and W."""
    n = len(y)
    m = np.linalg.inv(x.T @ x)
    hat = x @ m @ x.T
    e = y - hat @ y
    n_g = codes.max() + 1
    cols, scores = [], []
    for g in range(n_g):
        ix = codes == g
        a = sl.fractional_matrix_power(np.eye(ix.sum()) - hat[np.ix_(ix, ix)], -0.5).real if cr2 else np.eye(ix.sum())
        col = np.zeros(n)
        col[ix] = a @ x[ix] @ m[:, coef]
        cols.append(col)
        scores.append(col @ e)
    w = np.array([[max(0.0, 1 - abs(g - h) / (lags + 1)) for h in range(n_g)] for g in range(n_g)])
    s = np.array(scores)
    var = s @ w @ s
    gmat = (np.eye(n) - hat) @ np.array(cols).T
    gw = w @ (gmat.T @ gmat)
    return np.sqrt(var), np.trace(gw) ** 2 / np.trace(gw @ gw)


@pytest.mark.parametrize("lags", [0, 2])
@pytest.mark.parametrize("coef", [0, 1, 2])
def test_cr2_and_satterthwaite_dof_equal_a_brute_force_computation(lags, coef):
    y, x, t = design(7 + lags, n=90)
    se, dof = brute_force(y, x, episodes(t, 24), coef, lags)
    fit = episode_ols(y, x, t, 24, coef=coef, lags=lags)
    assert fit.se == pytest.approx(se, rel=1e-9)
    assert fit.dof == pytest.approx(dof, rel=1e-9)
    se, dof = brute_force(y, x, episodes(t, 24), coef, lags, cr2=False)
    plain = episode_ols(y, x, t, 24, coef=coef, lags=lags, small_sample=False)
    assert plain.se == pytest.approx(se, rel=1e-9) and plain.dof == pytest.approx(dof, rel=1e-9)


@pytest.mark.parametrize("lags", [0, 2])
def test_the_closed_form_mean_equals_the_general_fit(lags):
    y, _, t = design(5, n=150)
    general = episode_ols(y, np.ones((150, 1)), t, 12, coef=0, lags=lags)
    mean = episode_mean(y, t, 12, lags=lags)
    assert mean.estimate == pytest.approx(general.estimate)
    assert mean.se == pytest.approx(general.se, rel=1e-10) and mean.dof == pytest.approx(general.dof, rel=1e-10)


def test_a_coefficient_pinned_by_one_episode_has_no_standard_error():
    # every control in one episode: that episode alone determines the control mean
    t = np.r_[np.arange(20) * 100, [5000, 5001, 5002]]
    d = np.r_[np.ones(20), np.zeros(3)]
    y = np.random.default_rng(0).normal(size=23)
    fit = episode_ols(y, np.column_stack([np.ones(23), d]), t, 4, coef=1)
    assert np.isfinite(fit.estimate) and np.isnan(fit.se) and np.isnan(fit.dof)
    few = episode_ols(y[:2], np.ones((2, 1)), t[:2], 4, coef=0)
    assert np.isnan(few.se)


def test_unbalanced_episodes_keep_the_size_where_cluster_t_does_not():
    # 60 event episodes against 6 control episodes: the t(G - 1) test on CR1 rejects about 10% at 5%
    rng = np.random.default_rng(3)
    rej_new, rej_old = 0, 0
    reps = 400
    t = np.r_[np.arange(60) * 50, 10_000 + np.arange(6) * 50]
    d = np.r_[np.ones(60), np.zeros(6)]
    x = np.column_stack([np.ones(66), d])
    for _ in range(reps):
        y = rng.normal(size=66)
        fit = episode_ols(y, x, t, 4, coef=1, lags=0)
        rej_new += 2 * stats.t.sf(abs(fit.estimate / fit.se), fit.dof) < 0.05
        cr1 = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": episodes(t, 4)})
        rej_old += 2 * stats.t.sf(abs(cr1.params[1] / cr1.bse[1]), 65) < 0.05
    assert rej_old / reps > 0.09
    assert rej_new / reps < 0.08
    assert 5 < fit.dof < 7  # about the number of control episodes, not 65
