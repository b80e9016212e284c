"""The methods :func:`liqtools.benchmark` scores: each turns the candles (and, for the options it
chooses, the training periods' realized liquidations) into a score per period and side.

Every method sees the realized data of the first ``n_train`` periods only; the predictions themselves
come from causal models or formulas (a period's score uses its own and earlier candles), so computing
them once on the whole frame leaks nothing from later periods.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from liqtools.analysis.baselines import FIXED_LEVERAGES, RECENT_CANDLES, fixed_offset, recent_move, volume_range
from liqtools.analysis.calibration import (
    DEFAULT_LEVERAGES,
    TierCache,
    default_splits,
    option_grid,
    search_options,
)
from liqtools.analysis.heatmap import liquidation_heatmap
from liqtools.analysis.profile import LeverageProfile
from liqtools.analysis.realized import Periods
from liqtools.analysis.scoring import spearman
from liqtools.errors import DataError

__all__ = ["BASE_METHODS", "MODEL_METHODS", "Context", "Prediction", "Settings", "method_specs"]

BASE_METHODS = ("range", "recent_move", "volume_range", "fixed_offset")
MODEL_METHODS = ("default", "calibrated", "tiers", "lognormal", "split", "half_life", "path")
MethodSpec = str | Callable[[pd.DataFrame], pd.DataFrame] | Mapping[str, Any]


@dataclass(frozen=True)
class Prediction:
    """A method's scores for every period (``long``, ``short``), and the options it chose on training."""

    long: np.ndarray
    short: np.ndarray
    log: bool  # regress on log1p(score) (USD amounts) rather than on the score itself
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """The grids the methods choose from (see :func:`liqtools.benchmark`)."""

    recent_candles: Sequence[int] = RECENT_CANDLES
    fixed_leverages: Sequence[float] = FIXED_LEVERAGES
    calibration: Mapping[str, Any] = field(default_factory=dict)
    extra_options: Sequence[Mapping[str, Any]] = ()
    mmr: float = 0.004


class Context:
    """What every method of one benchmark run shares: the frame, the periods, cached model runs."""

    def __init__(self, df: pd.DataFrame, per: Periods, settings: Settings) -> None:
        self.df, self.per, self.settings = df, per, settings
        self.cache = TierCache(df, per, mmr=settings.mmr)
        self.y = {"long": per.realized["long_usd"].to_numpy(), "short": per.realized["short_usd"].to_numpy()}
        self.memo: dict[str, Any] = {}
        adv_long, adv_short = per.adverse(df)
        self.adverse = {"long": adv_long, "short": adv_short}
        cal = dict(settings.calibration)
        unknown = set(cal) - {"splits", "half_lives", "entries", "families", "leverages", "medians", "sigmas", "scale", "inner"}
        if unknown:
            raise DataError(f"unknown calibration option(s) {sorted(unknown)}")
        self.splits = tuple(cal.pop("splits", None) or default_splits(df))
        self.half_lives = tuple(cal.pop("half_lives", (None, "1D", "7D")))
        self.entries = tuple(cal.pop("entries", ("typical", "path")))
        self.families = tuple(cal.pop("families", ("tiers", "lognormal")))
        self.search_kw = cal  # leverages, medians, sigmas, scale, inner

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    def default_weighted(self, options: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Per-period predictions of the default leverage profile with other options changed."""
        w = LeverageProfile.default().weights_array
        bl, bs = self.cache.get(options, np.asarray(DEFAULT_LEVERAGES))
        return bl @ w, bs @ w


def _best_per_side(ctx: Context, cands: Sequence[tuple[Any, np.ndarray, np.ndarray]], n_train: int) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """For each side separately, the candidate with the best training Spearman (first on ties)."""
    out = []
    for side, j in (("long", 1), ("short", 2)):
        scores = [spearman(c[j][:n_train], ctx.y[side][:n_train]) for c in cands]
        scores = [s if np.isfinite(s) else -np.inf for s in scores]
        best = int(np.argmax(scores))
        out.append((cands[best][j], cands[best][0]))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def _best_joint(ctx: Context, cands: Sequence[tuple[Any, np.ndarray, np.ndarray]], n_train: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """The candidate with the best mean of the two sides' training Spearman (first on ties)."""
    best, best_score = cands[0], -np.inf
    for c in cands:
        s = [spearman(c[j][:n_train], ctx.y[side][:n_train]) for side, j in (("long", 1), ("short", 2))]
        s = [x for x in s if np.isfinite(x)]
        score = float(np.mean(s)) if s else -np.inf
        if score > best_score:
            best, best_score = c, score
    return best


def _recent(ctx: Context, n_train: int) -> Prediction:
    cands = []
    for k in ctx.settings.recent_candles:
        if f"move{k}" not in ctx.memo:
            ctx.memo[f"move{k}"] = recent_move(ctx.df, ctx.per, k)
        cands.append((k, ctx.memo[f"move{k}"], ctx.memo[f"move{k}"]))
    lo, sh, k_long, k_short = _best_per_side(ctx, cands, n_train)
    return Prediction(lo, sh, False, {"k_long": k_long, "k_short": k_short})


def _volume_range(ctx: Context, n_train: int) -> Prediction:
    lo, sh = ctx.once("volume_range", lambda: volume_range(ctx.df, ctx.per))
    return Prediction(lo, sh, True, {})


def _fixed_matrices(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    def make() -> tuple[np.ndarray, np.ndarray]:
        lo, sh = fixed_offset(ctx.df, ctx.settings.fixed_leverages)
        return ctx.per.sum(lo), ctx.per.sum(sh)

    return ctx.once("fixed", make)  # type: ignore[no-any-return]


def _fixed(ctx: Context, n_train: int, lev: float | None = None) -> Prediction:
    bl, bs = _fixed_matrices(ctx)
    levs = [float(x) for x in ctx.settings.fixed_leverages]
    if lev is not None:
        if lev not in levs:
            raise DataError(f"fixed-offset leverage {lev:g} is not among fixed_leverages {levs}")
        j = levs.index(lev)
        return Prediction(bl[:, j], bs[:, j], True, {"L": lev})
    cands = [(lv, bl[:, j], bs[:, j]) for j, lv in enumerate(levs)]
    lo, sh, l_long, l_short = _best_per_side(ctx, cands, n_train)
    return Prediction(lo, sh, True, {"L_long": l_long, "L_short": l_short})


def _default(ctx: Context, n_train: int) -> Prediction:
    def make() -> tuple[np.ndarray, np.ndarray]:
        liq = liquidation_heatmap(ctx.df, every=len(ctx.df)).liquidated
        return ctx.per.sum(liq["long_usd"].to_numpy()), ctx.per.sum(liq["short_usd"].to_numpy())

    lo, sh = ctx.once("default", make)
    return Prediction(lo, sh, True, {})


_PLAIN = {"split": "both", "half_life": None, "entry": "typical"}


def _search(ctx: Context, n_train: int, combos: list[dict[str, Any]], families: Sequence[str]) -> Prediction:
    choice = search_options(ctx.cache, n_train, combos=combos, families=families, **ctx.search_kw)  # type: ignore[arg-type]
    opts = {"family": choice.family, **{k: v for k, v in choice.options.items() if k != "leverage"}, **choice.params}
    if choice.family == "tiers":
        opts["leverage"] = {k: round(v, 3) for k, v in choice.options["leverage"].items()}
    return Prediction(choice.pred_long, choice.pred_short, True, opts)


def _one_option(ctx: Context, n_train: int, key: str, values: Sequence[Any]) -> Prediction:
    if not values:
        raise DataError(f"method {key!r} has no values to try beyond the default")
    cands = [(v, *ctx.default_weighted({**_PLAIN, key: v})) for v in values]
    value, lo, sh = _best_joint(ctx, cands, n_train)
    return Prediction(lo, sh, True, {key: value})


def _named(name: str) -> Callable[[Context, int], Prediction]:
    fixed = re.fullmatch(r"fixed_offset_(\d+(?:\.\d+)?)", name)
    if fixed:
        lev = float(fixed.group(1))
        return lambda ctx, n: _fixed(ctx, n, lev)
    table: dict[str, Callable[[Context, int], Prediction]] = {
        "recent_move": _recent,
        "volume_range": _volume_range,
        "fixed_offset": _fixed,
        "default": _default,
        "calibrated": lambda ctx, n: _search(
            ctx, n, option_grid(ctx.splits, ctx.half_lives, ctx.entries, ctx.settings.extra_options), ctx.families
        ),
        "tiers": lambda ctx, n: _search(ctx, n, [dict(_PLAIN)], ("tiers",)),
        "lognormal": lambda ctx, n: _search(ctx, n, [dict(_PLAIN)], ("lognormal",)),
        "split": lambda ctx, n: _one_option(ctx, n, "split", [s for s in ctx.splits if s != "both"]),
        "half_life": lambda ctx, n: _one_option(ctx, n, "half_life", [h for h in ctx.half_lives if h is not None]),
        "path": lambda ctx, n: _one_option(ctx, n, "entry", ["path"]),
    }
    if name not in table:
        raise DataError(
            f"unknown benchmark method {name!r}; use one of {['range', *table]}, 'fixed_offset_<L>', a callable "
            "(df -> per-candle long_usd, short_usd) or a dict of liquidation_heatmap options"
        )
    return table[name]


def _from_callable(name: str, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Context, int], Prediction]:
    def run(ctx: Context, n_train: int) -> Prediction:
        def make() -> tuple[np.ndarray, np.ndarray]:
            out = fn(ctx.df.copy())
            if not isinstance(out, pd.DataFrame) or not {"long_usd", "short_usd"} <= set(out.columns):
                raise DataError(f"method {name!r} must return a DataFrame with columns long_usd, short_usd per candle")
            if not out.index.equals(ctx.df.index):
                raise DataError(f"method {name!r} must return one row per candle, indexed like the market frame")
            vals = out[["long_usd", "short_usd"]].to_numpy(dtype=np.float64)
            if not np.isfinite(vals).all() or (vals < 0).any():
                raise DataError(f"method {name!r} returned values that are not finite and >= 0")
            return ctx.per.sum(vals[:, 0]), ctx.per.sum(vals[:, 1])

        lo, sh = ctx.once(f"callable:{name}", make)
        return Prediction(lo, sh, True, {})

    return run


def _from_options(name: str, options: Mapping[str, Any]) -> Callable[[Context, int], Prediction]:
    def run(ctx: Context, n_train: int) -> Prediction:
        lo, sh = ctx.default_weighted({**_PLAIN, **dict(options)})
        return Prediction(lo, sh, True, dict(options))

    return run


def _label(options: Mapping[str, Any]) -> str:
    return "extra " + ",".join(f"{k}={v}" for k, v in options.items())


def method_specs(methods: Sequence[MethodSpec] | Mapping[str, MethodSpec] | None, extra_options: Sequence[Mapping[str, Any]]) -> list[tuple[str, Callable[[Context, int], Prediction] | None]]:
    """``(name, run)`` for every method, ``"range"`` first (``run`` None: the baseline itself)."""
    if methods is None:
        items: list[tuple[str, MethodSpec]] = [(m, m) for m in (*BASE_METHODS, *MODEL_METHODS)]
    elif isinstance(methods, Mapping):
        items = [(str(k), v) for k, v in methods.items()]
    elif isinstance(methods, (str, bytes)) or not isinstance(methods, Sequence):
        raise DataError(f"methods must be a list of names/callables or a dict name -> method, got {methods!r}")
    else:
        items = []
        for m in methods:
            if isinstance(m, str):
                items.append((m, m))
            elif callable(m):
                items.append((getattr(m, "__name__", "callable"), m))
            elif isinstance(m, Mapping):
                items.append((_label(m), m))
            else:
                raise DataError(f"a benchmark method must be a name, a callable or a dict of options, got {m!r}")
    # every extra option set is also scored on its own (with the default profile)
    items += [(_label(o), o) for o in extra_options if _label(o) not in [n for n, _ in items]]
    out: list[tuple[str, Callable[[Context, int], Prediction] | None]] = [("range", None)]
    for name, spec in items:
        if name == "range" or spec == "range":
            continue
        if name in [n for n, _ in out]:
            raise DataError(f"benchmark method {name!r} appears twice")
        if isinstance(spec, str):
            out.append((name, _named(spec)))
        elif callable(spec):
            out.append((name, _from_callable(name, spec)))
        elif isinstance(spec, Mapping):
            out.append((name, _from_options(name, spec)))
        else:
            raise DataError(f"benchmark method {name!r} must be a name, a callable or a dict of options, got {spec!r}")
    return out

