"""Events of the event study (docs/model.md section 7): the entry rule, automatic control bands, the per-event
measures.

An *event* is the first candle whose range enters a band ``[low, high]`` after the price has been at
least ``rearm_pct`` percent away from it (a whole candle beyond ``low * (1 - r)`` or ``high * (1 + r)``).
The side it came from is the event's *approach* (+1 from below, -1 from above).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from liqtools.errors import DataError

__all__ = ["VOL_WINDOWS", "band_events"]

# the trailing volatilities of an event (the covariates of the speed and volume comparisons) are measured
# over these many lookbacks of candles before the event candle: column name -> factor
VOL_WINDOWS: dict[str, int] = {"trailing_vol_fast": 1, "trailing_vol": 4, "trailing_vol_slow": 16}


def check_horizons(horizons: Iterable[int]) -> tuple[int, ...]:
    try:
        hs = tuple(horizons)
    except TypeError:
        raise DataError(f"horizons must be a sequence of positive integers, got {horizons!r}") from None
    if not hs:
        raise DataError("horizons is empty: give at least one positive integer number of candles")
    for h in hs:
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0:
            raise DataError(f"horizons must be positive integers (candles), got {h!r}")
    if len(set(hs)) != len(hs):
        raise DataError(f"horizons must not repeat, got {hs}")
    return tuple(int(h) for h in hs)


def band_events(
    high: np.ndarray, low: np.ndarray, band_low: float, band_high: float, rearm_pct: float
) -> tuple[np.ndarray, np.ndarray]:
    """Candles where the range enters ``[band_low, band_high]`` after being ``rearm_pct`` percent away,
    and the approach of each (+1 from below, -1 from above). Vectorised: no loop over candles."""
    r = rearm_pct / 100.0
    below = high < band_low * (1.0 - r)
    above = low > band_high * (1.0 + r)
    touch = (low <= band_high) & (high >= band_low)
    state = np.where(below, 1, np.where(above, 2, np.where(touch, 3, 0))).astype(np.int8)
    pos = np.where(state != 0, np.arange(len(state)), -1)
    last = np.maximum.accumulate(pos)
    prev = np.concatenate([[-1], last[:-1]])
    prev_state = np.where(prev >= 0, state[np.maximum(prev, 0)], 0)
    hit = touch & ((prev_state == 1) | (prev_state == 2))
    idx = np.flatnonzero(hit)
    return idx, np.where(prev_state[idx] == 1, 1, -1).astype(np.int64)


def auto_controls(
    bands: pd.DataFrame,
    lo_price: float,
    hi_price: float,
    map_df: pd.DataFrame | None,
    ref_price: float,
    gaps: Sequence[float],
) -> pd.DataFrame:
    """One control band per band: same width, the nearest window (in steps of its width) inside the
    traded range whose gap to every band and control is at least one band-width plus ``gap`` (a fraction
    of the price; the first of ``gaps`` that leaves room), and, with a map, no denser than the median
    window of that width."""
    if map_df is not None:
        m_low = map_df["low"].to_numpy(dtype=np.float64)
        m_high = map_df["high"].to_numpy(dtype=np.float64)
        centres = 0.5 * (m_low + m_high)
        dens = map_df["long_usd"].to_numpy(dtype=np.float64) + map_df["short_usd"].to_numpy(dtype=np.float64)
        cum = np.concatenate([[0.0], np.cumsum(dens)])
    used_lo = bands["low"].to_numpy(dtype=np.float64).copy()
    used_hi = bands["high"].to_numpy(dtype=np.float64).copy()
    rows = []
    for lo, hi, side in zip(bands["low"], bands["high"], bands["side"]):
        w = hi - lo
        k_max = math.ceil(max(hi_price - lo, hi - lo_price) / w) + 1
        j = np.arange(2, k_max + 1)
        first, second = (j, -j) if lo >= ref_price else (-j, j)
        ks = np.stack([first, second], axis=1).ravel()  # nearest first, alternating sides
        a, b = lo + ks * w, hi + ks * w
        inside = (a >= lo_price) & (b <= hi_price) & (a > 0)
        a, b = a[inside], b[inside]
        chosen = None
        for gap in gaps:
            # clear of every band and control by one width plus the gap on both sides
            x0 = used_lo * (1 - gap) - w
            x1 = used_hi * (1 + gap) + w
            free = ((b[:, None] <= x0[None, :]) | (a[:, None] >= x1[None, :])).all(axis=1)
            ca, cb = a[free], b[free]
            if map_df is not None and len(ca):
                mass = cum[np.searchsorted(centres, cb)] - cum[np.searchsorted(centres, ca)]
                thin = mass <= np.median(mass)
                ca, cb = ca[thin], cb[thin]
            if len(ca):
                chosen = (float(ca[0]), float(cb[0]))
                break
        if chosen is None:
            continue
        rows.append((chosen[0], chosen[1], side))
        used_lo = np.append(used_lo, chosen[0])
        used_hi = np.append(used_hi, chosen[1])
    return pd.DataFrame(rows, columns=["low", "high", "side"])


def realized_lookup(realized: pd.DataFrame, times: pd.DatetimeIndex) -> pd.DataFrame:
    from liqtools.analysis.validation import check_realized

    real, period = check_realized(realized)
    pos = real.index.searchsorted(times, side="right") - 1
    ok = (pos >= 0) & (times < real.index[np.maximum(pos, 0)] + period)
    out = pd.DataFrame(index=range(len(times)))
    for col in ("long_usd", "short_usd"):
        values = real[col].to_numpy(dtype=np.float64)
        out[f"realized_{col}"] = np.where(ok, values[np.maximum(pos, 0)], np.nan)
    return out


def study_rows(
    bands: pd.DataFrame,
    horizons: tuple[int, ...],
    rearm_pct: float,
    lookback: int,
    arrays: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """The events of every band, in time order, with their measures (see :class:`EventStudy`)."""
    high, low, close, open_, log_c = arrays["high"], arrays["low"], arrays["close"], arrays["open"], arrays["log_close"]
    vol_cum, med = arrays["vol_cum"], arrays["median"]
    n = len(close)
    idx_parts, app_parts, band_parts = [], [], []
    for k, (lo, hi) in enumerate(zip(bands["low"].to_numpy(), bands["high"].to_numpy())):
        idx, app = band_events(high, low, float(lo), float(hi), rearm_pct)
        idx_parts.append(idx)
        app_parts.append(app)
        band_parts.append(np.full(len(idx), k))
    idx = np.concatenate(idx_parts) if idx_parts else np.empty(0, np.int64)
    app = np.concatenate(app_parts) if app_parts else np.empty(0, np.int64)
    band = np.concatenate(band_parts) if band_parts else np.empty(0, np.int64)
    order = np.lexsort((band, idx))
    idx, app, band = idx[order], app[order], band[order]
    b_low = bands["low"].to_numpy()[band]
    b_high = bands["high"].to_numpy()[band]
    edge = np.where(app > 0, b_low, b_high)
    inside = (open_[idx] >= b_low) & (open_[idx] <= b_high)
    entry = np.where(inside, open_[idx], edge)
    back = idx - lookback
    vel = np.where(back >= 0, log_c[idx] - log_c[np.maximum(back, 0)], np.nan) / lookback * app
    with np.errstate(invalid="ignore", divide="ignore"):
        m = med[idx]
        vr = np.where(m > 0, (vol_cum[idx + 1] - vol_cum[idx]) / m, np.nan)
    # root mean square of the close-to-close log returns of the (up to) factor * lookback candles before
    # the event candle; NaN with fewer than 2 of them
    sq_cum = arrays["sq_cum"]
    trailing = {}
    for name, factor in VOL_WINDOWS.items():
        first = np.maximum(idx - factor * lookback, 1)
        count = idx - first
        with np.errstate(invalid="ignore", divide="ignore"):
            trailing[name] = np.where(count >= 2, np.sqrt((sq_cum[idx] - sq_cum[first]) / np.maximum(count, 1)), np.nan)
    cols: dict[str, Any] = {
        "time": arrays["index"][idx],
        "candle": idx,
        "band": band,
        "side": bands["side"].to_numpy()[band],
        "low": b_low,
        "high": b_high,
        "approach": app,
        "entry_price": entry,
        "close": close[idx],
        "velocity": vel,
        "volume_ratio": vr,
        **trailing,
    }
    for h in horizons:
        fwd = idx + h
        ok = fwd < n
        r = np.where(ok, log_c[np.minimum(fwd, n - 1)] - log_c[idx], np.nan)
        cols[f"return_{h}"] = r * app
        cols[f"velocity_{h}"] = np.abs(r) / h
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_vol = np.where(ok, (vol_cum[np.minimum(fwd, n - 1) + 1] - vol_cum[idx + 1]) / h, np.nan)
            cols[f"volume_ratio_{h}"] = np.where(m > 0, mean_vol / m, np.nan)
    return pd.DataFrame(cols)
