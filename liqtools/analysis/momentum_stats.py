"""Inference by episode for the event study (docs/model.md section 7): OLS with a small-sample (CR2) correction,
Bartlett (Driscoll-Kraay) weights across neighbouring episodes, and Satterthwaite degrees of freedom.

Observations (events and controls) less than ``horizon + 1`` candles apart, chained, form an *episode*:
every pair whose forward windows overlap is in one. Episodes are ordered in time. The covariance of an
OLS coefficient is estimated from the per-episode score sums, each first corrected for its leverage
(the CR2 adjustment of Bell and McCaffrey, ``(I - H_gg)^{-1/2}`` applied to the episode's residuals), and
the sums of neighbouring episodes are allowed to correlate with Bartlett weights ``1 - l / (lags + 1)``
for episode lags ``l <= lags`` (Driscoll-Kraay over time-ordered episodes). The t statistic is referred
to a t distribution whose degrees of freedom are matched (Satterthwaite) to this variance estimator under
independent, equal-variance errors; with few or unbalanced episodes (say ten control episodes against a
hundred event episodes) they are far below ``episodes - 1``, which keeps the test's size.

Everything is computed from k x k matrices per episode (k = number of regressors), never n x n ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["EpisodeFit", "FewEpisodesWarning", "auto_lags", "episode_mean", "episode_ols", "episodes"]

# beyond this leverage one episode alone pins a coefficient (e.g. every control sits in one episode)
_MAX_LEVERAGE = 1.0 - 1e-9


class FewEpisodesWarning(UserWarning):
    """Raised (as a warning) when a test rests on few independent episodes of events or controls."""


def episodes(candles: np.ndarray, horizon: int) -> np.ndarray:
    """Episode code of each observation: observations less than ``horizon + 1`` candles apart (chained)
    share an episode, so every pair whose forward windows of ``horizon`` candles overlap is in one.
    Codes count up in time (episode 0 is the earliest).

    Examples
    --------
    >>> episodes(np.array([0, 3, 4, 20, 9, 30]), 4).tolist()
    [0, 0, 0, 2, 1, 3]
    """
    if len(candles) == 0:
        return np.empty(0, dtype=np.int64)
    order = np.argsort(candles, kind="stable")
    ts = candles[order]
    code_sorted = np.cumsum(np.r_[True, np.diff(ts) > horizon]) - 1
    out = np.empty(len(candles), dtype=np.int64)
    out[order] = code_sorted
    return out


def auto_lags(n_episodes: int) -> int:
    """Default number of neighbouring episodes (each side) whose score sums may correlate: one.

    Serial dependence that outlives an episode (persistent volatility and volume) is strongest between
    adjacent episodes; more lags make the variance estimate noisier, which the degrees of freedom then
    charge for.

    >>> auto_lags(2), auto_lags(200)
    (0, 1)
    """
    return 1 if n_episodes >= 3 else 0


@dataclass(frozen=True)
class EpisodeFit:
    """One coefficient of :func:`episode_ols`: estimate, standard error, degrees of freedom, episodes.

    ``se`` and ``dof`` are NaN when the variance cannot be estimated (fewer than 3 episodes, a coefficient
    pinned by one episode, a singular design)."""

    estimate: float
    se: float
    dof: float
    n_episodes: int


def _sym(vecs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Batched ``U diag(values) U'`` from an eigendecomposition."""
    return np.einsum("gij,gj,gkj->gik", vecs, values, vecs)


def _bartlett_apply(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``W @ z`` for the banded symmetric Bartlett matrix ``W[g, h] = w[|g - h|]`` (w[0] = 1)."""
    out = z.copy()
    for lag in range(1, len(w)):
        out[lag:] += w[lag] * z[:-lag]
        out[:-lag] += w[lag] * z[lag:]
    return out


def _bartlett_variance(score: np.ndarray, lags: int | None) -> tuple[np.ndarray, float]:
    """Bartlett weights ``w[l] = 1 - l / (lags + 1)`` (lags capped below the episode count) and the
    variance ``score' W score`` of the per-episode scores in time order."""
    n_g = len(score)
    lags_ = auto_lags(n_g) if lags is None else int(lags)
    lags_ = max(0, min(lags_, n_g - 1))
    w = 1.0 - np.arange(lags_ + 1) / (lags_ + 1)
    return w, float(score @ _bartlett_apply(score[:, None], w)[:, 0])


def _trace_wdwd(d: np.ndarray, w: np.ndarray) -> float:
    """``tr(W D W D)`` for the banded Bartlett W and diagonal D = diag(d)."""
    return float(sum(w[lag] ** 2 * (d[lag:] @ d[: len(d) - lag]) * (1 if lag == 0 else 2) for lag in range(len(w))))


def episode_ols(
    y: np.ndarray,
    x: np.ndarray,
    candles: np.ndarray,
    horizon: int,
    *,
    coef: int,
    lags: int | None = None,
    small_sample: bool = True,
) -> EpisodeFit:
    """OLS of ``y`` on ``x`` (n x k) and inference on coefficient ``coef`` by episode (numpy; the plain
    sums equal statsmodels' Driscoll-Kraay estimator, which has no CR2 option).

    Parameters
    ----------
    y, x
        Outcome (n) and regressors (n x k, full column rank; include the constant yourself).
    candles
        Candle position of each observation (defines the episodes with ``horizon``).
    horizon
        Forward window in candles.
    coef
        Column of ``x`` whose coefficient is tested.
    lags
        Neighbouring episodes (each side) with Bartlett weights; None: :func:`auto_lags`.
    small_sample
        Apply the CR2 correction and Satterthwaite degrees of freedom; False gives the plain
        Driscoll-Kraay sums over episodes (statsmodels' ``cov_type="hac-groupsum"`` with the episode
        as the time unit and ``use_correction=False``), with the same dof formula.

    Returns
    -------
    EpisodeFit

    Examples
    --------
    A difference in means with 40 episodes of 3 observations each (half of them treated):

    >>> rng = np.random.default_rng(0)
    >>> candles = np.repeat(np.arange(40) * 100, 3)
    >>> d = (np.arange(120) // 3 % 2).astype(float)
    >>> y = rng.normal(size=120) + 0.5 * d
    >>> fit = episode_ols(y, np.column_stack([np.ones(120), d]), candles, 12, coef=1)
    >>> fit.n_episodes, round(fit.estimate, 3), round(fit.se, 3), round(fit.dof, 1)
    (40, 0.34, 0.166, 26.0)
    """
    codes = episodes(candles, horizon)
    n, k = x.shape
    g_count = int(codes.max()) + 1 if n else 0
    try:
        m = np.linalg.inv(x.T @ x)
    except np.linalg.LinAlgError:
        return EpisodeFit(math.nan, math.nan, math.nan, g_count)
    beta = m @ (x.T @ y)
    est = float(beta[coef])
    nan = EpisodeFit(est, math.nan, math.nan, g_count)
    if g_count < 3 or n <= k:
        return nan
    resid = y - x @ beta
    lam_m, u_m = np.linalg.eigh(m)
    if lam_m.min() <= 0:
        return nan
    m_half = (u_m * np.sqrt(lam_m)) @ u_m.T
    m_half_inv = (u_m / np.sqrt(lam_m)) @ u_m.T
    a_vec = m_half[:, coef]  # M^1/2 ell
    # per episode g: score_g = ell' M X_g' A_g e_g with A_g = (I - H_gg)^-1/2 (I without the correction),
    # d_g = |A_g X_g M ell|^2 and v_g = X_g' A_g X_g M ell (the Satterthwaite terms)
    score, d, v = np.empty(g_count), np.empty(g_count), np.empty((g_count, k))
    size = np.bincount(codes, minlength=g_count)
    single = size == 1
    if single.any():  # one observation: H_gg = h_i, the HC2 formulas
        first = np.empty(g_count, dtype=np.int64)
        first[codes[::-1]] = np.arange(n)[::-1]
        xi = x[first[single]]
        p = xi @ m[:, coef]
        h = np.einsum("ij,jk,ik->i", xi, m, xi)
        if small_sample and h.max() > _MAX_LEVERAGE:
            return nan
        shrink = 1.0 / np.sqrt(1.0 - h) if small_sample else np.ones_like(h)
        score[single] = p * resid[first[single]] * shrink
        d[single] = p**2 * shrink**2
        v[single] = xi * (p * shrink)[:, None]
    multi = ~single
    if multi.any():  # C_g = M^1/2 X_g' X_g M^1/2 carries the nonzero eigenvalues of H_gg
        ix = np.flatnonzero(multi)
        remap = np.full(g_count, -1)
        remap[ix] = np.arange(len(ix))
        rows = multi[codes]
        sub, xs, es = remap[codes[rows]], x[rows], resid[rows]
        s = np.column_stack([np.bincount(sub, weights=xs[:, a] * es, minlength=len(ix)) for a in range(k)])
        b = np.empty((len(ix), k, k))
        for a in range(k):
            for c in range(a, k):
                b[:, a, c] = b[:, c, a] = np.bincount(sub, weights=xs[:, a] * xs[:, c], minlength=len(ix))
        lam, vecs = np.linalg.eigh(m_half @ b @ m_half)
        if small_sample and lam.max() > _MAX_LEVERAGE:
            return nan
        lam = np.clip(lam, 0.0, None)
        if small_sample:
            one_minus = np.clip(1.0 - lam, 1e-300, None)
            f_score, f_d, f_v = 1.0 / np.sqrt(one_minus), lam / one_minus, lam / np.sqrt(one_minus)
        else:
            f_score, f_d, f_v = np.ones_like(lam), lam, lam
        score[ix] = np.einsum("i,gij,gj->g", a_vec, _sym(vecs, f_score), s @ m_half)
        d[ix] = np.einsum("i,gij,j->g", a_vec, _sym(vecs, f_d), a_vec)
        v[ix] = np.einsum("ij,gjk,k->gi", m_half_inv, _sym(vecs, f_v), a_vec)
    w, var = _bartlett_variance(score, lags)
    if not (var > 0 and math.isfinite(var)):
        return nan
    # Satterthwaite: var = eps' G W G' eps with the G x G Gram matrix Gram = diag(d) - V M V'
    wv = _bartlett_apply(v, w)
    tr_wg = float(d.sum() - np.trace(m @ v.T @ wv))
    tr_wdwd = _trace_wdwd(d, w)
    tr_cross = float(np.trace(m @ (wv.T * d) @ wv))
    vwv = v.T @ wv
    tr_last = float(np.trace(m @ vwv @ m @ vwv))
    denom = tr_wdwd - 2.0 * tr_cross + tr_last
    dof = tr_wg**2 / denom if denom > 0 else math.nan
    return EpisodeFit(est, math.sqrt(var), float(dof), g_count)


def episode_mean(y: np.ndarray, candles: np.ndarray, horizon: int, *, lags: int | None = None) -> EpisodeFit:
    """:func:`episode_ols` of ``y`` on a constant (the mean), in closed form: the episode blocks of the
    hat matrix are ``n_g / n`` times a matrix of ones, so every k x k quantity is a scalar.

    >>> y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> fit = episode_mean(y, np.array([0, 10, 20, 30, 40, 50]), 4, lags=0)
    >>> fit.estimate, round(fit.se, 6), round(fit.dof, 6)
    (3.5, 0.763763, 5.0)
    """
    n = len(y)
    codes = episodes(candles, horizon)
    g_count = int(codes.max()) + 1 if n else 0
    est = float(y.mean()) if n else math.nan
    nan = EpisodeFit(est, math.nan, math.nan, g_count)
    if g_count < 3:
        return nan
    share = np.bincount(codes, minlength=g_count) / n  # C_g
    if share.max() > _MAX_LEVERAGE:
        return nan
    s = np.bincount(codes, weights=y - est, minlength=g_count)
    score = s / (n * np.sqrt(1.0 - share))
    w, var = _bartlett_variance(score, lags)
    if not (var > 0 and math.isfinite(var)):
        return nan
    d = share / (n * (1.0 - share))
    v = share / np.sqrt(1.0 - share)
    wv = _bartlett_apply(v[:, None], w)[:, 0]
    vwv = float(v @ wv) / n
    tr_wg = float(d.sum()) - vwv
    tr_wdwd = _trace_wdwd(d, w)
    denom = tr_wdwd - 2.0 * float((wv**2) @ d) / n + vwv**2
    dof = tr_wg**2 / denom if denom > 0 else math.nan
    return EpisodeFit(est, math.sqrt(var), float(dof), g_count)
