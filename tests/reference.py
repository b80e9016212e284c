"""A plain, literal implementation of MODEL.md section 3: the slow reference the fast heatmap must equal.

Written for obviousness, not speed: one Python loop over candles, one over active levels.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def reference_heatmap(df, weights, mmr, split, edges, every=1, price="last", half_life=None, entry="typical"):
    """Return (long_snapshots, short_snapshots, liquidated_long, liquidated_short, levels_after_each_candle, flows).

    Options beyond MODEL.md: ``half_life`` (a number of candles: every level also shrinks by
    2 ** (-1 / half_life) at each closing step after the first candle) and ``entry="path"`` (new open
    interest in four equal parts at open, first extreme, second extreme, close; a new level that the
    rest of its candle's path crosses is liquidated in that candle).
    """
    n = len(df)
    high, low, close = df["high"].tolist(), df["low"].tolist(), df["close"].tolist()
    trig_high, trig_low = high, low
    if price == "mark":
        trig_high, trig_low = df["mark_high"].tolist(), df["mark_low"].tolist()
    oi = df["oi_usd"].tolist()
    # carry forward missing values
    filled, last = [], float("nan")
    for v in oi:
        if not (isinstance(v, float) and math.isnan(v)):
            last = v
        filled.append(last)
    levels = []  # [price, notional, is_long]
    n_bins = len(edges) - 1
    snaps_long, snaps_short, liq_long, liq_short, alive_after = [], [], [], [], []
    opened_total = closed_total = 0.0
    flows = []
    for i in range(n):
        ll = ls = 0.0
        keep = []
        for lv in levels:
            if lv[2] and lv[0] >= trig_low[i]:
                ll += lv[1]
            elif (not lv[2]) and lv[0] <= trig_high[i]:
                ls += lv[1]
            else:
                keep.append(lv)
        levels = keep
        liq_long.append(ll)
        liq_short.append(ls)
        d = 0.0
        if i > 0 and not math.isnan(filled[i]) and not math.isnan(filled[i - 1]):
            d = filled[i] - filled[i - 1]
        closed = 0.0
        ratio = filled[i] / filled[i - 1] if d < 0 else 1.0
        if half_life is not None and i > 0:
            ratio *= 0.5 ** (1.0 / half_life)
        if ratio < 1.0:
            for lv in levels:
                closed += lv[1] * (1 - ratio)
                lv[1] *= ratio
        opened = 0.0
        if d > 0:
            if split == "both":
                a, b = 1.0, 1.0
            elif split == "taker":
                vol = df["volume"].iloc[i]
                a = df["taker_buy_volume"].iloc[i] / vol if vol > 0 else 0.5
                b = 1 - a
            elif split == "candle":
                up = df["close"].iloc[i] >= df["open"].iloc[i]
                a, b = (1.0, 0.0) if up else (0.0, 1.0)
            else:
                a, b = float(split), 1 - float(split)
            if entry == "typical":
                points = [((high[i] + low[i] + close[i]) / 3, 1.0, float("inf"), -float("inf"))]
            else:
                o, c = df["open"].iloc[i], close[i]
                path = [o, low[i], high[i], c] if c >= o else [o, high[i], low[i], c]
                points = [
                    (path[k], 0.25, min(path[k + 1 :], default=float("inf")), max(path[k + 1 :], default=-float("inf")))
                    for k in range(4)
                ]
            for e, share, rest_min, rest_max in points:
                for lev, w in weights.items():
                    m = mmr[lev] if isinstance(mmr, dict) else mmr
                    qa = e * (1 - 1 / lev) / (1 - m)
                    qb = e * (1 + 1 / lev) / (1 + m)
                    if d * a * w * share > 0:
                        opened += d * a * w * share
                        if rest_min <= qa:  # crossed later in its own candle (entry="path" only)
                            liq_long[-1] += d * a * w * share
                        else:
                            levels.append([qa, d * a * w * share, True])
                    if d * b * w * share > 0:
                        opened += d * b * w * share
                        if rest_max >= qb:
                            liq_short[-1] += d * b * w * share
                        else:
                            levels.append([qb, d * b * w * share, False])
        opened_total += opened
        closed_total += closed
        flows.append((opened_total, closed_total, sum(lv[1] for lv in levels)))
        alive_after.append([tuple(lv) for lv in levels])
        if (i + 1) % every == 0:
            rl, rs = [0.0] * n_bins, [0.0] * n_bins
            for q, v, is_long in levels:
                if edges[0] <= q < edges[-1]:
                    j = int(np.searchsorted(edges, q, side="right")) - 1
                    (rl if is_long else rs)[j] += v
            snaps_long.append(rl)
            snaps_short.append(rs)
    return (
        np.array(snaps_long).reshape(-1, n_bins),
        np.array(snaps_short).reshape(-1, n_bins),
        np.array(liq_long),
        np.array(liq_short),
        alive_after,
        pd.DataFrame(flows, columns=["opened", "closed", "active"], index=df.index),
    )


def reference_cascade(levels, p0, d, depth, impact):
    """MODEL.md section 6, literally: rescan every level at every step."""
    up = d >= 0
    base = p0 * (1 + d)

    def m(q):
        return 0.01 * q / depth if impact == "linear" else 0.01 * math.sqrt(q / depth)

    def forced(p):
        total = 0.0
        for q, v, side in zip(levels["price"], levels["notional_usd"], levels["side"]):
            if up and side == "short" and p0 < q <= p:
                total += v
            if not up and side == "long" and p <= q < p0:
                total += v
        return total

    p = base
    q_prev = forced(p)
    steps = [(p, q_prev)]
    while True:
        p = base * math.exp(m(q_prev)) if up else base * math.exp(-m(q_prev))
        q = forced(p)
        if q == q_prev:
            return p, q, steps
        steps.append((p, q))
        q_prev = q


RTOL = 1e-9


def atol(df):
    """Absolute slack for cells that should be empty: 1e-9 of the largest open interest."""
    return 1e-9 * float(np.nanmax(np.r_[df["oi_usd"].to_numpy(), 1.0]))


def assert_matches_reference(
    df, *, split="both", every=1, weights=None, mmr=0.004, price="last", bin_size=1.0, half_life=None, entry="typical"
):
    """Run the fast heatmap and the reference loop with the same options and compare every output.

    Returns ``(heatmap, alive_after_each_candle, reference_flows)`` for further checks.
    """
    from liqtools import LeverageProfile, liquidation_heatmap

    weights = weights or {5.0: 0.10, 10.0: 0.25, 25.0: 0.30, 50.0: 0.20, 100.0: 0.15}
    hm = liquidation_heatmap(
        df,
        leverage=LeverageProfile(weights, mmr),
        split=split,
        every=every,
        bin_size=bin_size,
        price_range=(40.0, 250.0),
        price=price,
        half_life=half_life,
        entry=entry,
    )
    rl, rs, ll, ls, alive, flows = reference_heatmap(df, weights, mmr, split, hm.edges, every, price, half_life, entry)
    tol = atol(df)
    assert hm.long.shape == rl.shape == (len(df) // every, len(hm.edges) - 1)
    np.testing.assert_allclose(hm.long, rl, rtol=RTOL, atol=tol)
    np.testing.assert_allclose(hm.short, rs, rtol=RTOL, atol=tol)
    np.testing.assert_allclose(hm.liquidated["long_usd"], ll, rtol=RTOL, atol=tol)
    np.testing.assert_allclose(hm.liquidated["short_usd"], ls, rtol=RTOL, atol=tol)
    f = hm.flows
    np.testing.assert_allclose(f["active_long_usd"] + f["active_short_usd"], flows["active"], rtol=RTOL, atol=tol)
    np.testing.assert_allclose((f["closed_long_usd"] + f["closed_short_usd"]).cumsum(), flows["closed"], rtol=RTOL, atol=tol)
    return hm, alive, flows
