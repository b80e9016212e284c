"""Heatmap speed and memory (issue 2).

    python benchmarks/bench_heatmap.py            # month vs plain loop, options, then one year
    python benchmarks/bench_heatmap.py --quick    # smaller sizes, for a smoke run
    python benchmarks/bench_heatmap.py --options  # only the options' time ratios
    python benchmarks/bench_heatmap.py --year     # the year beside the numpy floor, as ratios (issue 16)
    python benchmarks/bench_heatmap.py --breakdown  # where a later call on the year spends its time
    python benchmarks/bench_heatmap.py --against DIR  # the year's later calls here and in another checkout

Prints, for 43,200 one-minute candles (one month): the plain per-candle loop over active levels (numpy
inside each candle) against liquidation_heatmap, and checks they agree; then one year (525,600 candles)
of the fast path with peak memory (a fresh child process per measurement, ru_maxrss), with numpy's
transparent-huge-page advice on (its default) and off: on this VM the first touch of fresh huge pages
is slow, which dominates a first call, while later calls reuse them. Default model:
5 tiers, hourly snapshots (every=60), $100 bins over $20k-$200k. The options beyond MODEL.md are
timed on the same month, each as a ratio to the default's time (target: at most 2x), for the heatmap
and for ``liquidated_by_tier`` (what calibration calls).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

OPTS = {"bin_size": 100.0, "price_range": (20_000.0, 200_000.0), "every": 60}


def synthetic_minutes(n: int, seed: int = 0) -> pd.DataFrame:
    """A BTC-like random walk: 0.08% per minute, open interest around $5B with 0.1% per-minute changes,
    taker buys, a long/short account ratio and an 8-hourly funding rate (for the options)."""
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.concatenate([[60_000.0], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.0005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.0005, n)))
    oi = 5e9 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    index = pd.date_range("2025-01-01", periods=n, freq="min", tz="UTC")
    volume = rng.uniform(20, 200, n)
    funding = np.where(np.arange(n) % 480 == 0, rng.normal(1e-4, 1e-4, n), np.nan)
    return pd.DataFrame(
        {
            "open": open_, "high": high, "low": low, "close": close, "volume": volume,
            "taker_buy_volume": volume * rng.uniform(0.3, 0.7, n), "oi_usd": oi, "funding_rate": funding,
            "long_short_ratio": np.exp(np.cumsum(rng.normal(0, 0.002, n))),
        },
        index=index,
    )


def option_cases() -> dict[str, dict]:
    """Each option beyond MODEL.md at a typical setting."""
    from liqtools.analysis.ingredients import Crowding

    return {
        "half_life='7D'": {"half_life": "7D"},
        "entry='path'": {"entry": "path"},
        "turnover=0.02": {"turnover": 0.02},
        "half_life_mix (2 classes)": {"half_life_mix": [(0.5, "6h"), (0.5, None)]},
        "near_cut=(0.01, 0.3)": {"near_cut": (0.01, 0.3)},
        "crowding(funding)": {"crowding": Crowding("funding", 0.5, window=1440)},
        "crowding(ratio)": {"crowding": Crowding("ratio", 0.5, window=1440)},
        "consume_margin=0.002": {"consume_margin": 0.002},
        "split='accounts'": {"split": "accounts"},
    }


def option_ratios(df: pd.DataFrame, repeats: int = 7) -> None:
    """Print each option's time over the default's, for the heatmap and for liquidated_by_tier.

    The machine is shared, so default and option runs alternate and each side keeps its best of
    ``repeats``: a load burst then slows both alike instead of one.
    """
    from liqtools import liquidation_heatmap
    from liqtools.analysis.heatmap import liquidated_by_tier

    lev = np.array([5.0, 10.0, 25.0, 50.0, 100.0])

    def timed(fn, kw) -> float:
        t = time.perf_counter()
        fn(**kw)
        return time.perf_counter() - t

    def ratio(fn, kw) -> tuple[float, float]:
        base, opt = [], []
        for _ in range(repeats):
            base.append(timed(fn, {}))
            opt.append(timed(fn, kw))
        return min(opt) / min(base), min(base)

    heat = lambda **kw: liquidation_heatmap(df, **OPTS, **kw)
    tiers = lambda **kw: liquidated_by_tier(df, lev, **kw)
    print(f"options on {len(df):,} 1-minute candles (default and option alternating, best of {repeats} each)")
    print(f"  {'option':28s} {'heatmap':>9s} {'by tier':>9s}   (time / default's time)")
    for name, kw in option_cases().items():
        (rh, bh), (rt, bt) = ratio(heat, kw), ratio(tiers, kw)
        print(f"  {name:28s} {rh:8.2f}x {rt:8.2f}x   (default {bh * 1e3:.0f} ms / {bt * 1e3:.0f} ms)")


def plain_loop(df: pd.DataFrame, edges: np.ndarray, every: int):
    """MODEL.md section 3 as a per-candle loop over the active levels (numpy within a candle)."""
    from liqtools import LeverageProfile

    prof = LeverageProfile.default()
    lev, w, mmr = prof.leverages, prof.weights_array, prof.mmrs
    high, low, close, oi = (df[c].to_numpy() for c in ("high", "low", "close", "oi_usd"))
    q = np.empty(0)
    v = np.empty(0)
    is_long = np.empty(0, bool)
    n_bins = len(edges) - 1
    snaps_long, snaps_short = [], []
    liq = np.zeros((len(df), 2))
    for i in range(len(df)):
        hit = np.where(is_long, q >= low[i], q <= high[i])
        liq[i, 0] = v[hit & is_long].sum()
        liq[i, 1] = v[hit & ~is_long].sum()
        keep = ~hit
        q, v, is_long = q[keep], v[keep], is_long[keep]
        d = oi[i] - oi[i - 1] if i else 0.0
        if d < 0:
            v = v * (oi[i] / oi[i - 1])
        elif d > 0:
            e = (high[i] + low[i] + close[i]) / 3
            q = np.concatenate([q, e * (1 - 1 / lev) / (1 - mmr), e * (1 + 1 / lev) / (1 + mmr)])
            v = np.concatenate([v, d * w, d * w])
            is_long = np.concatenate([is_long, np.ones(len(lev), bool), np.zeros(len(lev), bool)])
        if (i + 1) % every == 0:
            j = np.searchsorted(edges, q, side="right") - 1
            ok = (j >= 0) & (j < n_bins)
            snaps_long.append(np.bincount(j[ok & is_long], v[ok & is_long], n_bins))
            snaps_short.append(np.bincount(j[ok & ~is_long], v[ok & ~is_long], n_bins))
    return np.array(snaps_long), np.array(snaps_short), liq


# later calls per process (and repeats of the floor): this VM's slow spells (fresh pages from the host) hit
# some calls three times over, so the figures are medians of all of them, with their spread printed
LATER = 4


def child(n: int, repeats: int) -> None:
    """Run in a fresh process: time the fast heatmap and report peak RSS and each call's system time.

    A heatmap of the bundled sample runs first: it loads the compiled loops (numba's on-disk cache), a
    cost paid once per process whatever the data, reported apart as ``load``."""
    import liqtools
    from liqtools import liquidation_heatmap, load_sample

    t = time.perf_counter()
    liquidation_heatmap(load_sample())
    load = time.perf_counter() - t
    df = synthetic_minutes(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, system, user = [], [], []
    for _ in range(repeats):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        hm = liquidation_heatmap(df, **OPTS)
        times.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        system.append(r1.ru_stime - r0.ru_stime)
        user.append(r1.ru_utime - r0.ru_utime)
        if len(times) < repeats:
            del hm
    # the whole matrices, built from the stored columns on first use (what a reader of hm.long pays once)
    t = time.perf_counter()
    hm.long, hm.short  # noqa: B018
    dense = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"times": times, "system": system, "user": user, "dense": dense, "load": load, "peak_gb": peak / 1e6, "data_gb": base / 1e6, "file": liqtools.__file__}))


def floor_child(n: int) -> None:
    """Run in a fresh process: the numpy floor, binning every level of the model once into the two snapshot
    matrices (one bincount a side), first into fresh memory as a first heatmap call meets it, then again
    (memory the process has used before, as later calls meet it)."""
    from liqtools.analysis._build import model_levels
    from liqtools.analysis.bins import bin_index, make_edges
    from liqtools.analysis.ingredients import ModelOptions
    from liqtools.analysis.profile import LeverageProfile
    from liqtools.schema import validate_market

    df = validate_market(synthetic_minutes(n))
    lv, _, _ = model_levels(df, LeverageProfile.default(), ModelOptions())
    edges = make_edges(OPTS["price_range"][0], OPTS["price_range"][1], OPTS["bin_size"])
    n_bins, rows = len(edges) - 1, n // OPTS["every"]
    col = bin_index(lv.price, edges)
    cell = np.minimum(lv.created // OPTS["every"], rows - 1) * n_bins + col
    ok = (col >= 0) & (col < n_bins)
    times = []
    for _ in range(1 + LATER):  # first into memory this process has not used yet, then again (as later calls meet it)
        t = time.perf_counter()
        out = []
        for side in (lv.is_long, ~lv.is_long):
            keep = ok & side
            out.append(np.bincount(cell[keep], weights=lv.notional[keep], minlength=rows * n_bins))
        times.append(time.perf_counter() - t)
        del out
    print(json.dumps({"floor": times[0], "again": times[1:]}))


def measure(n: int, repeats: int, hugepages: bool = True, floor: bool = False, tree: str | None = None) -> dict:
    """One fresh process's figures; ``tree``: import liqtools from that checkout instead of this one."""
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "1" if hugepages else "0"}
    if tree is not None:
        env["PYTHONPATH"] = tree
    args = ["--floor", str(n)] if floor else ["--child", str(n), str(repeats)]
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def year_against_tree(n: int, other: str, rounds: int = 6) -> None:
    """Later calls on the year with this checkout and with another one (``git worktree add DIR COMMIT``),
    in alternating fresh processes: a change's effect on a machine whose speed drifts from minute to minute.
    Besides the wall time's quartiles: how many calls met a slow spell (over 200 ms; this VM's fresh pages
    then come from the host) and the CPU time per call summed over the threads (user), which such spells
    do not move."""
    import liqtools

    here = os.path.dirname(os.path.dirname(os.path.abspath(liqtools.__file__)))
    later: dict[str, list[float]] = {other: [], here: []}
    user: dict[str, list[float]] = {other: [], here: []}
    for _ in range(rounds):
        for tree in (other, here):
            run = measure(n, 5, tree=tree)
            if not run["file"].startswith(os.path.abspath(tree)):
                raise RuntimeError(f"the child imported {run['file']}, not the checkout {tree}")
            later[tree] += run["times"][1:]
            user[tree] += run["user"][1:]
    print(f"year of 1-minute candles ({n:,}), later calls, {rounds} alternating fresh processes x 4 calls each:")
    for tree, times in later.items():
        t = np.array(times) * 1e3
        print(
            f"  {tree:40s} median {np.median(t):6.1f} ms  p25 {np.percentile(t, 25):6.1f}  min {t.min():6.1f}"
            f"  over 200 ms: {int((t > 200).sum())} of {len(t)}  CPU (user) {np.median(user[tree]) * 1e3:6.1f} ms"
        )
    ratio = np.median(later[here]) / np.median(later[other])
    print(f"  this checkout / the other: {ratio:.2f} (medians), {np.median(user[here]) / np.median(user[other]):.2f} (CPU)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=2, type=int)
    ap.add_argument("--options", action="store_true")
    ap.add_argument("--floor", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--year", action="store_true", help="only the year: its time and peak beside the numpy floor")
    ap.add_argument("--breakdown", action="store_true", help="only the year: own time per function of a later call")
    ap.add_argument("--against", metavar="DIR", help="only the year's later calls, here and in another checkout, alternating")
    ap.add_argument("--rounds", type=int, default=6, help="with --against: alternating processes per checkout")
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.floor:
        floor_child(args.floor)
        return
    if args.year:
        year_against_floor(52_560 if args.quick else 525_600)
        return
    if args.against:
        year_against_tree(52_560 if args.quick else 525_600, args.against, args.rounds)
        return
    if args.breakdown:
        year_breakdown(52_560 if args.quick else 525_600)
        return
    if args.options:
        option_ratios(synthetic_minutes(4_320 if args.quick else 43_200))
        return
    from liqtools import liquidation_heatmap

    month = 4_320 if args.quick else 43_200
    year = 52_560 if args.quick else 525_600
    df = synthetic_minutes(month)
    t = time.perf_counter()
    hm = liquidation_heatmap(df, **OPTS)
    fast = time.perf_counter() - t
    fast = min([fast] + [_timed(liquidation_heatmap, df) for _ in range(4)])
    t = time.perf_counter()
    rl, rs, liq = plain_loop(df, hm.edges, OPTS["every"])
    slow = time.perf_counter() - t
    scale = float(df["oi_usd"].max())
    assert np.allclose(hm.long, rl, rtol=1e-9, atol=1e-9 * scale) and np.allclose(hm.short, rs, rtol=1e-9, atol=1e-9 * scale)
    assert np.allclose(hm.liquidated.to_numpy(), liq, rtol=1e-9, atol=1e-9 * scale)
    print(f"month of 1-minute candles ({month:,}), {len(hm.times)} snapshots x {len(hm.edges) - 1} bins")
    print(f"  plain per-candle loop : {slow:8.3f} s")
    print(f"  liquidation_heatmap   : {fast * 1e3:8.1f} ms  (best of 5)   speed-up {slow / fast:,.0f}x   (results agree to 1e-9)")
    option_ratios(df)
    print(f"year of 1-minute candles ({year:,}), every=60, $100 bins over $20k-$200k, 5 fresh processes x 3 calls:")
    for hugepages in (True, False):
        runs = [measure(year, 3, hugepages) for _ in range(5)]
        first = np.array([r["times"][0] for r in runs])
        warm = np.array([t for r in runs for t in r["times"][1:]])
        peak = max(r["peak_gb"] for r in runs)
        print(f"  numpy huge pages {'on (default)' if hugepages else 'off (NUMPY_MADVISE_HUGEPAGE=0)'}:")
        print(f"    first call in a process: median {np.median(first):.2f} s (min {first.min():.2f}, max {first.max():.2f})")
        print(f"    later calls            : median {np.median(warm):.2f} s (min {warm.min():.2f}, max {warm.max():.2f})")
        print(f"    peak memory (RSS)      : {peak:.2f} GB  (input frame and interpreter alone: {runs[0]['data_gb']:.2f} GB)")


def year_against_floor(n: int, runs: int = 5) -> None:
    """Issue 16's figures side by side: the year's first and later calls and peak, the floor, the ratios."""
    floor_runs, calls = [], []
    for _ in range(runs):  # alternating, so a busy minute on this shared machine slows both alike
        floor_runs.append(measure(n, 1, floor=True))
        calls.append(measure(n, 1 + LATER))
    floors = np.array([r["floor"] for r in floor_runs])
    again_runs = np.array([r["again"] for r in floor_runs])  # (runs, LATER)
    later_runs = np.array([c["times"][1:] for c in calls])
    agains, later = again_runs.ravel(), later_runs.ravel()
    first = np.array([c["times"][0] for c in calls])
    sys_first = np.array([c["system"][0] for c in calls])
    sys_later = np.array([c["system"][1:] for c in calls]).ravel()
    load = np.array([c["load"] for c in calls])
    peak = max(c["peak_gb"] for c in calls)
    f, g = float(np.median(floors)), float(np.median(agains))
    runs_text = lambda xs: ", ".join(f"{x:.3f}" for x in xs)
    spread = lambda xs: f"p25 {np.percentile(xs, 25):.3f}, p75 {np.percentile(xs, 75):.3f}, over twice the median: {int((xs > 2 * np.median(xs)).sum())} of {len(xs)}"
    print(f"year of 1-minute candles ({n:,}), every=60, $100 bins, {runs} fresh processes each, alternating (medians;"
          f" 'again' and 'later': the {LATER} repeats of each process, {runs * LATER} in all):")
    print("  numpy floor, one bincount a side of every level into the snapshot matrices:")
    print(f"    first, into fresh memory : {f:.3f} s  (runs {runs_text(floors)})")
    print(f"    again, into used memory  : {g:.3f} s  ({spread(agains)})")
    print(f"  heatmap, first call in a process: {np.median(first):.3f} s  = {np.median(first) / f:.1f}x the floor's first  (target <= 3.0x)"
          f"  [system time {np.median(sys_first):.3f} s: first touch of fresh memory; runs {runs_text(first)}]")
    print(f"  heatmap, later calls            : {np.median(later):.3f} s  = {np.median(later) / g:.1f}x the floor again  (target <= 3.0x)"
          f"  [system time {np.median(sys_later):.3f} s; {spread(later)}]")
    per_run = np.median(later_runs, axis=1) / np.median(again_runs, axis=1)
    print(f"    each process's median over the floor process's beside it: median {np.median(per_run):.1f}x  "
          f"(runs {', '.join(f'{x:.1f}' for x in per_run)})")
    dense = np.array([c.get("dense", 0.0) for c in calls])
    both = np.median(later_runs, axis=1) + dense
    print(f"  hm.long and hm.short, the whole matrices built on first use: {np.median(dense):.3f} s  (runs {runs_text(dense)});"
          f" a later call and both: {np.median(both):.3f} s = {np.median(both) / g:.1f}x the floor again")
    print(f"  peak memory (RSS), the whole matrices built: {peak:.2f} GB  (target <= 1.0 GB)")
    print(f"  once per process, before the first call: loading the compiled loops {np.median(load):.2f} s (a heatmap of the bundled sample)")


def year_breakdown(n: int) -> None:
    """Where a later call spends its time: cProfile's own time per function (the compiled loops each count as
    one call), the largest first."""
    import cProfile
    import pstats

    from liqtools import liquidation_heatmap

    df = synthetic_minutes(n)
    liquidation_heatmap(df, **OPTS)
    prof = cProfile.Profile()
    prof.enable()
    hm = liquidation_heatmap(df, **OPTS)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    rows = sorted(((v[2], f"{os.path.basename(k[0])}:{k[2]}") for k, v in stats.items()), reverse=True)
    print(f"a later call on the year ({n:,} candles), {total * 1e3:.0f} ms in all; own time per function:")
    for own, name in rows[:12]:
        print(f"  {own * 1e3:7.1f} ms  {name}")
    for side, m in (("long", hm.long), ("short", hm.short)):
        nz = m != 0
        first = np.where(nz.any(axis=1), nz.argmax(axis=1), 0)
        last = np.where(nz.any(axis=1), m.shape[1] - nz[:, ::-1].argmax(axis=1), 0)
        print(f"  {side} snapshots: {nz.mean():.0%} of the cells non-zero; a row's non-zero span {np.mean(last - first) / m.shape[1]:.0%} of its columns")


def _timed(fn, df) -> float:
    t = time.perf_counter()
    fn(df, **OPTS)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
