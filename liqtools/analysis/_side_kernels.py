"""Compiled loops of the heatmap's one pass a side (:mod:`liqtools.analysis._by_side`): the pass itself and
its two finishing passes, the picture's column spans and the per-candle sums.

Within one epoch a level's value at candle ``t`` is ``notional * exp(L[t] - L[k])`` for its class's
cumulative log factor ``L`` and its creation candle ``k``. The pass adds ``notional * exp(L0 - L[k])``
(one exp per candle, taken by numpy beforehand) and the finishing passes multiply each candle's sum by
``exp(L[t] - L0)``. The picture and the active notional take the general passes' own operations, so they
are the same numbers bit for bit. The liquidated notional is scaled the same way, where the general pass
takes one exp per level: ``exp(a) * exp(b)`` rounds differently from ``exp(a + b)``, so it matches theirs to
1e-12, not bit for bit (tests/test_by_side.py).
"""

from __future__ import annotations

from liqtools._jit import jit as _jit
from liqtools.analysis._kernels import _inverse_width, bin_of


@_jit
def side_pass(vals, first, start, hi, used, every, created, end, consumed, notional, price, edges, scale_pic, scale_act, act, due, liq, cut_at, cut_share):  # type: ignore[no-untyped-def]
    """One side's levels of one closing class within one epoch, in one pass: what
    :func:`~liqtools.analysis._kernels.span_scatter` adds for the snapshot rows (into column spans, below;
    column :func:`~liqtools.analysis._kernels.bin_of` the price) and for every candle (``act``), with
    the same operations in the same order, so the sums are the same bit for bit; and the liquidated
    notional per candle, before :func:`finish_candles` scales it (``due``). ``scale_pic`` /
    ``scale_act``: the two results' exp factors per candle (``exp(L0 - L[k])``). With ``cut_at``
    (near_cut), a cut level's first piece is its notional times ``1 - cut_share``, and its second,
    ``cut_share`` of it until the cut, comes after every level's first piece (the pieces' order of
    ``heatmap._spans``).

    A level is liquidated at candle ``c = consumed`` when nothing ended it before (``end == c < n``), at
    its value before that candle's closing step: ``notional * exp(L[c - 1] - L[k])``, times ``1 -
    cut_share`` once cut (``cut_at <= c - 1``). The pass adds ``notional * scale_act[k]`` (the cut
    likewise) to ``due[c]``; :func:`finish_candles` multiplies it by ``exp(L[c - 1] - L0)``. A level
    liquidated inside its own candle (path entries, ``c == k``) keeps its opening notional, exactly: it
    goes into ``liq[c]`` itself.

    The snapshot rows go into the layout of :class:`~liqtools.analysis.snapshots.ColumnSpans`, ``len(first)``
    columns of ``len(scale_pic) // every`` rows: the first piece that enters column ``c`` (at row ``a``)
    gives it ``first[c] = a`` (``first`` starts at the row count: no column yet) and the next ``rows - a``
    cells of ``vals`` from ``used[0]`` on; ``hi[c]`` grows past the last row written. The columns shared
    by several classes keep their place (``first``, ``start`` and ``used`` go from one class to the next).
    Returns False when a piece enters a column above its first row: levels not in creation order, or a later
    class's level in a column the first class met lower down (its own level there was dropped, e.g. a
    notional that underflowed to 0). The caller then takes the general passes."""
    n_cols = len(first)
    inv = _inverse_width(edges)
    rows = len(scale_pic) // every
    n, m = len(act), len(notional)
    has_cut = len(cut_at) > 0
    for p in range(2 * m if has_cut else m):
        is_first = p < m
        i = p if is_first else p - m
        k, v = created[i], notional[i]
        if is_first:
            e = end[i]
            u = v * (1.0 - cut_share) if has_cut and cut_at[i] < e else v
        else:  # the cut share, alive until the cut
            e = cut_at[i]
            if not e < end[i]:
                continue
            u = v * cut_share
        a, b = k // every, e // every
        if a < b and a < rows:
            c = bin_of(price[i], edges, inv)
            if 0 <= c < n_cols:
                if first[c] == rows:  # the column's first piece: its cells from here on
                    first[c], start[c] = a, used[0]
                    used[0] += rows - a
                elif a < first[c]:
                    return False
                w = u * scale_pic[k]
                at = start[c] - first[c]
                vals[at + a] += w
                if b < rows:
                    vals[at + b] -= w
                    hi[c] = max(hi[c], b + 1)
                else:
                    hi[c] = max(hi[c], a + 1)
        s = scale_act[k]
        if k < e:
            w = u * s
            act[k] += w
            if e < n:
                act[e] -= w
        c = consumed[i]
        if is_first and c < n and e == c:
            if c == k:
                liq[c] += v
            else:
                x = v * s
                if has_cut and cut_at[i] < c:
                    x = x * (1.0 - cut_share)
                due[c] += x
    return True


@_jit
def finish_candles(act, due, factor, active, liq, add):  # type: ignore[no-untyped-def]
    """Finish :func:`side_pass`'s per-candle sums (``factor[t] = exp(L[t] - L0)``, finite): the active
    notional, ``act``'s cumulative sum times the candle's factor, clipped at 0, as
    :func:`~liqtools.analysis._kernels.finish_rows` gives it for one column, into ``active`` (added when
    ``add``); the liquidated notional, ``due[t]`` times ``factor[t - 1]``, added to ``liq``."""
    carry = 0.0
    for t in range(len(factor)):
        carry += act[t]
        v = carry * factor[t]
        v = 0.0 if v <= 0.0 else v  # noqa: FURB136 (as in finish_rows)
        if add:
            active[t] += v
        else:
            active[t] = v
        if t > 0:
            liq[t] += due[t] * factor[t - 1]
    return active


@_jit
def finish_spans(vals, first, start, hi, factor, into):  # type: ignore[no-untyped-def]
    """:func:`~liqtools.analysis._kernels.finish_rows` for column spans (the layout of :func:`side_pass`;
    ``factor``: one finite value per row): each column's cumulative sum from its first row, times the
    row's factor, clipped at 0, in place or added to ``into`` (same layout) when it is not empty. Past
    ``hi[c]`` (no differences left) a column is summed only while its sum is above 0 (or NaN): the cells
    where it is 0, or below 0 and clipped, are left as they are, the same numbers as the whole column
    gives, bit for bit."""
    rows = len(factor)
    add = len(into) > 0
    for c in range(len(first)):
        r0 = first[c]
        at = start[c] - r0
        carry = 0.0
        for r in range(r0, rows):
            if r >= hi[c] and carry <= 0.0:  # no differences left, and 0 or clipped from here on (NaN goes on)
                break
            carry += vals[at + r]
            v = carry * factor[r]
            v = 0.0 if v <= 0.0 else v  # noqa: FURB136 (as in finish_rows)
            if add:
                into[at + r] += v
            else:
                vals[at + r] = v
    return into if add else vals
