"""Compiled loops behind the heatmap (numba): first crossings, the levels, span sums, liquidated value, bins.

Each is one pass where numpy needs several passes and level-sized temporaries; on a year of 1-minute
candles (2.6 million levels) that memory traffic was most of the heatmap's time (docs/speed.md). The
wrappers in :mod:`liqtools.analysis._numeric` check and convert their inputs; these functions trust them.
Compiled on first use and cached on disk by numba (``cache=True``), so only the first run after an
install pays the compilation.
"""

from __future__ import annotations

import numpy as np

from liqtools._jit import jit as _jit


@_jit
def first_at_or_below_sorted(x, start, threshold, out, sign, offset, period):  # type: ignore[no-untyped-def]
    """``out[k]`` = the first ``j >= start[k] + offset`` with ``sign * x[j] <= sign * threshold[k]`` (sign 1:
    at or below, -1: at or above), ``len(x)`` if none; ``x`` holds no NaN. Returns False (and leaves ``out``
    unfinished) unless ``start`` is non-decreasing.

    The queries are answered from the last one back while the candles are pushed from the end onto a
    stack of running-minimum records (each candle pushed and popped once): seen from ``p``, the records
    are the candles lower than every candle between ``p`` and them, the only possible answers, and their
    values rise strictly from the bottom of the stack to the top. A query's answer is the topmost record
    at or below its threshold. It is looked for first around the answer of the query ``period`` places
    later (the same tier of the next candle, when each candle has ``period`` levels: on a year of 1-minute
    candles nine in ten answers are within three records of it), by counting the records at or below
    the threshold in a window of eight, without a branch per record; else by galloping from there, up or
    down, and bisecting. The starting place only decides the speed: any ``period`` gives the same answers.
    """
    n = len(x)
    at = np.empty(n + 1, np.int64)  # the records' candles, bottom first
    val = np.empty(n + 1, np.float64)  # and their values, rising towards the top
    hint = np.zeros(max(period, 1), np.int64)  # per slot (k % period), the record of its last answer
    top = 0  # entries in the stack
    p = n
    for k in range(len(start) - 1, -1, -1):
        s = min(start[k] + offset, n)
        if k > 0 and start[k - 1] > start[k]:
            return False
        while p > s:
            p -= 1
            v = sign * x[p]
            while top > 0 and val[top - 1] >= v:
                top -= 1
            at[top] = p
            val[top] = v
            top += 1
        t = sign * threshold[k]
        if top == 0 or not val[0] <= t:  # none at or below (a NaN threshold: none either)
            out[k] = n
            continue
        slot = k % len(hint)
        w0 = hint[slot] - 3
        if w0 >= 0 and w0 + 8 <= top and val[w0] <= t and val[w0 + 7] > t:
            # the answer lies in the window: it is its last record at or below t
            count = 0
            for i in range(8):
                count += val[w0 + i] <= t
            lo = w0 + count - 1
        else:
            h = min(hint[slot], top - 1)
            step = 1
            if val[h] <= t:  # at or below t: gallop up to a record above t (or the top)
                lo, hi = h, h + 1
                while hi < top and val[hi] <= t:
                    lo = hi
                    step *= 2
                    hi = lo + step
                hi = min(hi, top)
            else:  # above t >= val[0]: gallop down to a record at or below t
                hi, lo = h, h - 1
                while lo > 0 and val[lo] > t:
                    hi = lo
                    step *= 2
                    lo = hi - step
                lo = max(lo, 0)
            while hi - lo > 1:  # val[lo] <= t < val[hi] (hi == top: above every record)
                mid = (lo + hi) // 2
                if val[mid] <= t:
                    lo = mid
                else:
                    hi = mid
        out[k] = at[lo]
        hint[slot] = lo
    return True


@_jit
def _inverse_width(edges):  # type: ignore[no-untyped-def]
    """``1 / (edges[1] - edges[0])`` for :func:`bin_of`, or 0 when the two edges are one float (a bin finer than
    the prices' float spacing: every guess then starts at the first bin and the edges alone decide)."""
    w = edges[1] - edges[0]
    return 1.0 / w if w > 0.0 else 0.0


@_jit
def bin_of(q, edges, inv):  # type: ignore[no-untyped-def]
    """Bin of price ``q`` under half-open bins ``[edges[j], edges[j+1])`` of equal width, -1 below and
    ``len(edges) - 1`` above the range (a NaN price: -1, as bin_index gives it). ``inv``: ``1 / (edges[1] -
    edges[0])``, taken once by the caller (a multiplication per level instead of a division: 3-5 ms a side
    on a year); the guess is then moved to the bin the edges themselves give, so rounding never matters."""
    n_bins = len(edges) - 1
    lo = edges[0]
    if not q >= lo:
        return -1
    if q >= edges[n_bins]:
        return n_bins
    b = min(max(int(np.floor((q - lo) * inv)), 0), n_bins - 1)
    while b > 0 and q < edges[b]:  # exact with respect to the edges, whatever the product's rounding
        b -= 1
    while b < n_bins - 1 and q >= edges[b + 1]:
        b += 1
    return b


@_jit
def span_scatter(out, r0, every, start, stop, col, is_long, value, created, cls, j, log_j, base, scale, c0, price, edges, lo, hi):  # type: ignore[no-untyped-def]
    """Add the pieces of class ``j`` (all pieces when ``j < 0``) to the difference arrays ``out[0]`` (longs)
    and ``out[1]`` (shorts), rows ``r0 ..`` of the result: a piece alive after candles ``start .. stop - 1``
    lives in rows ``start // every .. stop // every - 1``; it enters at its first row in ``out`` with
    ``value * exp(base - log_j[created])`` and leaves at ``stop // every`` if that row is in ``out``.
    ``scale[k - c0]`` holds that exp for candles ``c0 .. c0 + len(scale) - 1`` (numpy's, computed once per
    candle rather than per level). Pieces with ``col`` outside ``0 .. out.shape[2] - 1`` are skipped; a
    ``col`` of length 1 puts every piece in that column; with ``edges`` (two or more) a piece's column is
    :func:`bin_of` its ``price`` instead. ``lo[s, r] .. hi[s, r] - 1`` grow to hold every column written in
    side ``s``'s row ``r`` (for :func:`finish_rows`; not kept when ``lo`` has no rows)."""
    rows, n_cols = out.shape[1], out.shape[2]
    banded = lo.shape[1] > 0
    r1 = r0 + rows
    one_col = len(col) == 1
    binned = len(edges) > 1
    inv = _inverse_width(edges) if binned else 0.0
    for i in range(len(value)):
        if j >= 0 and cls[i] != j:
            continue
        a = start[i] // every
        b = stop[i] // every
        if a >= b or a >= r1 or b <= r0:  # not alive in these rows (checked before the bin: many epochs)
            continue
        c = bin_of(price[i], edges, inv) if binned else (col[0] if one_col else col[i])
        if c < 0 or c >= n_cols:
            continue
        k = created[i] - c0
        w = value[i] * (scale[k] if 0 <= k < len(scale) else np.exp(base - log_j[created[i]]))
        side = 0 if is_long[i] else 1
        r = max(a, r0) - r0
        out[side, r, c] += w
        if banded:
            lo[side, r] = min(lo[side, r], c)
            hi[side, r] = max(hi[side, r], c + 1)
        if b < r1:
            out[side, b - r0, c] -= w
            if banded:
                lo[side, b - r0] = min(lo[side, b - r0], c)
                hi[side, b - r0] = max(hi[side, b - r0], c + 1)
    return out


@_jit
def liquidated_per_candle(created, consumed, end, notional, is_long, cls, tier, one_class, one_tier, log_factor, cut_at, cut_share, out):  # type: ignore[no-untyped-def]
    """``out[0 | 1, c, t]`` += each long | short level of tier ``t`` liquidated at candle ``c`` (``end ==
    consumed < n``) at its value before that candle's closing step: ``notional * exp(log_factor[cls, b] -
    log_factor[cls, k])`` with ``b = max(c - 1, k)`` (its own candle keeps the opening notional), times ``1 -
    cut_share`` once cut (``cut_at <= b``; ``cut_at`` empty without near_cut). ``one_class`` / ``one_tier``:
    ``cls`` / ``tier`` are not read (every level in class 0 / column 0)."""
    n = out.shape[1]
    has_cut = len(cut_at) > 0
    for i in range(len(notional)):
        c = consumed[i]
        if c >= n or end[i] != c:
            continue
        k = created[i]
        b = max(c - 1, k)
        j = 0 if one_class else cls[i]
        v = notional[i] * np.exp(log_factor[j, b] - log_factor[j, k])
        if has_cut and cut_at[i] <= b:
            v = v * (1.0 - cut_share)
        out[0 if is_long[i] else 1, c, 0 if one_tier else tier[i]] += v
    return out


@_jit
def finish_rows(out, factor, into, lo, hi):  # type: ignore[no-untyped-def]
    """Cumulative sums down the rows of ``out``, each row times its ``factor``, clipped at 0 (a cell emptied
    by exits keeps at most a rounding residue >= 0; a negative one that underflows gives +0.0, not -0.0): in
    place, or added to ``into`` when it has rows.

    With ``lo`` and ``hi`` (one entry per row: row ``r``'s differences lie in columns ``lo[r] .. hi[r] - 1``)
    a row is summed only over those columns and those where the running sum is not 0: every other cell's
    sum is 0 + 0, times a finite factor, so it is left as it is (0 in place, ``into`` unchanged), the same
    numbers as the whole row gives, bit for bit. Empty ``lo``: every column of every row."""
    rows, n_cols = out.shape
    add = into.shape[0] > 0
    banded = len(lo) > 0
    carry = np.zeros(n_cols)
    c_lo, c_hi = n_cols, 0  # the columns where carry may not be 0
    for r in range(rows):
        f = factor[r]
        c0, c1 = 0, n_cols
        if banded and abs(f) < np.inf:  # 0 * f is 0 only for a finite f
            c0, c1 = min(c_lo, lo[r]), max(c_hi, hi[r])
        for c in range(c0, c1):
            carry[c] += out[r, c]
            v = carry[c] * f
            v = 0.0 if v <= 0.0 else v  # noqa: FURB136 (-0.0 too; a NaN stays NaN, as np.maximum keeps it)
            if add:
                into[r, c] += v
            else:
                out[r, c] = v
        if banded:
            while c0 < c1 and carry[c0] == 0.0:
                c0 += 1
            while c1 > c0 and carry[c1 - 1] == 0.0:
                c1 -= 1
            c_lo, c_hi = (c0, c1) if c0 < c1 else (n_cols, 0)
    return into if add else out


@_jit
def bins(price, edges, out):  # type: ignore[no-untyped-def]
    """``out[i]`` = :func:`bin_of` ``price[i]``."""
    inv = _inverse_width(edges) if len(edges) > 1 else 0.0
    for i in range(len(price)):
        out[i] = bin_of(price[i], edges, inv)
    return out


@_jit
def typical_levels(high, low, close, opened, new_oi, share, up, down, w, lev, f, cap, price, notional, created, is_long, tier, long, at):  # type: ignore[no-untyped-def]
    """One side's levels of docs/model.md's entry at the typical price, in candle order then tier order,
    written from index ``at``; returns the index after the last one written. For candle ``c`` and tier
    ``t``: entry ``e = (high + low + close) / 3``, price ``e * up[t] / down[t]`` (with ``up = 1 -/+ 1/L`` and
    ``down = 1 -/+ mmr`` this is :func:`~liqtools.analysis.prices.liquidation_price` operation for
    operation), notional ``(new_oi[c] * share[c]) * w[t]``, and ``t`` itself into ``tier`` unless it is empty; levels
    without a positive notional are left out. With crowding, ``f`` holds each opening candle's leverage
    factor (``f[i]`` for ``opened[i]``, finite): the tier's leverage is ``lev[t] * f[i]`` clipped to ``[1,
    cap[t]]`` and ``up`` follows from it (``np.clip``'s and the numpy formula's operations)."""
    j = at
    with_tier, crowded = len(tier) > 0, len(f) > 0
    for i in range(len(opened)):
        c = opened[i]
        e = (high[c] + low[c] + close[c]) / 3.0
        base = new_oi[c] * share[c]
        for t in range(len(w)):
            v = base * w[t]
            if not v > 0.0:
                continue
            u = up[t]
            if crowded:
                x = lev[t] * f[i]
                x = max(x, 1.0)
                x = min(x, cap[t])
                u = 1.0 - 1.0 / x if long else 1.0 + 1.0 / x
            price[j] = e * u / down[t]
            notional[j] = v
            created[j] = c
            is_long[j] = long
            if with_tier:
                tier[j] = t
            j += 1
    return j
