"""Leverage profiles: which leverages traders use, in what share of open interest (docs/model.md section 2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liqtools.analysis.prices import liquidation_price
from liqtools.errors import DataError

__all__ = ["LeverageProfile", "as_profile"]

_DEFAULT_WEIGHTS = {5.0: 0.10, 10.0: 0.25, 25.0: 0.30, 50.0: 0.20, 100.0: 0.15}
_DEFAULT_MMR = 0.004


@dataclass(frozen=True, eq=False)
class LeverageProfile:
    """Tiers ``(L_k, w_k, mmr_k)``: leverage, share of new open interest (weights sum to 1), maintenance rate.

    Parameters
    ----------
    weights
        ``{leverage: weight}``; leverages >= 1, weights >= 0 summing to 1 (within 1e-9).
    mmr
        One maintenance margin rate for every tier, or ``{leverage: mmr}`` covering every tier.

    Examples
    --------
    >>> p = LeverageProfile.default()
    >>> p.leverages.tolist(), p.weights_array.tolist()
    ([5.0, 10.0, 25.0, 50.0, 100.0], [0.1, 0.25, 0.3, 0.2, 0.15])
    >>> LeverageProfile({10: 0.5, 20: 0.6})
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: leverage weights must sum to 1, got 1.1
    """

    weights: Mapping[float, float]
    mmr: float | Mapping[float, float] = _DEFAULT_MMR

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping) or len(self.weights) == 0:
            raise DataError("weights must be a non-empty mapping {leverage: weight}")
        lev = np.array([float(k) for k in self.weights], dtype=np.float64)
        w = np.array([float(v) for v in self.weights.values()], dtype=np.float64)
        order = np.argsort(lev)
        lev, w = lev[order], w[order]
        if np.any(~(lev >= 1)):
            raise DataError(f"leverage must be >= 1, got {lev[~(lev >= 1)][0]}")
        if np.any(np.diff(lev) == 0):
            raise DataError("each leverage may appear once in a profile")
        if np.any(~(w >= 0)):
            raise DataError(f"leverage weights must be >= 0, got {w[~(w >= 0)][0]}")
        if abs(w.sum() - 1.0) > 1e-9:
            raise DataError(f"leverage weights must sum to 1, got {w.sum():.12g}")
        if isinstance(self.mmr, Mapping):
            table = {float(k): float(v) for k, v in self.mmr.items()}
            missing = [x for x in lev if x not in table]
            if missing:
                raise DataError(f"mmr mapping has no entry for leverage {missing[0]:g}")
            mmr = np.array([table[x] for x in lev], dtype=np.float64)
        else:
            mmr = np.full(lev.shape, float(self.mmr))
        if np.any(~((mmr >= 0) & (mmr < 1))):
            raise DataError(f"mmr must be in [0, 1), got {mmr[~((mmr >= 0) & (mmr < 1))][0]}")
        if np.any(1.0 / lev <= mmr):
            raise DataError("a tier's leverage is too high for its mmr (1/leverage <= mmr)")
        object.__setattr__(self, "_lev", lev)
        object.__setattr__(self, "_w", w)
        object.__setattr__(self, "_mmr", mmr)

    @property
    def leverages(self) -> NDArray[np.float64]:
        """Tier leverages, ascending."""
        return self._lev.copy()  # type: ignore[attr-defined]

    @property
    def weights_array(self) -> NDArray[np.float64]:
        """Tier weights, in the order of :attr:`leverages`."""
        return self._w.copy()  # type: ignore[attr-defined]

    @property
    def mmrs(self) -> NDArray[np.float64]:
        """Tier maintenance margin rates, in the order of :attr:`leverages`."""
        return self._mmr.copy()  # type: ignore[attr-defined]

    @classmethod
    def default(cls) -> LeverageProfile:
        """docs/model.md's default: 5x 0.10, 10x 0.25, 25x 0.30, 50x 0.20, 100x 0.15, mmr 0.004 each."""
        return cls(dict(_DEFAULT_WEIGHTS), _DEFAULT_MMR)

    @classmethod
    def single(cls, leverage: float, mmr: float = _DEFAULT_MMR) -> LeverageProfile:
        """Everyone at one leverage."""
        return cls({float(leverage): 1.0}, mmr)

    @classmethod
    def lognormal(
        cls,
        median: float = 20.0,
        sigma: float = 0.8,
        *,
        n: int = 40,
        low: float = 2.0,
        high: float = 125.0,
        mmr: float = _DEFAULT_MMR,
    ) -> LeverageProfile:
        """A continuous leverage distribution (beyond docs/model.md): ``n`` log-spaced tiers from ``low`` to
        ``high`` whose weights follow a log-normal density (``log L ~ Normal(log median, sigma)``).

        Each tier's weight is the normal probability of its cell in log-leverage (cells split halfway
        between neighbouring tiers in log space, the end cells open), so the weights sum to 1.

        Examples
        --------
        >>> p = LeverageProfile.lognormal(20, 0.5, n=30)
        >>> len(p), round(float(p.leverages[0]), 1), round(float(p.leverages[-1]), 1)
        (30, 2.0, 125.0)
        >>> float(p.leverages[p.weights_array.argmax()]) > 15
        True
        """
        from statistics import NormalDist

        if not (np.isfinite(median) and median >= 1):
            raise DataError(f"median leverage must be >= 1, got {median}")
        if not (np.isfinite(sigma) and sigma > 0):
            raise DataError(f"sigma must be > 0, got {sigma}")
        if not 1 <= int(n) <= 1000:  # each tier is a level per candle and side: more is no finer, only slower
            raise DataError(f"n must be in 1..1000 tiers, got {n}")
        if not 1 <= low <= high:
            raise DataError(f"need 1 <= low <= high, got low={low}, high={high}")
        n = int(n)
        if n == 1:
            return cls.single(float(median), mmr)
        x = np.linspace(np.log(low), np.log(high), n)
        cuts = 0.5 * (x[:-1] + x[1:])
        dist = NormalDist(float(np.log(median)), float(sigma))
        cdf = np.array([0.0] + [dist.cdf(float(c)) for c in cuts] + [1.0])
        w = np.diff(cdf)
        w = w / w.sum()
        lev = np.exp(x)
        lev[0], lev[-1] = float(low), float(high)
        return cls({float(v): float(wk) for v, wk in zip(lev, w)}, mmr)

    @classmethod
    def parse(cls, text: str, mmr: float = _DEFAULT_MMR) -> LeverageProfile:
        """Read ``"5:0.1,10:0.25,25:0.3,50:0.2,100:0.15"`` (or a single ``"20"``), as the CLI takes it.

        >>> LeverageProfile.parse("10:0.5, 20:0.5").leverages.tolist()
        [10.0, 20.0]
        """
        text = text.strip()
        try:
            if ":" not in text:
                return cls.single(float(text.rstrip("xX")), mmr)
            pairs = [part.split(":") for part in text.split(",") if part.strip()]
            return cls({float(k.strip().rstrip("xX")): float(v) for k, v in pairs}, mmr)
        except ValueError as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"cannot read leverage profile {text!r}: write it as '5:0.1,10:0.9' or '20'") from exc

    def liquidation_prices(self, entry: ArrayLike, side: str) -> NDArray[np.float64]:
        """Liquidation price of every tier for each entry: an array of shape ``entry.shape + (n_tiers,)``."""
        e = np.asarray(entry, dtype=np.float64)[..., None]
        return np.asarray(liquidation_price(e, self._lev, side, mmr=self._mmr))  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._lev)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        tiers = ", ".join(
            f"{lev:g}x {w:.4g}" for lev, w in zip(self._lev, self._w)  # type: ignore[attr-defined]
        )
        mmr = np.unique(self._mmr)  # type: ignore[attr-defined]
        mmr_text = f"{mmr[0]:g}" if len(mmr) == 1 else "per tier"
        return f"LeverageProfile({tiers}; mmr {mmr_text})"


def as_profile(leverage: LeverageProfile | Mapping[float, float] | float | None) -> LeverageProfile:
    """Accept a profile, a ``{leverage: weight}`` mapping, a single leverage, or None (the default)."""
    if leverage is None:
        return LeverageProfile.default()
    if isinstance(leverage, LeverageProfile):
        return leverage
    if isinstance(leverage, Mapping):
        return LeverageProfile(leverage)
    if isinstance(leverage, (int, float, np.number)):
        return LeverageProfile.single(float(leverage))
    raise DataError(f"leverage must be a LeverageProfile, a mapping or a number, got {type(leverage).__name__}")
