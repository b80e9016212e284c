"""Cascade speed (issue 3): 100,000 levels, one cascade under 50 ms, a tipping point under 1 s.

    python benchmarks/bench_cascade.py

Levels: 100,000 random levels log-normally spread around $100k (sd 5%), long below / short above the
price in equal measure, $1M-$50M each; depths chosen so the chain runs long (hundreds to thousands of
steps), which is the slow case for the step loop; plus the worst case: 100,000 equally spaced shorts that
each reach exactly the next one (a 100,000-step chain, linear impact). Last, the default answer of
``liqtools cascade`` (issue 13): a +-1% shock on the bundled sample with the documented BTC depth and the
square-root law.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from liqtools import simulate_cascade, tipping_point


def levels(n: int = 100_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q = 100_000 * np.exp(rng.normal(0, 0.05, n))
    return pd.DataFrame({"price": q, "notional_usd": rng.uniform(1e6, 5e7, n), "side": np.where(q > 100_000, "short", "long")})


def best(fn, repeats: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    lv = levels()
    print(f"{len(lv):,} levels around $100,000")
    for impact, depth in (("linear", 5e10), ("sqrt", 2e9), ("linear", 5e11)):
        t, r = best(lambda depth=depth, impact=impact: simulate_cascade(lv, 100_000.0, 0.01, depth_usd=depth, impact=impact))
        print(
            f"  cascade  {impact:6s} depth ${depth:.0e}: {t * 1e3:6.1f} ms  ({len(r.steps):,} steps, "
            f"final {r.final_price:,.0f}, forced ${r.total_usd / 1e9:,.1f}B)"
        )
        target = 100_000.0 * (1 + 0.5 * r.move_pct / 100) if r.move_pct > 0.2 else 102_000.0
        t, d = best(
            lambda target=target, depth=depth, impact=impact: tipping_point(lv, 100_000.0, target, depth_usd=depth, impact=impact),
            repeats=3,
        )
        print(f"  tipping point to {target:,.0f}: {t * 1e3:6.1f} ms  (shock {d:+.4%})")
    n = 100_000
    chain = pd.DataFrame({"price": 100_000 * np.exp(np.arange(1, n + 1) * 1e-6), "notional_usd": 1e4, "side": "short"})
    t, r = best(lambda: simulate_cascade(chain, 100_000.0, 1.5e-6, depth_usd=1e8, impact="linear"))
    print(f"worst case, {n:,} levels one per step: cascade {t * 1e3:.1f} ms ({len(r.steps):,} steps, final {r.final_price:,.2f})")
    t, d = best(lambda: tipping_point(chain, 100_000.0, 105_000.0, depth_usd=1e8, impact="linear"), repeats=3)
    print(f"  tipping point to 105,000: {t * 1e3:.1f} ms  (shock {d:+.6%})")
    from liqtools import clusters_at, load_sample
    from liqtools.data.depth import market_depth

    view, depth = clusters_at(load_sample()), market_depth("BTC")
    for shock in (0.01, -0.01):
        r = simulate_cascade(view.levels, view.price, shock, depth_usd=depth)
        print(
            f"default on the bundled sample, shock {shock:+.0%}: final price ${r.final_price:,.0f} ({r.move_pct:+.2f}%), "
            f"forced ${r.total_usd / 1e6:,.1f}M against {depth.describe('ask' if shock > 0 else 'bid')}"
        )


if __name__ == "__main__":
    main()
