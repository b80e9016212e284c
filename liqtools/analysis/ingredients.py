"""The heatmap model's options, docs/model.md's and beyond, as one validated bundle, with the per-candle series
they need (side shares, closing factors, turnover, crowding scores).

Every ingredient beyond docs/model.md is off by default; with the defaults the model is docs/model.md section 3
exactly. Per candle i the extended model runs, in this order:

1. **consumed**: active long levels with ``low_i <= q * (1 - consume_margin)`` and short levels with
   ``high_i >= q * (1 + consume_margin)`` are liquidated (margin 0: docs/model.md);
2. **closed**: every remaining level is multiplied by the candle's closing factor
   ``(min(oi_{i-1}, oi_i) - G_i) / oi_{i-1}`` (``G_i`` = turnover, below; with ``G_i = 0`` this is docs/model.md's
   ratio where open interest fell and 1 elsewhere), by ``2 ** (-dt / half_life)`` (``half_life``) and by
   its own class's ``2 ** (-dt / h_j)`` (``half_life_mix``); a level whose price range comes within
   ``near_cut[0]`` of it for the first time (without reaching it) loses the share ``near_cut[1]``;
3. **opened**: ``max(dOI_i, 0) + G_i`` opens, split into sides, tiers, classes and entry points; with
   ``crowding`` tier k's leverage at candle i is ``L_k * exp(+-sensitivity * z_i)`` (+ for longs);
4. **snapshot**.

A closing factor at or below ``exp(-RESET_NATS)`` (open interest collapsing by 300 orders of magnitude, a
half-life of a tiny fraction of a candle) closes the levels completely: their remaining value would be
below 1e-300 of their notional.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from liqtools.analysis._memory import big_zeros
from liqtools.analysis._per_candle import carry_oi
from liqtools.errors import DataError
from liqtools.schema import LONG_SHORT_RATIO

__all__ = [
    "Crowding",
    "Entry",
    "HalfLife",
    "ModelOptions",
    "NearCut",
    "Split",
    "crowding_scores",
    "decay_log_factor",
    "oi_changes",
    "path_points",
    "split_fractions",
    "turnover_usd",
]

Split: TypeAlias = Literal["both", "taker", "candle", "accounts"] | float
Entry: TypeAlias = Literal["typical", "path"]
HalfLife: TypeAlias = float | str | pd.Timedelta | None
NearCut: TypeAlias = tuple[float, float]
RESET_NATS = 700.0  # a closing factor below exp(-700) ~ 1e-304 closes a level completely
MAX_LEVERAGE = 125.0  # crowding never levers a tier beyond this (Binance's maximum) unless it starts above
Z_CLIP = 3.0  # crowding scores are clipped to +-3 standard deviations


@dataclass(frozen=True)
class Crowding:
    """A leverage mix that moves with observable crowding (beyond docs/model.md).

    At candle i the score ``z_i`` is the signal's distance from its mean over the previous ``window``
    candles, in standard deviations (population), clipped to +-3; 0 until ``window`` earlier values exist
    or where they do not vary. Tier k's leverage becomes ``L_k * exp(sensitivity * z_i)`` for new longs
    and ``L_k * exp(-sensitivity * z_i)`` for new shorts, kept within ``[1, max(L_k, 125)]`` and below
    ``1/mmr``. A positive score means longs are crowded; sensitivity 0 is the fixed profile.

    Parameters
    ----------
    signal
        ``"funding"`` (column ``funding_rate``, carried forward), ``"ratio"`` (log of
        ``long_short_ratio``, long / short accounts, carried forward) or ``"taker"`` (taker imbalance
        ``2 * taker_buy_volume / volume - 1``, 0 where volume is 0).
    sensitivity
        Log-leverage change per standard deviation of the signal.
    window
        Candles of the trailing mean and deviation.

    Examples
    --------
    >>> Crowding("funding", 0.3, window=24)
    Crowding(signal='funding', sensitivity=0.3, window=24)
    """

    signal: Literal["funding", "ratio", "taker"] = "funding"
    sensitivity: float = 0.0
    window: int = 168

    def __post_init__(self) -> None:
        if self.signal not in ("funding", "ratio", "taker"):
            raise DataError(f"crowding signal must be 'funding', 'ratio' or 'taker', got {self.signal!r}")
        if not (isinstance(self.sensitivity, (int, float)) and math.isfinite(self.sensitivity)):
            raise DataError(f"crowding sensitivity must be a finite number, got {self.sensitivity!r}")
        if not isinstance(self.window, (int, np.integer)) or isinstance(self.window, bool) or self.window < 2:
            raise DataError(f"crowding window must be an integer >= 2, got {self.window!r}")


def split_fractions(df: pd.DataFrame, split: Split) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The per-candle long and short shares (a_i, b_i) of new open interest (docs/model.md section 3).

    ``"accounts"`` (beyond docs/model.md): ``a = r / (1 + r)`` with ``r`` the ``long_short_ratio`` (long /
    short accounts, carried forward; 0.5 before its first value), ``b = 1 - a``. ``"both"``: read-only ones
    with no memory behind them (on a year each would be 4 MB to write).
    """
    n = len(df)
    if isinstance(split, str):
        if split == "both":
            ones = np.broadcast_to(np.float64(1.0), (n,))
            return ones, ones
        if split == "taker":
            if "taker_buy_volume" not in df:
                raise DataError("split='taker' needs a 'taker_buy_volume' column; use 'both', 'candle' or a number")
            vol = df["volume"].to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                a = np.where(vol > 0, df["taker_buy_volume"].to_numpy() / vol, 0.5)
            return a, 1.0 - a
        if split == "candle":
            up = df["close"].to_numpy() >= df["open"].to_numpy()
            return up.astype(np.float64), (~up).astype(np.float64)
        if split == "accounts":
            r = _ratio_column(df, "split='accounts'")
            a = np.where(np.isfinite(r), r / (1.0 + r), 0.5)
            return a, 1.0 - a
        raise DataError(f"split must be 'both', 'taker', 'candle', 'accounts' or a number in [0, 1], got {split!r}")
    s = float(split)
    if not 0.0 <= s <= 1.0:
        raise DataError(f"split must be in [0, 1], got {s}")
    return np.full(n, s), np.full(n, 1.0 - s)


def _ratio_column(df: pd.DataFrame, what: str) -> NDArray[np.float64]:
    if LONG_SHORT_RATIO not in df:
        raise DataError(f"{what} needs a '{LONG_SHORT_RATIO}' column (long / short accounts)")
    r = pd.to_numeric(df[LONG_SHORT_RATIO], errors="coerce").ffill().to_numpy(dtype=np.float64)
    bad = np.isfinite(r) & ~(r > 0)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(f"column '{LONG_SHORT_RATIO}' must be > 0, got {r[pos]} at row {pos} ({df.index[pos]})")
    return r


def check_half_life(half_life: HalfLife, name: str = "half_life") -> pd.Timedelta | None:
    """Raise a DataError naming ``name`` unless ``half_life`` is None, a number of candles > 0 or a positive
    time such as ``"7D"``; the time as a Timedelta (None for a number of candles or None).

    >>> check_half_life("12h")
    Timedelta('0 days 12:00:00')
    >>> check_half_life(0)
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: half_life must be > 0 (candles) or a positive time such as '7D', got 0
    """
    if half_life is None:
        return None
    if isinstance(half_life, (int, float, np.integer, np.floating)) and not isinstance(half_life, bool):
        hl = float(half_life)
        if not (math.isfinite(hl) and hl > 0):
            raise DataError(f"{name} must be > 0 (candles) or a positive time such as '7D', got {half_life!r}")
        return None
    try:
        hl_td = pd.Timedelta(half_life)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be None, a number of candles or a time such as '7D', got {half_life!r}") from exc
    if not hl_td > pd.Timedelta(0):
        raise DataError(f"{name} must be positive, got {half_life!r}")
    return hl_td


def decay_log_factor(index: pd.DatetimeIndex, half_life: HalfLife, *, name: str = "half_life") -> NDArray[np.float64]:
    """Per-candle log of a voluntary-closing decay (beyond docs/model.md): 0 at candle 0, then
    ``-ln 2 * dt / half_life`` where dt is one candle (a numeric half-life, in candles) or the time
    since the previous candle (a time half-life such as ``"7D"``). Very short half-lives give ``-inf``
    (complete closing), never NaN."""
    n = len(index)
    out = np.zeros(n)
    hl_td = check_half_life(half_life, name)
    if half_life is None or n < 2:
        return out
    if hl_td is None:  # a number of candles
        hl = float(half_life)  # type: ignore[arg-type]
        with np.errstate(over="ignore"):
            out[1:] = -math.log(2.0) / hl if hl > 1e-300 else -math.inf
        return out
    dt = np.diff(index.tz_convert(None).to_numpy().astype("datetime64[ns]")).astype(np.float64)
    out[1:] = -math.log(2.0) * dt / float(hl_td.to_timedelta64().astype("timedelta64[ns]").astype(np.int64))
    return out


def path_points(df: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The assumed intra-candle path (beyond docs/model.md) and what remains of it after each point.

    Points: open, first extreme, second extreme, close; a rising candle (close >= open) is taken to
    visit its low first, a falling one its high first. Returns ``points, rest_min, rest_max``, each
    ``(n, 4)``: the minimum / maximum of the path after point k (``+inf`` / ``-inf`` after the close).
    """
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    up = c >= o
    pts = np.stack([o, np.where(up, lo, h), np.where(up, h, lo), c], axis=1)
    rest_min = np.full(pts.shape, np.inf)
    rest_max = np.full(pts.shape, -np.inf)
    for k in range(2, -1, -1):
        rest_min[:, k] = np.minimum(rest_min[:, k + 1], pts[:, k + 1])
        rest_max[:, k] = np.maximum(rest_max[:, k + 1], pts[:, k + 1])
    return pts, rest_min, rest_max


def oi_changes(oi: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Open interest carried forward: ``d_oi, prev, cur`` per candle (``d_oi`` 0 where either is unknown;
    ``prev`` and ``cur`` are read-only views of one array, a candle apart).

    >>> d_oi, prev, cur = oi_changes(np.array([np.nan, 5.0, np.nan, 7.0]))
    >>> d_oi.tolist(), cur.tolist()[1:]
    ([0.0, 0.0, 0.0, 2.0], [5.0, 5.0, 7.0])
    """
    return carry_oi(oi)


def turnover_usd(df: pd.DataFrame, share: float, prev: NDArray[np.float64], cur: NDArray[np.float64]) -> NDArray[np.float64]:
    """Gross turnover ``G_i`` (beyond docs/model.md): ``share`` of the candle's USD volume (volume times the
    typical price) opens new positions and the same amount closes old ones, capped at
    ``min(oi_{i-1}, oi_i)`` so that closes never exceed the open interest; 0 where open interest is unknown."""
    n = len(df)
    if share == 0 or n == 0:
        return big_zeros(n)
    typical = (df["high"].to_numpy() + df["low"].to_numpy() + df["close"].to_numpy()) / 3.0
    with np.errstate(invalid="ignore", over="ignore"):
        g = share * df["volume"].to_numpy() * typical
        cap = np.minimum(prev, cur)  # NaN where either is unknown
        out = np.where(np.isfinite(cap), np.minimum(g, cap), 0.0)
    return out


def crowding_scores(df: pd.DataFrame, crowding: Crowding) -> NDArray[np.float64]:
    """The crowding score ``z_i`` of :class:`Crowding` per candle (0 where it is not defined)."""
    if crowding.signal == "funding":
        if "funding_rate" not in df:
            raise DataError("crowding signal 'funding' needs a 'funding_rate' column")
        x = df["funding_rate"].ffill().to_numpy(dtype=np.float64)
    elif crowding.signal == "ratio":
        x = np.log(_ratio_column(df, "crowding signal 'ratio'"))
    else:
        if "taker_buy_volume" not in df:
            raise DataError("crowding signal 'taker' needs a 'taker_buy_volume' column")
        vol = df["volume"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(vol > 0, 2.0 * df["taker_buy_volume"].to_numpy() / vol - 1.0, 0.0)
    w = int(crowding.window)
    past = pd.Series(x).shift(1).rolling(w, min_periods=w)
    mean = past.mean().to_numpy()
    std = past.std(ddof=0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - mean) / std
    scale = np.abs(mean) + np.abs(x)
    z = np.where(np.isfinite(z) & (std > 1e-9 * scale), z, 0.0)
    return np.clip(z, -Z_CLIP, Z_CLIP)


def _half_life_mix(mix: Sequence[tuple[float, HalfLife]] | None) -> tuple[tuple[float, HalfLife], ...] | None:
    if mix is None:
        return None
    try:
        pairs = tuple((float(s), h) for s, h in mix)
    except (TypeError, ValueError) as exc:
        raise DataError(f"half_life_mix must be a sequence of (share, half_life) pairs, got {mix!r}") from exc
    shares = np.array([s for s, _ in pairs])
    if len(pairs) == 0 or np.any(~(shares >= 0)) or abs(shares.sum() - 1.0) > 1e-9:
        raise DataError(f"half_life_mix shares must be >= 0 and sum to 1, got {[s for s, _ in pairs]}")
    return pairs


@dataclass(frozen=True)
class ModelOptions:
    """Every option of the OI-delta model, validated (the defaults are docs/model.md section 3)."""

    split: Split = "both"
    price: Literal["last", "mark"] = "last"
    half_life: HalfLife = None
    entry: Entry = "typical"
    turnover: float = 0.0
    half_life_mix: tuple[tuple[float, HalfLife], ...] | None = None
    near_cut: NearCut | None = None
    crowding: Crowding | None = None
    consume_margin: float = 0.0

    @classmethod
    def build(cls, **kwargs: Any) -> ModelOptions:
        opts = cls(**{**kwargs, "half_life_mix": _half_life_mix(kwargs.get("half_life_mix"))})
        opts.check()
        return opts

    def check(self) -> None:
        if self.price not in ("last", "mark"):
            raise DataError(f"price must be 'last' or 'mark', got {self.price!r}")
        if self.entry not in ("typical", "path"):
            raise DataError(f"entry must be 'typical' or 'path', got {self.entry!r}")
        if self.price == "mark" and self.entry == "path":
            raise DataError("entry='path' follows the last-price path; use it with price='last'")
        if not (isinstance(self.turnover, (int, float)) and 0 <= self.turnover < math.inf):
            raise DataError(f"turnover must be a share >= 0 of the candle's volume, got {self.turnover!r}")
        if not (isinstance(self.consume_margin, (int, float)) and 0 <= self.consume_margin < 1):
            raise DataError(f"consume_margin must be in [0, 1), got {self.consume_margin!r}")
        if self.near_cut is not None:
            try:
                dist, share = (float(v) for v in self.near_cut)
            except (TypeError, ValueError) as exc:
                raise DataError(f"near_cut must be (distance, share), got {self.near_cut!r}") from exc
            if not (0 < dist < 1 and 0 < share <= 1):
                raise DataError(f"near_cut needs 0 < distance < 1 and 0 < share <= 1, got {self.near_cut!r}")
        if self.crowding is not None and not isinstance(self.crowding, Crowding):
            raise DataError(f"crowding must be a Crowding(...) or None, got {type(self.crowding).__name__}")
        # before any work on the candles (the closing logs that use them may run late, on a spare thread)
        check_half_life(self.half_life)
        for _, hl in self.half_life_mix or ():
            check_half_life(hl, "half_life_mix")

    @property
    def classes(self) -> tuple[tuple[float, HalfLife], ...]:
        """``(share, half_life)`` of each voluntary-closing class (one class without extra decay by default)."""
        return self.half_life_mix or ((1.0, None),)
