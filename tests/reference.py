"""A plain, literal implementation of MODEL.md section 3: the slow reference the fast heatmap must equal.

Written for obviousness, not speed: one Python loop over candles, one over active levels.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def crowding_z(x, window):
    """The crowding score, literally: (x_i - mean of the previous `window` values) / their population
    deviation, 0 where they are not all known or do not vary, clipped to +-3."""
    z = []
    for i in range(len(x)):
        past = x[i - window : i] if i >= window else []
        if len(past) < window or any(math.isnan(v) for v in past) or math.isnan(x[i]):
            z.append(0.0)
            continue
        mean = sum(past) / window
        sd = math.sqrt(sum((v - mean) ** 2 for v in past) / window)
        if not sd > 1e-9 * (abs(mean) + abs(x[i])):
            z.append(0.0)
            continue
        z.append(max(-3.0, min(3.0, (x[i] - mean) / sd)))
    return z


def crowding_signal(df, signal):
    if signal == "funding":
        return df["funding_rate"].ffill().tolist()
    if signal == "ratio":
        return [math.log(v) for v in df["long_short_ratio"].ffill().tolist()]
    out = []
    for vol, buy in zip(df["volume"].tolist(), df["taker_buy_volume"].tolist()):
        out.append(2 * buy / vol - 1 if vol > 0 else 0.0)
    return out


def reference_heatmap(
    df,
    weights,
    mmr,
    split,
    edges,
    every=1,
    price="last",
    half_life=None,
    entry="typical",
    turnover=0.0,
    half_life_mix=None,
    near_cut=None,
    crowding=None,
    consume_margin=0.0,
):
    """Return (long_snapshots, short_snapshots, liquidated_long, liquidated_short, levels_after_each_candle, flows).

    Options beyond MODEL.md: ``half_life`` (a number of candles: every level also shrinks by
    2 ** (-1 / half_life) at each closing step after the first candle); ``entry="path"`` (new open
    interest in four equal parts at open, first extreme, second extreme, close; a new level that the
    rest of its candle's path crosses is liquidated in that candle); ``turnover`` g (g * volume * typical
    price, capped at min(oi_prev, oi), opens on top of the net increase and closes pro rata);
    ``half_life_mix`` [(share, half_life in candles or None)] (each new level split into classes that
    also decay at their own rate); ``near_cut`` (distance, share) (the first later candle whose range
    comes within distance of a level without reaching it cuts share of it); ``crowding`` (signal,
    sensitivity, window) (tier leverage L * exp(+-sensitivity * z)); ``consume_margin`` m (consumed
    only at low <= q (1 - m) / high >= q (1 + m)).
    """
    n = len(df)
    high, low, close = df["high"].tolist(), df["low"].tolist(), df["close"].tolist()
    trig_high, trig_low = high, low
    if price == "mark":
        trig_high, trig_low = df["mark_high"].tolist(), df["mark_low"].tolist()
    oi = df["oi_usd"].tolist()
    classes = half_life_mix or [(1.0, None)]
    z = [0.0] * n
    if crowding is not None:
        z = crowding_z(crowding_signal(df, crowding[0]), crowding[2])
    m_ = consume_margin
    # carry forward missing values
    filled, last = [], float("nan")
    for v in oi:
        if not (isinstance(v, float) and math.isnan(v)):
            last = v
        filled.append(last)
    levels = []  # [price, notional, is_long, class, not_yet_cut]
    n_bins = len(edges) - 1
    snaps_long, snaps_short, liq_long, liq_short, alive_after = [], [], [], [], []
    opened_total = closed_total = 0.0
    flows = []
    for i in range(n):
        # 1. consumed
        ll = ls = 0.0
        keep = []
        for lv in levels:
            if lv[2] and trig_low[i] <= lv[0] * (1 - m_):
                ll += lv[1]
            elif (not lv[2]) and trig_high[i] >= lv[0] * (1 + m_):
                ls += lv[1]
            else:
                keep.append(lv)
        levels = keep
        liq_long.append(ll)
        liq_short.append(ls)
        # 2. closed
        known = i > 0 and not math.isnan(filled[i]) and not math.isnan(filled[i - 1])
        d = filled[i] - filled[i - 1] if known else 0.0
        g = 0.0
        if known and turnover > 0:
            g = min(turnover * df["volume"].iloc[i] * (high[i] + low[i] + close[i]) / 3, min(filled[i - 1], filled[i]))
        closed = 0.0
        ratio = (min(filled[i - 1], filled[i]) - g) / filled[i - 1] if known else 1.0
        if half_life is not None and i > 0:
            ratio *= 0.5 ** (1.0 / half_life)
        for lv in levels:
            r = ratio
            if classes[lv[3]][1] is not None and i > 0:
                r *= 0.5 ** (1.0 / classes[lv[3]][1])
            if near_cut is not None and lv[4]:
                near = trig_low[i] <= lv[0] * (1 + near_cut[0]) if lv[2] else trig_high[i] >= lv[0] * (1 - near_cut[0])
                if near:
                    r *= 1 - near_cut[1]
                    lv[4] = False
            closed += lv[1] * (1 - r)
            lv[1] *= r
        # 3. opened
        opened = 0.0
        new = max(d, 0.0) + g
        if new > 0:
            if split == "both":
                a, b = 1.0, 1.0
            elif split == "taker":
                vol = df["volume"].iloc[i]
                a = df["taker_buy_volume"].iloc[i] / vol if vol > 0 else 0.5
                b = 1 - a
            elif split == "candle":
                up = df["close"].iloc[i] >= df["open"].iloc[i]
                a, b = (1.0, 0.0) if up else (0.0, 1.0)
            elif split == "accounts":
                r_ls = df["long_short_ratio"].ffill().iloc[i]
                a = r_ls / (1 + r_ls) if not math.isnan(r_ls) else 0.5
                b = 1 - a
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
                    lev_a = lev_b = lev
                    if crowding is not None and crowding[1] != 0:
                        cap = max(lev, min(125.0, 0.999 / max(m, 1e-12)))
                        lev_a = min(max(lev * math.exp(crowding[1] * z[i]), 1.0), cap)
                        lev_b = min(max(lev * math.exp(-crowding[1] * z[i]), 1.0), cap)
                    qa = e * (1 - 1 / lev_a) / (1 - m)
                    qb = e * (1 + 1 / lev_b) / (1 + m)
                    for cls, (pi, _) in enumerate(classes):
                        va, vb = new * a * w * share * pi, new * b * w * share * pi
                        if va > 0:
                            opened += va
                            if rest_min <= qa * (1 - m_):  # crossed later in its own candle (entry="path" only)
                                liq_long[-1] += va
                            else:
                                levels.append([qa, va, True, cls, near_cut is not None])
                        if vb > 0:
                            opened += vb
                            if rest_max >= qb * (1 + m_):
                                liq_short[-1] += vb
                            else:
                                levels.append([qb, vb, False, cls, near_cut is not None])
        opened_total += opened
        closed_total += closed
        flows.append((opened_total, closed_total, sum(lv[1] for lv in levels)))
        alive_after.append([tuple(lv[:3]) for lv in levels])
        if (i + 1) % every == 0:
            rl, rs = [0.0] * n_bins, [0.0] * n_bins
            for q, v, is_long, _, _ in levels:
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
    df, *, split="both", every=1, weights=None, mmr=0.004, price="last", bin_size=1.0, half_life=None, entry="typical", **beyond
):
    """Run the fast heatmap and the reference loop with the same options and compare every output.

    ``beyond``: ``turnover``, ``half_life_mix``, ``near_cut``, ``crowding`` (a tuple
    ``(signal, sensitivity, window)``), ``consume_margin``. Returns ``(heatmap, alive_after_each_candle,
    reference_flows)`` for further checks.
    """
    from liqtools import LeverageProfile, liquidation_heatmap
    from liqtools.analysis.ingredients import Crowding

    weights = weights or {5.0: 0.10, 10.0: 0.25, 25.0: 0.30, 50.0: 0.20, 100.0: 0.15}
    fast = dict(beyond)
    if fast.get("crowding") is not None:
        fast["crowding"] = Crowding(*fast["crowding"])
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
        **fast,
    )
    rl, rs, ll, ls, alive, flows = reference_heatmap(df, weights, mmr, split, hm.edges, every, price, half_life, entry, **beyond)
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
