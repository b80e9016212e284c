"""The calibration's search grid: leverage tiers, the side splits a frame allows, and option combinations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from liqtools.analysis.heatmap import Entry, HalfLife, Split
from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = ["DEFAULT_EXTRA_OPTIONS", "DEFAULT_LEVERAGES", "default_splits", "lognormal_grid", "option_grid"]

DEFAULT_LEVERAGES = (5.0, 10.0, 25.0, 50.0, 100.0)


def lognormal_grid() -> np.ndarray:
    """The 30 log-spaced tiers (2x to 125x) of the log-normal family."""
    return LeverageProfile.lognormal(20.0, 1.0, n=30, low=2.0, high=125.0).leverages


def default_splits(df: pd.DataFrame) -> tuple[Split, ...]:
    """``("both", "candle")``, plus ``"taker"`` when the frame has taker buy volume."""
    has_taker = "taker_buy_volume" in df and bool(df["taker_buy_volume"].notna().any())
    return ("both", "candle", "taker") if has_taker else ("both", "candle")


#: Options beyond the grid that :func:`calibrate` (and so ``benchmark``'s "calibrated" method) also
#: tries by default: gross turnover (docs/model.md, options beyond the contract), on a log-spaced grid.
#: The walk-forward training windows often pick its top value (docs/truth-study.md): a wider grid is an
#: open question, to be chosen on training data like this one.
DEFAULT_EXTRA_OPTIONS: tuple[Mapping[str, Any], ...] = ({"turnover": 0.3}, {"turnover": 1.0}, {"turnover": 3.0})


def option_grid(
    splits: Sequence[Split],
    half_lives: Sequence[HalfLife],
    entries: Sequence[Entry],
    extra_options: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Every combination of the grid, each also with every dict of ``extra_options`` (its keys override
    the grid's), duplicates dropped, in a stable order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for extra in [{}, *extra_options]:
        if not isinstance(extra, Mapping):
            raise DataError(f"extra_options must be a list of dicts of liquidation_heatmap options, got {extra!r}")
        for split in splits:
            for half_life in half_lives:
                for entry in entries:
                    opts = {"split": split, "half_life": half_life, "entry": entry, **dict(extra)}
                    key = repr(sorted(opts.items()))
                    if key not in seen:
                        seen.add(key)
                        out.append(opts)
    return out
