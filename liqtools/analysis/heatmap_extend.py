"""New candles into a heatmap without recomputing its history (:meth:`Heatmap.extend`, the live monitor's model).

The OI-delta model is causal: a candle changes only the levels alive before it (it may liquidate, cut or
close them) and adds its own. So extending a heatmap by m candles needs

- the per-candle inputs of the new candles (entries, open-interest change, closing step, crowding score),
  computed on a short *context*: the last candles of the old frame (enough for the crowding window)
  followed by the new ones, with the carried-forward columns (open interest, ratios, funding) carried;
- for every level not yet liquidated, the first crossing (and near-liquidation approach) among the new
  candles, and the first complete closing there;
- the new levels, whose whole life inside the new candles the batch builder finds;
- the new rows: liquidated, flows, snapshots at the new snapshot candles.

Storage grows in place: the per-level and per-candle arrays live in buffers with spare capacity that a
heatmap and the one extended from it share. A level's consumption, end and cut candles only ever change
from "not within the data" (>= the old candle count) to a later candle, which the older heatmap reads as
"not within its data" too, so it stays valid. Extending an older heatmap a second time (a branch) copies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from liqtools.analysis._build import Levels, class_steps, model_levels
from liqtools.analysis._extend_set import NEVER, AliveSet, first_offsets
from liqtools.analysis.bins import bin_index
from liqtools.analysis.ingredients import LONG_SHORT_RATIO, ModelOptions, oi_changes, turnover_usd
from liqtools.errors import DataError
from liqtools.schema import validate_market

if TYPE_CHECKING:
    from liqtools.analysis.heatmap_result import Heatmap

__all__ = ["context_rows", "extend_heatmap", "make_tail"]

#: Most new candles handled in one pass (more are extended in chunks of this size).
CHUNK = 32
_CARRIED = ("oi_usd", LONG_SHORT_RATIO, "funding_rate")  # columns the model carries forward
_LEVEL_FIELDS = ("created", "consumed", "end", "price", "notional", "is_long", "cls")
_FLOW_FIELDS = (
    "opened_long_usd", "opened_short_usd", "closed_long_usd", "closed_short_usd",
    "liquidated_long_usd", "liquidated_short_usd", "active_long_usd", "active_short_usd",
)
_TOKENS = itertools.count(1)


def context_rows(opts: ModelOptions) -> int:
    """Candles of the old frame the new candles' inputs depend on (the crowding window, else one)."""
    return max(2, int(opts.crowding.window) + 1 if opts.crowding is not None else 2)


def _last_known(column: pd.Series) -> float:
    """The column's last value that is not NaN, NaN if none: read back from the end in growing chunks (a
    funding rate is known every few hundred minutes, so a year's column is not read whole).

    >>> _last_known(pd.Series([1.0, 2.0, np.nan])), _last_known(pd.Series([np.nan]))
    (2.0, nan)
    """
    end, size = len(column), 4096
    while end > 0:
        start = max(end - size, 0)
        chunk = pd.to_numeric(column.iloc[start:end], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        known = np.flatnonzero(~np.isnan(chunk))
        if len(known):
            return float(chunk[known[-1]])
        end, size = start, 2 * size
    return float("nan")


def make_tail(df: pd.DataFrame, opts: ModelOptions) -> pd.DataFrame:
    """The last :func:`context_rows` candles of a validated frame, carried-forward columns filled."""
    w = context_rows(opts)
    tail = df.iloc[-w:].copy()
    for col in _CARRIED:
        if col in df.columns:
            values = pd.to_numeric(tail[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            if np.isnan(values[0]):  # carried from the last value before the tail, if any
                values[0] = _last_known(df[col].iloc[:-w])
            tail[col] = pd.Series(values, index=tail.index).ffill().to_numpy()
    return tail


class _Buffer:
    """A growable array: ``view(n)`` is the first n entries; ``reserve`` reallocates with room to spare."""

    def __init__(self, data: NDArray[Any], used: int, extra: int) -> None:
        shape = (max(int(1.5 * (used + extra)) + 16, used + extra),) + data.shape[1:]
        self.data = np.empty(shape, dtype=data.dtype)
        self.data[:used] = data[:used]

    def reserve(self, used: int, extra: int) -> None:
        if used + extra > len(self.data):
            old = self.data
            self.__init__(old, used, extra)  # type: ignore[misc]

    def view(self, n: int) -> NDArray[Any]:
        return self.data[:n]


@dataclass(eq=False)
class Store:
    """The buffers behind an extended heatmap; ``owner`` is the token of the one heatmap that may grow them."""

    levels: dict[str, _Buffer]
    cut_at: _Buffer | None
    log_factor: _Buffer  # (candles, classes): grown along the first axis
    per_candle: dict[str, _Buffer]  # liquidated/flows columns, close, time (UTC, without the zone)
    long: _Buffer
    short: _Buffer
    owner: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _store_from(hm: Heatmap, n_levels: int, n_candles: int, n_rows: int) -> Store:
    """Fresh buffers holding ``hm``'s arrays, with room for the given additions."""
    lv = hm._levels
    used, n, rows = len(lv.created), len(hm._index), len(hm.times)
    levels = {f: _Buffer(np.asarray(getattr(lv, f)), used, n_levels) for f in _LEVEL_FIELDS}
    cut = _Buffer(lv.cut_at, used, n_levels) if lv.cut_at is not None else None
    per_candle = {
        "liq_long": _Buffer(hm.liquidated["long_usd"].to_numpy(np.float64), n, n_candles),
        "liq_short": _Buffer(hm.liquidated["short_usd"].to_numpy(np.float64), n, n_candles),
        "close": _Buffer(np.asarray(hm._close, dtype=np.float64), n, n_candles),
        "time": _Buffer(_naive(hm._index), n, n_candles),
        **{f: _Buffer(hm.flows[f].to_numpy(np.float64), n, n_candles) for f in _FLOW_FIELDS},
    }
    for buf in (levels["consumed"], levels["end"], cut):  # "not within the data" (n, or later: a branch) is NEVER
        if buf is not None:
            head = buf.data[:used]
            head[head >= lv.n_candles] = NEVER
    log_buffer = _Buffer(np.ascontiguousarray(hm._log_factor.T), n, n_candles)
    L = {f: b.view(used) for f, b in levels.items()}
    alive = np.flatnonzero(L["end"] >= NEVER)
    opts = hm.options
    return Store(
        extra={"alive": AliveSet.build(alive, L, cut.view(used) if cut else None, log_buffer.data, hm.edges,
                                       float(opts.consume_margin), _near(opts))},
        levels=levels,
        cut_at=cut,
        log_factor=log_buffer,
        per_candle=per_candle,
        long=_Buffer(hm.long, rows, n_rows),
        short=_Buffer(hm.short, rows, n_rows),
    )


def _naive(index: pd.DatetimeIndex) -> NDArray[np.datetime64]:
    """UTC times without their zone (the buffer's values)."""
    return np.asarray(index.tz_convert(None).to_numpy())


def _context(hm: Heatmap, new: pd.DataFrame) -> pd.DataFrame:
    tail = hm._tail
    if tail is None:
        raise DataError("this heatmap cannot be extended (built without its last candles); rebuild it with liquidation_heatmap")
    missing = [c for c in tail.columns if c not in new.columns]
    if missing:
        raise DataError(f"new candles are missing column(s) {missing} that the heatmap was built with")
    if not new.index[0] > tail.index[-1]:
        raise DataError(f"new candles must start after the heatmap's last candle {tail.index[-1]}, got {new.index[0]}")
    columns = {}
    for col in tail.columns:
        values = np.concatenate([tail[col].to_numpy(), new[col].to_numpy()])
        if col in _CARRIED:  # carried forward (the tail's are filled already)
            values = pd.to_numeric(values, errors="coerce").astype(np.float64)
            gaps = np.isnan(values)
            if gaps.any():
                values = values[np.maximum.accumulate(np.where(gaps, 0, np.arange(len(values))))]
        columns[col] = values
    frame = pd.DataFrame(columns, index=tail.index.append(new.index))
    return frame


def extend_heatmap(hm: Heatmap, new_candles: pd.DataFrame) -> Heatmap:
    """:meth:`Heatmap.extend`: the heatmap of the old frame followed by ``new_candles`` (see the module text)."""
    if isinstance(new_candles, pd.DataFrame) and len(new_candles) == 0:
        return hm
    new = validate_market(new_candles, require=("oi_usd",))
    out = hm
    for start in range(0, len(new), CHUNK):
        out = _extend(out, new.iloc[start : start + CHUNK])
    return out


def _binned(col: NDArray[np.int64], value: NDArray[np.float64], sel: NDArray[np.bool_], n_bins: int) -> NDArray[np.float64]:
    inside = sel & (col >= 0) & (col < n_bins)
    return np.asarray(np.bincount(col[inside], weights=value[inside], minlength=n_bins), dtype=np.float64)


def _near(opts: ModelOptions) -> float | None:
    return None if opts.near_cut is None else float(opts.near_cut[0])


def _trigger(frame: pd.DataFrame, opts: ModelOptions) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if opts.price == "mark":
        if "mark_high" in frame and "mark_low" in frame:
            return frame["mark_high"].to_numpy(), frame["mark_low"].to_numpy()
        return frame["mark_close"].to_numpy(), frame["mark_close"].to_numpy()
    return frame["high"].to_numpy(), frame["low"].to_numpy()


def _extend(hm: Heatmap, new: pd.DataFrame) -> Heatmap:
    opts: ModelOptions = hm.options
    frame = _context(hm, new)
    w = len(frame) - len(new)  # context rows before the new candles
    m = len(new)
    lv = hm._levels
    n_old, used = lv.n_candles, len(lv.created)
    n_new = n_old + m
    shift = n_old - w  # frame row r is candle r + shift

    # the new candles' inputs and levels (the batch builder on the context; keep what the new candles open)
    fresh, _, series = model_levels(frame, hm.profile, opts)
    mine = fresh.created >= w
    add = int(mine.sum())
    _, prev, cur = oi_changes(frame["oi_usd"].to_numpy())
    steps, resets_f = class_steps(frame, opts, prev, cur, turnover_usd(frame, float(opts.turnover), prev, cur))

    # storage: grow in place when this heatmap is the tip of its buffers, else copy
    every = hm.every
    new_rows = [t for t in range(n_old, n_new) if (t + 1) % every == 0]
    store: Store | None = hm._store
    if store is None or store.owner != hm._token:
        store = _store_from(hm, add, m, len(new_rows))
    for buf in store.levels.values():
        buf.reserve(used, add)
    if store.cut_at is not None:
        store.cut_at.reserve(used, add)
    store.log_factor.reserve(n_old, m)
    for buf in store.per_candle.values():
        buf.reserve(n_old, m)
    store.long.reserve(len(hm.times), len(new_rows))
    store.short.reserve(len(hm.times), len(new_rows))

    # closing logs: the old cumulative sums continued (the batch's sequential sums, step for step)
    logs = store.log_factor.data
    logs[n_old:n_new] = np.add.accumulate(np.vstack([logs[n_old - 1], steps[:, w:].T]), axis=0)[1:]
    new_resets = [r[r >= w] + shift for r in resets_f]
    resets = tuple(np.concatenate([old, nr]) for old, nr in zip(lv.resets, new_resets, strict=True))

    # the levels alive after the old candles: crossing, approach and complete closing among the new ones
    L = {f: store.levels[f].view(used + add) for f in _LEVEL_FIELDS}
    cut_at = store.cut_at.view(used + add) if store.cut_at is not None else None
    trig_high, trig_low = _trigger(frame.iloc[w:], opts)
    share = float(lv.cut_share)
    S: AliveSet = store.extra["alive"]
    j = first_offsets(S.is_long, S.thr, trig_low, trig_high)  # consumption, m if none
    end_off = j.copy()
    if S.cthr is not None:
        jc = first_offsets(S.is_long, S.cthr, trig_low, trig_high)
        cut = jc < j  # an approach that liquidates in the same candle is no cut
        S.cut = np.where(cut, n_old + jc, S.cut)
        S.cthr = np.where(cut, np.nan, S.cthr)
        cut_at[S.idx[cut]] = n_old + jc[cut]  # type: ignore[index]
        if share >= 1.0:
            end_off = np.minimum(end_off, np.where(cut, jc, m))
    for c, r in enumerate(new_resets):
        if len(r):
            end_off = np.where(S.cls == c, np.minimum(end_off, r[0] - n_old), end_off)
    hit = j < m
    L["consumed"][S.idx[hit]] = n_old + j[hit]
    ended = end_off < m
    L["end"][S.idx[ended]] = n_old + end_off[ended]

    # the new levels, in candle numbers of the longer frame ("not within the data" is NEVER)
    def moved(x: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.where(x >= len(frame), NEVER, x + shift)

    for f in _LEVEL_FIELDS:
        value = getattr(fresh, f)[mine]
        L[f][used:] = moved(value) if f in ("created", "consumed", "end") else value
    if cut_at is not None:
        cut_at[used:] = moved(fresh.cut_at[mine])  # type: ignore[index]
    levels = Levels(L["created"], L["consumed"], L["end"], L["price"], L["notional"], L["is_long"], L["cls"],
                    cut_at, share, n_new, resets, None)
    log_factor = store.log_factor.view(n_new).T

    # rows of the new candles: liquidated, flows, snapshots (the alive set, and the new levels apart)
    pc = {k: b.view(n_new) for k, b in store.per_candle.items()}
    liq = np.zeros((2, m))
    gone = hit & (j == end_off)  # liquidated (not closed or cut away first)
    if gone.any():
        t_b = n_old + j[gone] - 1  # the value before the consumption candle's closing step
        row = logs[t_b, S.cls[gone]]
        value = S.notional[gone] * np.exp(row - S.logc[gone])
        if S.cthr is not None:
            value = np.where(S.cut[gone] <= t_b, value * (1.0 - share), value)
        for s, side in enumerate((S.is_long[gone], ~S.is_long[gone])):
            liq[s] += np.bincount(j[gone][side], weights=value[side], minlength=m)[:m]
    new_idx = np.arange(used, used + add)
    n_cons, n_end, n_long = levels.consumed[new_idx], levels.end[new_idx], levels.is_long[new_idx]
    n_hit = new_idx[(n_end == n_cons) & (n_cons < NEVER)]
    if len(n_hit):
        before = np.maximum(levels.consumed[n_hit] - 1, levels.created[n_hit])
        value_hit = levels.notional[n_hit] * levels.value_factor(before, n_hit, log_factor)
        for s, side in enumerate((levels.is_long[n_hit], ~levels.is_long[n_hit])):
            liq[s] += np.bincount(levels.consumed[n_hit][side] - n_old, weights=value_hit[side], minlength=m)[:m]
    new_oi = series["new_oi"][w:]
    opened = np.stack([new_oi * series["a"][w:], new_oi * series["b"][w:]], axis=1)
    active = np.zeros((m, 2))
    edges = hm.edges
    n_bins = len(edges) - 1
    snap: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    n_col = bin_index(levels.price[new_idx], edges)
    for k, t in enumerate(range(n_old, n_new)):
        v_old = S.values(t, logs, share)
        v_old[end_off <= k] = 0.0
        on = (levels.created[new_idx] <= t) & (n_end > t)
        v_new = np.zeros(add)
        v_new[on] = levels.notional[new_idx[on]] * levels.value_factor(t, new_idx[on], log_factor)
        active[k] = v_old[S.is_long].sum() + v_new[n_long].sum(), v_old[~S.is_long].sum() + v_new[~n_long].sum()
        if (t + 1) % every == 0:
            snap.append(tuple(_binned(np.concatenate([S.col, n_col]), np.concatenate([v_old, v_new]), np.concatenate([S.is_long, n_long]) == side, n_bins)
                              for side in (True, False)))  # type: ignore[arg-type]
    prev_active = np.vstack([[pc["active_long_usd"][n_old - 1], pc["active_short_usd"][n_old - 1]], active[:-1]])
    closed = np.maximum(prev_active + opened - liq.T - active, 0.0)
    columns = {
        "liq_long": liq[0], "liq_short": liq[1], "close": frame["close"].to_numpy()[w:], "time": _naive(new.index),
        "opened_long_usd": opened[:, 0], "opened_short_usd": opened[:, 1], "closed_long_usd": closed[:, 0],
        "closed_short_usd": closed[:, 1], "liquidated_long_usd": liq[0], "liquidated_short_usd": liq[1],
        "active_long_usd": active[:, 0], "active_short_usd": active[:, 1],
    }
    for name, v in columns.items():
        pc[name][n_old:] = v
    rows = len(hm.times)
    for i, (lo, sh) in enumerate(snap):
        store.long.data[rows + i], store.short.data[rows + i] = lo, sh
    index = pd.DatetimeIndex(pc["time"]).tz_localize("UTC")
    snap_candles = np.arange(every - 1, n_new, every)
    token = next(_TOKENS)
    store.owner = token
    still = AliveSet.build(new_idx[n_end >= NEVER], L, cut_at, logs, edges, float(opts.consume_margin), _near(opts))
    store.extra = {"alive": S.keep_and_join(end_off >= m, still)}
    tail = frame.iloc[-context_rows(opts) :]  # its carried columns are filled already
    return replace(
        hm,
        times=index[snap_candles],
        _long=store.long.view(rows + len(snap)),
        _short=store.short.view(rows + len(snap)),
        liquidated=pd.DataFrame({"long_usd": pc["liq_long"], "short_usd": pc["liq_short"]}, index=index, copy=False),
        flows=pd.DataFrame({f: pc[f] for f in _FLOW_FIELDS}, index=index, copy=False),
        _levels=levels,
        _log_factor=log_factor,
        _index=index,
        _close=pc["close"],
        _tail=tail,
        _store=store,
        _token=token,
    )
