"""An illustrative set of Hyperliquid-style BTC positions for teaching: generated, not recorded.

No recorded set of real accounts ships with liqtools (fetch one with :func:`liqtools.data.fetch_positions`);
this one lets notebook 08, the tests and the docs show the measured-vs-modelled comparison offline. It is
made **independently of the liquidation model**: entries are prices the bundled BTC sample really traded
at in its last 30 days (drawn in proportion to each candle's volume), leverages follow a venue-like mix
(many 3x-20x accounts, few at 40x), sizes are heavy-tailed (a few whales hold much of the notional) and
cross-margin accounts carry extra collateral, so their liquidation prices sit further away than their
leverage alone implies (and the best-funded ones have none at all, as the venue reports them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liqtools.analysis.prices import liquidation_price
from liqtools.data.sample import load_sample

__all__ = ["POSITION_COLUMNS", "sample_positions"]

POSITION_COLUMNS = (
    "time",
    "user",
    "symbol",
    "side",
    "contracts",
    "notional_usd",
    "entry_price",
    "leverage",
    "margin_mode",
    "liquidation_price",
)

_LEVERAGES = np.array([2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 40.0])
_LEVERAGE_SHARES = np.array([0.08, 0.12, 0.20, 0.24, 0.10, 0.13, 0.06, 0.07])
_HYPERLIQUID_BTC_MMR = 1.0 / (2 * 40.0)  # half the initial margin at BTC's 40x maximum


def sample_positions(n_accounts: int = 500, *, seed: int = 7) -> pd.DataFrame:
    """Illustrative BTC positions at the end of the bundled sample, one per account (see the module text).

    Columns: ``time, user, symbol, side, contracts, notional_usd, entry_price, leverage, margin_mode,
    liquidation_price``, the frame :func:`liqtools.data.fetch_positions` returns. Deterministic for a
    given ``seed``. Liquidation prices use the isolated-margin formula with Hyperliquid's BTC maintenance
    rate (1/80); a cross account's is computed at a lower *effective* leverage (its spare collateral),
    and the 15% best-funded cross accounts (and any whose collateral covers the position) have none (NaN), as the venue reports such accounts.

    Examples
    --------
    >>> pos = sample_positions()
    >>> len(pos), pos["side"].value_counts().to_dict()
    (500, {'long': 275, 'short': 225})
    >>> int(pos["liquidation_price"].isna().sum())
    57
    >>> longs = pos[pos.side == "long"].dropna(subset=["liquidation_price"])
    >>> bool((longs["liquidation_price"] < longs["entry_price"]).all())
    True
    """
    if not (isinstance(n_accounts, (int, np.integer)) and 1 <= n_accounts <= 100_000):
        raise ValueError(f"n_accounts must be an integer from 1 to 100,000, got {n_accounts!r}")
    rng = np.random.default_rng(seed)
    df = load_sample()
    recent = df.loc[df.index[-1] - pd.Timedelta(days=30) :]
    typical = ((recent["high"] + recent["low"] + recent["close"]) / 3).to_numpy()
    weight = recent["volume"].to_numpy() / recent["volume"].sum()
    entry = typical[rng.choice(len(typical), size=n_accounts, p=weight)]
    entry = entry * np.exp(rng.normal(0.0, 0.002, n_accounts))  # fills inside the hour
    side = np.where(rng.random(n_accounts) < 0.55, "long", "short")
    leverage = rng.choice(_LEVERAGES, size=n_accounts, p=_LEVERAGE_SHARES)
    notional = np.round(np.exp(rng.normal(np.log(60_000.0), 1.6, n_accounts)), 2)
    cross = rng.random(n_accounts) < 0.7
    cushion = np.where(cross, rng.uniform(0.25, 1.0, n_accounts), 1.0)  # spare collateral lowers the leverage
    effective = leverage * cushion
    liq = np.asarray(liquidation_price(entry, np.maximum(effective, 1.01), side, mmr=_HYPERLIQUID_BTC_MMR), dtype=float)
    funded = cross & (cushion < np.quantile(cushion[cross], 0.15)) if cross.any() else cross
    liq[funded | (effective <= 1.01)] = np.nan  # collateral covers the position: the venue gives no price
    out = pd.DataFrame(
        {
            "time": df.index[-1],
            "user": [f"0x{int(u):040x}" for u in rng.choice(2**62, size=n_accounts, replace=False)],
            "symbol": "BTC/USDC:USDC",
            "side": side,
            "contracts": np.round(notional / entry, 5),
            "notional_usd": notional,
            "entry_price": np.round(entry, 1),
            "leverage": leverage,
            "margin_mode": np.where(cross, "cross", "isolated"),
            "liquidation_price": np.round(liq, 1),
        }
    )
    return out[list(POSITION_COLUMNS)]
