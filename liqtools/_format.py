"""Number formats shared by the CLI, reports and widgets (no dependencies)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CAVEAT", "price_text", "profile_text", "usd"]

CAVEAT = (
    "Estimated, not observed: liquidation levels are modelled from candles and open-interest changes "
    "(every new contract opened at the candle's typical price with an assumed leverage mix). "
    "Exchanges do not publish positions."
)


def usd(x: float) -> str:
    """Compact dollar amount: $1.9B, $270.6M, $12.3k, $950.

    >>> usd(1.93e9), usd(2.706e8), usd(12_345), usd(950)
    ('$1.93B', '$270.6M', '$12.3k', '$950')
    """
    if not math.isfinite(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    a = abs(x)
    if a >= 1e9:
        return f"{sign}${a / 1e9:.2f}B"
    if a >= 1e6:
        return f"{sign}${a / 1e6:.1f}M"
    if a >= 1e3:
        return f"{sign}${a / 1e3:.1f}k"
    return f"{sign}${a:.0f}"


def price_text(p: float) -> str:
    """A price with thousands separators and no more decimals than it needs.

    >>> price_text(73_600.0), price_text(0.0902)
    ('$73,600', '$0.0902')
    """
    if abs(p) >= 100:
        return f"${p:,.0f}"
    return f"${p:,.4g}"


def profile_text(profile: Any) -> str:
    """A leverage profile for people: the tiers with their shares of new open interest, and the margin rate.

    Examples
    --------
    >>> from liqtools.analysis.profile import LeverageProfile
    >>> profile_text(LeverageProfile.default())
    'leverage mix 5x 10%, 10x 25%, 25x 30%, 50x 20%, 100x 15% (maintenance margin 0.4%)'
    """
    import numpy as np

    tiers = ", ".join(f"{lev:g}x {w * 100:.3g}%" for lev, w in zip(profile.leverages, profile.weights_array))
    mmr = np.unique(profile.mmrs)
    margin = f"{mmr[0] * 100:.3g}%" if len(mmr) == 1 else "per tier"
    return f"leverage mix {tiers} (maintenance margin {margin})"
