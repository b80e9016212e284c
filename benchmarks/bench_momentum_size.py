"""Size and power of the event study's tests (issue 12): rejection rates at the 5% level.

    python benchmarks/bench_momentum_size.py                  # 200 null seeds per market, 200 power seeds
    python benchmarks/bench_momentum_size.py --seeds 50 --power-seeds 50   # a quicker look

Null markets (tests/momentum_sim.py): a random walk and a GARCH(1, 1) market with persistent volatility
and volume, with open interest an independent random walk, so the map carries no information. The bands
are the clusters of the map at the last candle and the controls are the thin-map bands, as the CLI runs
it. A correct 5% test rejects about 5% of the time (200 seeds: +-3 points at 95%). Power: two bands
whose entries add a drift of ``--drift`` per candle for 12 candles (true return effect drift * min(h, 12))
in a mean-reverting market; the share of seeds with p < 0.05, and below it a ceiling: the rejection rate
of an infeasible z test of the same difference whose variance is known (tests/momentum_sim.py:
``known_variance_pvalue``), which no size-correct test beats on average on this Gaussian market with
constant volatility.

The same script measures the code before a change: point PYTHONPATH at a checkout of it (the simulation
helpers only use ``event_study`` and ``clusters_at``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pandas as pd
from momentum_sim import null_pvalues, power_pvalues, rejection_rates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200, help="null seeds per market (default 200)")
    ap.add_argument("--n", type=int, default=2000, help="candles per null market (default 2000)")
    ap.add_argument("--power-seeds", type=int, default=200, help="planted-drift seeds (default 200)")
    ap.add_argument("--power-n", type=int, default=3000, help="candles per planted market (default 3000)")
    ap.add_argument("--drift", type=float, nargs="+", default=[0.0005, 0.001, 0.0015], help="per-candle drifts")
    args = ap.parse_args()
    import liqtools

    print(f"liqtools from {Path(liqtools.__file__).parent}")
    pd.set_option("display.width", 160)
    t0 = time.perf_counter()
    nulls = null_pvalues(range(args.seeds), n=args.n)
    took = time.perf_counter() - t0
    print(f"\nNull rejection rates at 5% ({args.seeds} seeds x {args.n} candles per market, {took:.1f} s):")
    rates = rejection_rates(nulls, by=("kind", "measure", "horizon")).unstack("horizon")
    print(rates.to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"worst cell: {rates.to_numpy().max():.3f}  (acceptance: <= 0.07)")
    tested = nulls[nulls["pvalue"].notna()].groupby(["kind", "measure", "horizon"]).size()
    print(
        f"studies: {nulls.groupby('kind')['seed'].nunique().to_dict()}; with a test (finite p-value) per cell: "
        f"{tested.min()} to {tested.max()} (no test where the clusters leave no room for two control entries)"
    )
    for drift in args.drift:
        t0 = time.perf_counter()
        pw = power_pvalues(range(args.power_seeds), n=args.power_n, drift=drift)
        took = time.perf_counter() - t0
        ret = pw[pw["measure"] == "return"]
        rate = rejection_rates(ret, by=("horizon",))
        sign = ret[ret["pvalue"] < 0.05].groupby("horizon")["effect"].apply(lambda e: float((e > 0).mean()))
        print(
            f"\nPower, return, drift {drift} x 12 candles ({args.power_seeds} seeds x {args.power_n} candles, "
            f"{took:.1f} s): "
            + ", ".join(f"h={h}: {rate[h]:.3f}" for h in rate.index)
            + "  (share of rejections with the right sign: "
            + ", ".join(f"{sign.get(h, float('nan')):.2f}" for h in rate.index)
            + ")"
        )
        known = ret.groupby("horizon")["known_pvalue"].apply(lambda p: float((p < 0.05).mean()))
        print(
            "  ceiling, the same difference with its variance known (infeasible z test): "
            + ", ".join(f"h={h}: {known[h]:.3f}" for h in known.index)
        )


if __name__ == "__main__":
    main()
