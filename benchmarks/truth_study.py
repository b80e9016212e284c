"""The truth study (docs/truth-study.md): what each model ingredient beyond MODEL.md does to the
out-of-sample ranking of periods by realized liquidations, against the candle's adverse range.

    python benchmarks/truth_study.py            # every section, all three markets (a few minutes)
    python benchmarks/truth_study.py --quick    # facts and the held-out split only

Markets: ETH 2024 and SOL 2024 (Binance hourly candles, open interest, long/short accounts, taker buys,
hourly realized liquidations by side from the same venue) and the bundled BTC sample (Binance candles,
Hyperliquid open interest, funding, daily realized liquidations on Hyperliquid).

Sections (every figure in the doc comes from here):

1. facts, on the whole span, no model and nothing chosen: how realized liquidations relate to the
   adverse range, open interest, volume and crowding;
2. the held-out split: for each ingredient, its value is chosen on the first 60% of the realized
   periods (mean over sides of the training Spearman, with :func:`liqtools.validate` on that span only),
   then scored once on the last 40% (never tuned to it); the defaults are never tuned;
3. the walk-forward harness :func:`liqtools.benchmark` (5 folds, expanding training window, 24 h
   embargo, one day for the daily BTC data): the default, MODEL.md's calibration search, a naive
   "USD volume x range" baseline, the calibration with the ingredients added to its search
   (``extra_options``, chosen on training folds only), and each ingredient setting of the grid scored
   as a fixed method (a sensitivity table: reading the best row off it would be tuning to the test folds).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

import liqtools as lt
from liqtools.analysis.ingredients import Crowding

TRAIN_SHARE = 0.6


def markets() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    return {
        "eth-2024": (lt.load_sample("eth-2024"), lt.load_sample_liquidations("eth-2024")),
        "sol-2024": (lt.load_sample("sol-2024"), lt.load_sample_liquidations("sol-2024")),
        "btc": (lt.load_sample(), lt.load_sample_liquidations()[["long_usd", "short_usd"]]),
    }


def grid(df: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Each ingredient's candidate values (set a priori, before looking at any score)."""
    crowd: list[dict[str, Any]] = []
    signals: list[Any] = [s for s, col in (("funding", "funding_rate"), ("ratio", "long_short_ratio"), ("taker", "taker_buy_volume")) if col in df]
    for s in signals:
        for beta in (-0.3, 0.3):
            crowd.append({"crowding": Crowding(s, beta, window=168)})
    g: dict[str, list[dict[str, Any]]] = {
        # 0.3 was the top of the first grid and training chose it on ETH and SOL: extended to 1 and 3
        "turnover": [{"turnover": t} for t in (0.02, 0.1, 0.3, 1.0, 3.0)],
        "half_life_mix": [
            {"half_life_mix": [(0.5, "6h"), (0.5, None)]},
            {"half_life_mix": [(0.5, "24h"), (0.5, None)]},
            {"half_life_mix": [(0.3, "2h"), (0.7, "7D")]},
        ],
        "near_cut": [{"near_cut": (0.01, 0.3)}, {"near_cut": (0.02, 0.5)}, {"near_cut": (0.005, 1.0)}],
        "crowding": crowd,
        "consume_margin": [{"consume_margin": m} for m in (0.002, 0.005, 0.01)],
    }
    if "long_short_ratio" in df:
        g["split=accounts"] = [{"split": "accounts"}]
    return g


def label(opts: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in opts.items()) or "default"


# -- 1. facts ------------------------------------------------------------------------------------------


def period_features(df: pd.DataFrame, liq: pd.DataFrame) -> pd.DataFrame:
    """Per realized period: realized by side, adverse ranges, open interest at the start, USD volume,
    crowding signals at the start, and the default model's prediction."""
    per = lt.validate(df, liq).periods
    starts = per.index
    step = starts[1] - starts[0] if len(starts) > 1 else pd.Timedelta("1h")
    code = starts.searchsorted(df.index, side="right") - 1
    inside = (code >= 0) & (df.index < starts[np.maximum(code, 0)] + step)
    usd_vol = pd.Series(df["volume"].to_numpy() * df["close"].to_numpy())[inside].groupby(code[inside]).sum()
    first = pd.Series(np.arange(len(df)))[inside].groupby(code[inside]).min()
    oi = df["oi_usd"].ffill().to_numpy()
    out = per.copy()
    out["oi_usd"] = oi[first.reindex(range(len(per))).to_numpy(dtype=int)]
    out["usd_volume"] = usd_vol.reindex(range(len(per))).to_numpy()
    if "long_short_ratio" in df:
        out["ratio_z"] = _z(np.log(df["long_short_ratio"].ffill().to_numpy()))[first.to_numpy()]
    if "taker_buy_volume" in df:
        with np.errstate(invalid="ignore", divide="ignore"):
            imb = np.where(df["volume"] > 0, 2 * df["taker_buy_volume"] / df["volume"] - 1, 0.0)
        out["taker_z"] = _z(imb)[first.to_numpy()]
    if "funding_rate" in df:
        out["funding_z"] = _z(df["funding_rate"].ffill().to_numpy())[first.to_numpy()]
    return out


def _z(x: np.ndarray, window: int = 168) -> np.ndarray:
    from liqtools.analysis.ingredients import crowding_scores

    frame = pd.DataFrame({"volume": 1.0, "taker_buy_volume": (x + 1) / 2})
    return crowding_scores(frame, Crowding("taker", 1.0, window=window))  # the same causal z-score


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats

    ok = np.isfinite(a) & np.isfinite(b)
    return float(stats.spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 3 else float("nan")


def r2(y: np.ndarray, *xs: np.ndarray) -> float:
    x = np.column_stack([np.ones(len(y)), *xs])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    return float(1 - resid.var() / y.var())


def facts(name: str, df: pd.DataFrame, liq: pd.DataFrame) -> list[dict[str, Any]]:
    f = period_features(df, liq)
    rows = []
    for side in ("long", "short"):
        y_raw = f[f"realized_{side}_usd"].to_numpy()
        y = np.log1p(y_raw)
        rng = f[f"adverse_{side}"].to_numpy()
        oi, vol = f["oi_usd"].to_numpy(), f["usd_volume"].to_numpy()
        pred = f[f"predicted_{side}_usd"].to_numpy()
        row: dict[str, Any] = {
            "market": name,
            "side": side,
            "n": len(y),
            "rho(range)": spearman(rng, y_raw),
            "rho(OI x range)": spearman(oi * rng, y_raw),
            "rho(USD vol)": spearman(vol, y_raw),
            "rho(USD vol x range)": spearman(vol * rng, y_raw),
            "rho(default map)": spearman(pred, y_raw),
            "R2(range)": r2(y, rng),
            "+log OI": r2(y, rng, np.log(oi)) - r2(y, rng),
            "+log vol": r2(y, rng, np.log(vol)) - r2(y, rng),
            "+log1p map": r2(y, rng, np.log1p(pred)) - r2(y, rng),
            "+map given vol": r2(y, rng, np.log(vol), np.log1p(pred)) - r2(y, rng, np.log(vol)),
        }
        # crowding: does the residual of the range regression move with the crowding score?
        x = np.column_stack([np.ones(len(y)), rng])
        resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
        sign = 1.0 if side == "long" else -1.0  # a positive score means longs are crowded
        for col in ("ratio_z", "taker_z", "funding_z"):
            if col in f:
                row[f"rho(resid, {col[:-2]} crowd)"] = spearman(sign * f[col].to_numpy(), resid)
        # tails: the biggest 10% of periods by range; does the map rank them better than the range?
        top = rng >= np.quantile(rng, 0.9)
        row["top10% range: rho(range)"] = spearman(rng[top], y_raw[top])
        row["top10% range: rho(map)"] = spearman(pred[top], y_raw[top])
        big = y_raw >= np.quantile(y_raw, 0.9)
        row["hit@10% range"] = float(np.mean(big[np.argsort(-rng)[: big.sum()]]))
        row["hit@10% map"] = float(np.mean(big[np.argsort(-pred)[: big.sum()]]))
        rows.append(row)
    return rows


# -- 2. held-out split ------------------------------------------------------------------------------


def tails(periods: pd.DataFrame, side: str) -> dict[str, float]:
    """Within the 10% of periods with the largest adverse range: rank correlation of the model and of
    the range with realized; and the share of the 10% largest realized periods among each one's top 10%."""
    y = periods[f"realized_{side}_usd"].to_numpy()
    rng = periods[f"adverse_{side}"].to_numpy()
    pred = periods[f"predicted_{side}_usd"].to_numpy()
    top = rng >= np.quantile(rng, 0.9)
    big = y >= np.quantile(y, 0.9)
    k = int(big.sum())
    return {
        "tail rho model": spearman(pred[top], y[top]),
        "tail rho range": spearman(rng[top], y[top]),
        "hit@10% model": float(np.mean(big[np.argsort(-pred, kind="stable")[:k]])),
        "hit@10% range": float(np.mean(big[np.argsort(-rng, kind="stable")[:k]])),
    }


def held_out(name: str, df: pd.DataFrame, liq: pd.DataFrame) -> list[dict[str, Any]]:
    cut = int(len(liq) * TRAIN_SHARE)
    train, test = liq.iloc[:cut], liq.iloc[cut:]
    rows = []

    def row(ingredient: str, chosen: str, side: str, v: Any) -> dict[str, Any]:
        t = v.table
        return {"market": name, "ingredient": ingredient, "chosen": chosen, "side": side, "spearman": t.loc[side, "spearman"],
                "range": t.loc[side, "baseline_spearman"], "r2_gain": t.loc[side, "r2_gain"], **tails(v.periods, side)}

    base = lt.validate(df, test)
    feats = period_features(df, test)
    for side in ("long", "short"):
        y = feats[f"realized_{side}_usd"].to_numpy()
        vol_rng = spearman(feats["usd_volume"].to_numpy() * feats[f"adverse_{side}"].to_numpy(), y)
        rows.append(
            {"market": name, "ingredient": "(naive: USD volume x range)", "chosen": "-", "side": side, "spearman": vol_rng,
             "range": base.table.loc[side, "baseline_spearman"], "r2_gain": float("nan")}
        )
        rows.append(row("default", "-", side, base))
    groups = grid(df)
    # the pairing the walk-forward calibration picks on every hourly training window (section 3)
    groups["turnover + entry=path"] = [{"turnover": t, "entry": "path"} for t in (0.1, 0.3, 1.0, 3.0)]
    for ingredient, cands in groups.items():
        train_scores = [float(lt.validate(df, train, **o).table["spearman"].mean()) for o in cands]
        best = cands[int(np.nanargmax(train_scores))]  # chosen on the training span only
        v = lt.validate(df, test, **best)
        rows.extend(row(ingredient, label(best), side, v) for side in ("long", "short"))
    return rows


# -- 3. walk-forward -------------------------------------------------------------------------------


def volume_x_range(df: pd.DataFrame) -> pd.DataFrame:
    """A naive baseline the study adds: each candle's USD volume times its adverse range (causal: the
    candle itself, as the range baseline)."""
    usd = df["volume"] * df["close"]
    return pd.DataFrame({"long_usd": usd * np.log(df["open"] / df["low"]), "short_usd": usd * np.log(df["high"] / df["open"])})


def walk_forward(name: str, df: pd.DataFrame, liq: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The harness twice on the same folds: MODEL.md's calibration search alone, then with every
    ingredient value added to it (``extra_options``) and each scored as a fixed method."""
    extra = [o for cands in grid(df).values() for o in cands]
    plain = lt.benchmark(df, liq, methods={"default": "default", "calibrated (no ingredients)": "calibrated", "usd volume x range": volume_x_range}, folds=5, market=name)
    # each extra option is also scored on its own ("extra ..." rows, default profile otherwise)
    res = lt.benchmark(df, liq, methods={"calibrated (+ ingredients)": "calibrated"}, folds=5, market=name, extra_options=extra)
    table = pd.concat([plain.summary_table(), res.summary_table()], ignore_index=True)
    table = table[~table.duplicated(["market", "side", "method"])].sort_values(["side"], kind="stable")
    return table, pd.concat([plain.choices, res.choices])


def _mean_table(table: pd.DataFrame) -> pd.DataFrame:
    cols = ["spearman", "range_spearman", "r2_gain", "oos_r2_gain", "t_stat"]
    out = table.groupby(["market", "side", "method"], sort=False)[cols].mean()
    out["folds_above_range"] = table.assign(above=table["spearman"] > table["range_spearman"]).groupby(
        ["market", "side", "method"], sort=False
    )["above"].sum()
    return out


def show(rows: list[dict[str, Any]] | pd.DataFrame, title: str) -> None:
    """Print a markdown table (numbers to 3 decimals)."""
    frame = rows.reset_index() if isinstance(rows, pd.DataFrame) and not isinstance(rows.index, pd.RangeIndex) else pd.DataFrame(rows)
    cell = lambda v: f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v)
    print(f"\n### {title}\n")
    print("| " + " | ".join(map(str, frame.columns)) + " |")
    print("|" + "---|" * len(frame.columns))
    for row in frame.itertuples(index=False):
        print("| " + " | ".join(cell(v) for v in row) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    data = markets()
    fact_rows = [r for name, (df, liq) in data.items() for r in facts(name, df, liq)]
    facts_df = pd.DataFrame(fact_rows).set_index(["market", "side"])
    first = [c for c in facts_df.columns if c.startswith(("n", "rho(range", "rho(OI", "rho(USD", "rho(default", "R2", "+"))]
    show(facts_df[first], "1a. rank correlations and R^2 gains over the range (whole span, no model choice)")
    show(facts_df[[c for c in facts_df.columns if c not in first]], "1b. crowding residuals and tails")
    held = [r for name, (df, liq) in data.items() for r in held_out(name, df, liq)]
    show(held, f"2. held-out split: chosen on the first {TRAIN_SHARE:.0%} of periods, scored on the rest")
    if not args.quick:
        print("\n(section 3 runs lt.benchmark with 22-24 methods per market: about a minute each)")
        for name, (df, liq) in data.items():
            table, choices = walk_forward(name, df, liq)
            show(table, f"3. walk-forward benchmark, {name} (means over 5 test folds)")
            cal = choices[choices["method"].str.startswith("calibrated")]
            print("\ncalibrated choices per fold:")
            for _, r in cal.iterrows():
                print(f"  {r['method']}, fold {r['fold']}: {r['options']}")
    print(f"\n(all sections in {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
