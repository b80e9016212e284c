"""Every level the OI-delta model creates, with its whole life found at creation (private to the heatmap).

A level's consumption candle is the first crossing after it (one compiled pass over the candles); its
value is its opening notional times its class's cumulative closing factor (a cumulative sum of logs),
times ``1 - share`` after a near-liquidation cut. Complete closings (factor 0, or below exp(-700)) end
the levels alive at that candle instead of entering the logs, so no value ever becomes 0/0 or NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from liqtools.analysis._closing import closing_ratio, keep_steps, settle_row
from liqtools.analysis._kernels import typical_levels
from liqtools.analysis._memory import big_empty
from liqtools.analysis._numeric import first_at_or_below, in_parallel
from liqtools.analysis._per_candle import positive_at
from liqtools.analysis.ingredients import (
    MAX_LEVERAGE,
    RESET_NATS,
    ModelOptions,
    crowding_scores,
    decay_log_factor,
    oi_changes,
    path_points,
    split_fractions,
    turnover_usd,
)
from liqtools.analysis.prices import liquidation_price
from liqtools.analysis.profile import LeverageProfile


@dataclass(frozen=True, eq=False)
class Levels:
    """Every level the model ever created, one entry each (private storage of a Heatmap)."""

    created: NDArray[np.int64]  # candle that opened it
    consumed: NDArray[np.int64]  # candle that liquidated it, or n if never
    end: NDArray[np.int64]  # first candle after which it is gone (liquidated or closed completely), or n
    price: NDArray[np.float64]
    notional: NDArray[np.float64]  # at creation, USD
    is_long: NDArray[np.bool_]
    cls: NDArray[np.int64]  # voluntary-closing class (half_life_mix), 0 by default
    cut_at: NDArray[np.int64] | None  # near_cut: candle of the cut (n if none), None without the option
    cut_share: float
    n_candles: int
    resets: tuple[NDArray[np.int64], ...]  # per class: candles where every older level closes completely
    tier: NDArray[np.int64] | None = None  # tier of the profile (only when asked for)

    def value_factor(self, t: NDArray[np.int64] | int, sel: NDArray[np.bool_] | NDArray[np.int64] | slice, log_factor: NDArray[np.float64]) -> NDArray[np.float64]:
        """Value over opening notional of the ``sel`` levels after the closing step of candle(s) ``t``."""
        cls, k = self.cls[sel], self.created[sel]
        out = np.exp(log_factor[cls, t] - log_factor[cls, k])
        if self.cut_at is not None:
            out = np.where(self.cut_at[sel] <= t, out * (1.0 - self.cut_share), out)
        return out

    @property
    def liquidated(self) -> NDArray[np.bool_]:
        """Levels that end by liquidation (not by a complete closing first)."""
        return (self.end == self.consumed) & (self.consumed < self.n_candles)

    def liquidated_value(self, log_factor: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
        """The liquidated levels and their notional at the consumption candle, before its closing step."""
        hit = self.liquidated
        c, k = self.consumed[hit], self.created[hit]
        before = np.maximum(c - 1, k)  # a level liquidated inside its own candle keeps its opening notional
        return hit, self.notional[hit] * self.value_factor(before, hit, log_factor)


def _next_reset(created: NDArray[np.int64], resets: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """First complete-closing candle strictly after each creation candle, n if none."""
    if len(resets) == 0:
        return np.full(len(created), n, dtype=np.int64)
    pos = np.searchsorted(resets, created, side="right")
    return np.where(pos < len(resets), resets[np.minimum(pos, len(resets) - 1)], n).astype(np.int64)


def class_logs(df: pd.DataFrame, opts: ModelOptions, prev: NDArray[np.float64], cur: NDArray[np.float64], turnover: NDArray[np.float64]) -> tuple[NDArray[np.float64], list[NDArray[np.int64]]]:
    """Per class: the cumulative log closing factor ``(J, n)`` and the candles where the class closes
    completely (left out of the logs)."""
    return class_steps(df, opts, prev, cur, turnover, cumulative=True)


def class_steps(df: pd.DataFrame, opts: ModelOptions, prev: NDArray[np.float64], cur: NDArray[np.float64], turnover: NDArray[np.float64], *, cumulative: bool = False) -> tuple[NDArray[np.float64], list[NDArray[np.int64]]]:
    """Per class and candle: the log closing factor of that candle's closing step ``(J, n)`` (0 at a
    complete closing, which is returned apart: the candles where the class closes completely); with
    ``cumulative``, their running sums.

    Each per-candle array in one compiled pass, in place (:mod:`liqtools.analysis._closing`): on a year of
    1-minute candles each numpy temporary is 4 MB of memory the process may have to fault in anew."""
    n = len(df)
    classes = opts.classes
    logs = big_empty((len(classes), n))
    in_row = len(classes) == 1 and classes[0][1] is None  # the shared step in the one row (the default), else apart
    step = logs[0] if in_row else np.empty(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        tiny = None
        if closing_ratio(prev, cur, turnover, step):  # ratios below float range: the logs' difference instead
            keep = np.fmin(prev, cur) - turnover
            tiny = ~(keep / prev > 1e-300)
        np.log(step, out=step)
        if tiny is not None:
            step[tiny] = np.log(keep[tiny]) - np.log(prev[tiny])
    keep_steps(step, prev, cur, turnover)  # 0 where open interest is unknown, and where it rose without turnover
    if opts.half_life is not None:
        step += decay_log_factor(df.index, opts.half_life)
    resets = []
    found = np.empty(n, dtype=np.int64)  # only the pages written are touched
    for row, (_, hl) in zip(logs, classes):
        if hl is not None:
            np.add(step, decay_log_factor(df.index, hl, name="half_life_mix"), out=row)
        elif not in_row:
            row[:] = step
        resets.append(found[: settle_row(row, RESET_NATS, cumulative, found)].copy())
    return logs, resets


def _crowding_cap(profile: LeverageProfile) -> NDArray[np.float64]:
    """Per tier, the highest leverage crowding may scale it to (its own if higher)."""
    return np.maximum(profile.leverages, np.minimum(MAX_LEVERAGE, 0.999 / np.maximum(profile.mmrs, 1e-12)))


def _typical_side(high: NDArray[np.float64], low: NDArray[np.float64], close: NDArray[np.float64], opened: NDArray[np.int64], new_oi: NDArray[np.float64], share: NDArray[np.float64], profile: LeverageProfile, side: int, out: tuple[NDArray[Any], ...], at: int, z: NDArray[np.float64] | None, sensitivity: float) -> int:
    """One side's (0 long, 1 short) levels of docs/model.md (entry at the typical price, the profile's
    tiers) in one compiled pass into ``out = (price, notional, created, is_long, tier)`` from index ``at``
    (``tier`` empty: not written); returns the index after the last (levels without notional are left
    out). ``z``: crowding's score per opening candle (finite), each tier's leverage scaled by
    ``exp(+/- sensitivity * z)`` as :func:`_levels_by_arrays` scales it."""
    lev, mmr = profile.leverages, profile.mmrs
    up, down = (1.0 - 1.0 / lev, 1.0 - mmr) if side == 0 else (1.0 + 1.0 / lev, 1.0 + mmr)
    f = np.exp((1.0 if side == 0 else -1.0) * sensitivity * z) if z is not None else np.zeros(0)
    cap = _crowding_cap(profile) if z is not None else np.zeros(0)
    return int(typical_levels(high, low, close, opened, new_oi, share, up, down, profile.weights_array, lev, f, cap, *out, side == 0, at))


def _typical_arrays(size: int, with_tier: bool) -> tuple[NDArray[Any], ...]:
    tier = big_empty(size if with_tier else 0, dtype=np.int64)
    return big_empty(size), big_empty(size), big_empty(size, dtype=np.int64), big_empty(size, dtype=np.bool_), tier


def _by_class(x: NDArray[Any], n_classes: int) -> NDArray[Any]:
    """``x`` once per closing class, one row each (``np.tile``, on huge pages: on a year each is tens of MB)."""
    out = big_empty((n_classes, len(x)), dtype=x.dtype)
    out[:] = x
    return out


def _close_gap(arrays: tuple[NDArray[Any], ...], stop_long: int, half: int, stop_short: int) -> list[NDArray[Any]]:
    """Longs written to ``[0, stop_long)`` and shorts to ``[half, stop_short)`` of each array, as one run
    (a copy only when some levels were left out)."""
    if stop_long == half and stop_short == 2 * half:
        return list(arrays)
    return [np.concatenate([x[:stop_long], x[half:stop_short]]) for x in arrays]


def _levels_by_arrays(df: pd.DataFrame, opts: ModelOptions, profile: LeverageProfile, high: NDArray[np.float64], low: NDArray[np.float64], close: NDArray[np.float64], opened: NDArray[np.int64], new_oi: NDArray[np.float64], a: NDArray[np.float64], b: NDArray[np.float64], with_tier: bool) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_], int, NDArray[np.int64] | None, NDArray[np.float64] | None, NDArray[np.float64] | None]:
    """Every level of path entries (four points a candle), which the compiled pass does not cover; also the
    reference the compiled levels are tested against (tests/test_kernels.py):
    ``price, notional, created, is_long, n_long, tier, rest_min, rest_max`` (the last two for path entries)."""
    lev_w = profile.weights_array
    n_tiers = len(lev_w)
    r_min = r_max = None
    if opts.entry == "typical":
        points = ((high + low + close) / 3.0)[opened][:, None]
        point_w = np.ones(1)
    else:
        pts, rest_min, rest_max = path_points(df)
        points = pts[opened]
        point_w = np.full(4, 0.25)
    n_points = points.shape[1]
    per_candle = n_points * n_tiers
    created = np.repeat(opened, per_candle)
    z = crowding_scores(df, opts.crowding)[opened] if opts.crowding is not None and opts.crowding.sensitivity != 0 else None
    prices, notionals = [], []
    for side, share, sign in (("long", a, 1.0), ("short", b, -1.0)):
        if z is None:
            q = profile.liquidation_prices(points, side)  # (n_open, points, tiers)
        else:
            lev = profile.leverages
            cap = _crowding_cap(profile)
            scaled = np.clip(lev[None, :] * np.exp(sign * opts.crowding.sensitivity * z)[:, None], 1.0, cap)  # type: ignore[union-attr]
            q = np.asarray(liquidation_price(points[:, :, None], scaled[:, None, :], side, mmr=profile.mmrs))
        prices.append(q.ravel())
        notionals.append(((new_oi[opened] * share[opened])[:, None, None] * point_w[None, :, None] * lev_w[None, None, :]).ravel())
    price_all = np.concatenate(prices)
    notional_all = np.concatenate(notionals)
    is_long = np.concatenate([np.ones(len(created), bool), np.zeros(len(created), bool)])
    created_all = np.concatenate([created, created])
    keep = notional_all > 0
    tier = np.tile(np.arange(n_tiers, dtype=np.int64), 2 * len(opened) * n_points) if with_tier else None
    if opts.entry == "path":
        r_min = np.repeat(rest_min[opened].ravel(), n_tiers)
        r_max = np.repeat(rest_max[opened].ravel(), n_tiers)
    n_long = int(keep[: len(keep) // 2].sum())  # longs fill the first half, shorts the second
    if not keep.all():
        price_all, notional_all, is_long, created_all = price_all[keep], notional_all[keep], is_long[keep], created_all[keep]
        tier = tier[keep] if tier is not None else None
        if r_min is not None and r_max is not None:
            r_min, r_max = r_min[keep[: len(keep) // 2]], r_max[keep[len(keep) // 2 :]]
    return price_all, notional_all, created_all, is_long, n_long, tier, r_min, r_max


def model_levels(df: pd.DataFrame, profile: LeverageProfile, opts: ModelOptions, *, with_tier: bool = False) -> tuple[Levels, NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Create every level and find its life: ``levels, log_factor (J, n), per-candle series``.

    ``df`` is already validated; the default options run exactly docs/model.md section 3.
    """
    n = len(df)
    high, low, close = df["high"].to_numpy(), df["low"].to_numpy(), df["close"].to_numpy()
    if opts.price == "mark":
        if "mark_high" in df and "mark_low" in df:
            trig_high, trig_low = df["mark_high"].to_numpy(), df["mark_low"].to_numpy()
        elif "mark_close" in df:
            trig_high = trig_low = df["mark_close"].to_numpy()
        else:
            from liqtools.errors import DataError

            raise DataError("price='mark' needs 'mark_high'/'mark_low' or 'mark_close' columns")
    else:
        trig_high, trig_low = high, low
    a, b = split_fractions(df, opts.split)
    d_oi, prev, cur = oi_changes(df["oi_usd"].to_numpy())
    turnover = turnover_usd(df, float(opts.turnover), prev, cur)
    new_oi = np.maximum(d_oi, 0.0, out=big_empty(n))
    new_oi += turnover
    opened = positive_at(new_oi)
    m = float(opts.consume_margin)
    tier = r_min = r_max = None

    # levels per opening candle and side, tier after tier (path entries: four points): the searches' period
    period = len(profile.leverages) * (4 if opts.entry == "path" else 1)

    def crossings(price: NDArray[np.float64], created: NDArray[np.int64], side: int, out: NDArray[np.int64] | None = None) -> NDArray[np.int64]:
        """First crossing after creation (beyond the margin) of one side's levels."""
        if side == 0:
            return first_at_or_below(trig_low, created, price * (1.0 - m) if m else price, offset=1, out=out, period=period)
        return first_at_or_below(trig_high, created, price * (1.0 + m) if m else price, above=True, offset=1, out=out, period=period)

    if opts.entry == "typical":
        # docs/model.md's levels (with crowding, each tier's leverage scaled per candle): each side made and
        # searched in one go, the closing logs by the thread done first
        crowded = opts.crowding is not None and opts.crowding.sensitivity != 0
        z = crowding_scores(df, opts.crowding)[opened] if crowded else None  # type: ignore[arg-type]
        half = len(opened) * len(profile.leverages)
        out = _typical_arrays(2 * half, with_tier)
        cons = big_empty(2 * half, dtype=np.int64)
        sensitivity = float(opts.crowding.sensitivity) if crowded else 0.0  # type: ignore[union-attr]

        def side(s: int) -> int:
            at = s * half
            stop = _typical_side(high, low, close, opened, new_oi, a if s == 0 else b, profile, s, out, at, z, sensitivity)
            crossings(out[0][at:stop], out[2][at:stop], s, cons[at:stop])
            return stop

        stop_long, stop_short, (log_factor, resets) = in_parallel(
            2 * half, lambda: side(0), lambda: side(1), spare=lambda: class_logs(df, opts, prev, cur, turnover),
        )
        price_all, notional_all, created_all, is_long, consumed = _close_gap((*out[:4], cons), stop_long, half, stop_short)
        tier = _close_gap(out[4:], stop_long, half, stop_short)[0] if with_tier else None
        n_long = stop_long
    else:
        log_factor, resets = class_logs(df, opts, prev, cur, turnover)
        price_all, notional_all, created_all, is_long, n_long, tier, r_min, r_max = _levels_by_arrays(df, opts, profile, high, low, close, opened, new_oi, a, b, with_tier)
        consumed = np.concatenate(in_parallel(
            len(price_all),
            lambda: crossings(price_all[:n_long], created_all[:n_long], 0),
            lambda: crossings(price_all[n_long:], created_all[n_long:], 1),
        ))
    if r_min is not None and r_max is not None:
        # path entries: a level the rest of its own candle's path crosses is liquidated in that candle
        same = np.concatenate([r_min <= price_all[:n_long] * (1.0 - m), r_max >= price_all[n_long:] * (1.0 + m)])
        consumed[same] = created_all[same]
    cut_at, cut_share = None, 0.0
    if opts.near_cut is not None:
        dist, cut_share = float(opts.near_cut[0]), float(opts.near_cut[1])
        cut_at = np.concatenate([
            first_at_or_below(trig_low, created_all[:n_long], price_all[:n_long] * (1.0 + dist), offset=1, period=period),
            first_at_or_below(trig_high, created_all[n_long:], price_all[n_long:] * (1.0 - dist), above=True, offset=1, period=period),
        ])
        cut_at = np.where(cut_at < consumed, cut_at, n)  # an approach that liquidates is no cut

    cls = np.broadcast_to(np.int64(0), (len(price_all),))  # one class: no memory behind it
    classes = opts.classes
    if len(classes) > 1:
        shares = np.array([s for s, _ in classes])
        cls = big_empty((len(classes), len(price_all)), dtype=np.int64)
        cls[:] = np.arange(len(classes))[:, None]
        per_class = _by_class(notional_all, len(classes))
        per_class *= shares[:, None]
        notional_all = per_class.ravel()
        price_all, is_long = _by_class(price_all, len(classes)).ravel(), _by_class(is_long, len(classes)).ravel()
        created_all, consumed = _by_class(created_all, len(classes)).ravel(), _by_class(consumed, len(classes)).ravel()
        tier = _by_class(tier, len(classes)).ravel() if tier is not None else None
        cut_at = _by_class(cut_at, len(classes)).ravel() if cut_at is not None else None
        cls = cls.ravel()
        nz = notional_all > 0
        if not nz.all():
            price_all, notional_all, is_long = price_all[nz], notional_all[nz], is_long[nz]
            created_all, consumed, cls = created_all[nz], consumed[nz], cls[nz]
            tier = tier[nz] if tier is not None else None
            cut_at = cut_at[nz] if cut_at is not None else None
    end = consumed.copy() if any(len(r) for r in resets) else consumed  # the same array until something else ends a level
    for j, r in enumerate(resets):
        if len(r):
            mine = cls == j
            end[mine] = np.minimum(end[mine], _next_reset(created_all[mine], r, n))
    if cut_at is not None and cut_share >= 1.0:
        end = np.minimum(end, cut_at)
    levels = Levels(created_all, consumed, end, price_all, notional_all, is_long, cls, cut_at, cut_share, n, tuple(resets), tier)
    series = {"new_oi": new_oi, "a": a, "b": b}
    return levels, log_factor, series
