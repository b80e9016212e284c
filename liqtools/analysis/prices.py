"""Exact liquidation prices of isolated linear (USDT-margined) perpetual positions (docs/model.md section 1)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from liqtools.errors import DataError

__all__ = [
    "BINANCE_BTCUSDT_BRACKETS",
    "BINANCE_BTCUSDT_BRACKETS_DATE",
    "Side",
    "bracket_for",
    "liquidation_price",
    "position_liquidation_price",
]

Side = Literal["long", "short"]


def _check_side(side: object) -> NDArray[np.bool_]:
    """Return True where the side is long; refuse anything but 'long'/'short'."""
    arr = np.asarray(side)
    is_long = arr == "long"
    bad = ~(is_long | (arr == "short"))
    if np.any(bad):
        raise DataError(f"side must be 'long' or 'short', got {arr[bad].ravel()[0]!r}")
    return is_long


def liquidation_price(
    entry: ArrayLike,
    leverage: ArrayLike,
    side: Side | ArrayLike,
    *,
    mmr: ArrayLike = 0.004,
    maintenance_amount: ArrayLike = 0.0,
    notional: ArrayLike | None = None,
) -> float | NDArray[np.float64]:
    """Liquidation price of one isolated position, as exchanges compute it.

    With margin = notional / leverage, maintenance margin rate ``mmr`` and maintenance amount ``cum``
    (Binance's "cum", in USD; 0 unless brackets are used) and quantity ``Q = notional / entry``::

        long:  q = (entry * (1 - 1/L) - cum/Q) / (1 - mmr)
        short: q = (entry * (1 + 1/L) + cum/Q) / (1 + mmr)

    The popular shortcut ``entry * (1 - 1/L + mmr)`` is not this formula and drifts at high leverage.

    Parameters
    ----------
    entry, leverage, side, mmr, maintenance_amount, notional
        Scalars or arrays that broadcast together. ``side`` is ``"long"`` or ``"short"``.
        ``notional`` (USD) is needed only when ``maintenance_amount`` is not zero.

    Returns
    -------
    float or ndarray
        A float for scalar input, otherwise an array of the broadcast shape.

    Raises
    ------
    DataError
        (a ``ValueError``) for entry <= 0, leverage < 1, mmr outside [0, 1), leverage so high that the
        position would be liquidated at entry (``1/L <= mmr``), an unknown side, a maintenance
        amount without a notional, or a maintenance amount (or an entry so large) that makes the price
        negative, infinite or NaN.

    Examples
    --------
    >>> round(liquidation_price(100_000, 10, "long"), 1)
    90361.4
    >>> round(liquidation_price(100_000, 100, "short"), 1)
    100597.6
    >>> liquidation_price([100_000, 100_000], 100, ["long", "short"]).round(1)
    array([ 99397.6, 100597.6])
    """
    entry_a = np.asarray(entry, dtype=np.float64)
    lev = np.asarray(leverage, dtype=np.float64)
    mmr_a = np.asarray(mmr, dtype=np.float64)
    cum = np.asarray(maintenance_amount, dtype=np.float64)
    is_long = _check_side(side)
    if np.any(~((entry_a > 0) & np.isfinite(entry_a))):
        raise DataError(f"entry price must be a finite number > 0, got {entry_a[~((entry_a > 0) & np.isfinite(entry_a))].ravel()[0]}")
    if np.any(~(lev >= 1)):
        raise DataError(f"leverage must be >= 1, got {lev[~(lev >= 1)].ravel()[0]}")
    if np.any(~((mmr_a >= 0) & (mmr_a < 1))):
        raise DataError(f"mmr must be in [0, 1), got {mmr_a[~((mmr_a >= 0) & (mmr_a < 1))].ravel()[0]}")
    if np.any(1.0 / lev <= mmr_a):
        raise DataError("leverage too high for this mmr: 1/leverage <= mmr means liquidation at entry")
    if np.any(~np.isfinite(cum)):
        raise DataError(f"maintenance_amount must be a finite number (USD), got {cum[~np.isfinite(cum)].ravel()[0]}")
    if np.any(cum != 0):
        if notional is None:
            raise DataError("maintenance_amount needs the position's notional (USD) to convert it to price")
        notional_a = np.asarray(notional, dtype=np.float64)
        if np.any(~((notional_a > 0) & np.isfinite(notional_a))):
            raise DataError("notional must be > 0 and finite")
        per_unit = cum * entry_a / notional_a  # cum / Q with Q = notional / entry
    else:
        per_unit = np.zeros(())  # adding or taking 0.0 leaves every price as it is
    with np.errstate(over="ignore", invalid="ignore"):
        if np.ndim(is_long) == 0:  # one side: only its formula
            out = (
                (entry_a * (1.0 - 1.0 / lev) - per_unit) / (1.0 - mmr_a)
                if is_long
                else (entry_a * (1.0 + 1.0 / lev) + per_unit) / (1.0 + mmr_a)
            )
        else:
            long_q = (entry_a * (1.0 - 1.0 / lev) - per_unit) / (1.0 - mmr_a)
            short_q = (entry_a * (1.0 + 1.0 / lev) + per_unit) / (1.0 + mmr_a)
            out = np.where(is_long, long_q, short_q)
    bad = ~(np.isfinite(out) & (out >= 0))  # 0: a 1x long is never liquidated
    if np.any(bad):
        first = np.broadcast_to(out, bad.shape)[bad].ravel()[0]
        if np.any(cum != 0):
            raise DataError(
                f"the maintenance amount makes the liquidation price {first:g}: it must stay a number >= 0 "
                "(check maintenance_amount against the notional)"
            )
        raise DataError(f"the liquidation price overflows ({first:g}): entry price too large")
    return float(out) if out.ndim == 0 else out


#: Date the default bracket table was taken from Binance's public "leverage and margin" page.
BINANCE_BTCUSDT_BRACKETS_DATE = "2025-06"

#: Binance USDⓈ-M BTCUSDT perpetual leverage brackets (notional tiers in USD) as published in
#: 2025-06. ``maintenance_amount`` follows from continuity of the maintenance margin at each floor:
#: cum_k = cum_{k-1} + floor_k * (mmr_k - mmr_{k-1}) (a test checks this). Binance revises these
#: tables; pass your own for current work.
BINANCE_BTCUSDT_BRACKETS: pd.DataFrame = pd.DataFrame(
    {
        "notional_floor": [0, 300e3, 800e3, 3e6, 12e6, 50e6, 65e6, 150e6, 320e6, 400e6, 530e6, 800e6],
        "notional_cap": [300e3, 800e3, 3e6, 12e6, 50e6, 65e6, 150e6, 320e6, 400e6, 530e6, 800e6, 1.2e9],
        "max_leverage": [125, 100, 75, 50, 25, 20, 10, 5, 4, 3, 2, 1],
        "mmr": [0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25, 0.50],
        "maintenance_amount": [
            0.0, 300.0, 1_500.0, 12_000.0, 132_000.0, 382_000.0, 2_007_000.0, 9_507_000.0,
            17_507_000.0, 27_507_000.0, 80_507_000.0, 280_507_000.0,
        ],
    },
    index=pd.RangeIndex(1, 13, name="bracket"),
).astype({"notional_floor": float, "notional_cap": float, "max_leverage": float})


def bracket_for(notional: float, brackets: pd.DataFrame = BINANCE_BTCUSDT_BRACKETS) -> pd.Series:
    """The bracket (row of ``brackets``) a position of this USD notional falls in.

    Brackets hold ``notional_floor < notional <= notional_cap``, as Binance publishes them (125x is allowed at
    exactly 300,000 USDT); a notional above the last cap is refused.

    Examples
    --------
    >>> bracket_for(1_000_000)["mmr"]
    np.float64(0.0065)
    """
    if not (notional > 0 and math.isfinite(notional)):
        raise DataError(f"notional must be > 0 and finite, got {notional}")
    floors = brackets["notional_floor"].to_numpy()
    caps = brackets["notional_cap"].to_numpy()
    pos = int(np.searchsorted(floors, notional, side="left")) - 1
    if pos < 0 or notional > caps[pos]:
        raise DataError(f"notional {notional:,.0f} USD is outside the bracket table (max {caps[-1]:,.0f})")
    return brackets.iloc[pos]


def position_liquidation_price(
    entry: float,
    leverage: float,
    side: Side,
    notional: float,
    *,
    brackets: pd.DataFrame = BINANCE_BTCUSDT_BRACKETS,
) -> float:
    """Liquidation price of one position priced with its notional's bracket (mmr and maintenance amount).

    Raises a ``DataError`` when the leverage exceeds the bracket's maximum, or when the bracket's
    maintenance amount would make the price negative or NaN (a custom table that does not fit the notional).

    Examples
    --------
    >>> round(position_liquidation_price(100_000, 10, "long", 50_000), 1)  # first bracket: plain formula
    90361.4
    >>> round(position_liquidation_price(100_000, 10, "long", 1_000_000), 1)  # 0.65% mmr, 1,500 USD cum
    90437.8
    """
    row = bracket_for(notional, brackets)
    if leverage > row["max_leverage"]:
        raise DataError(
            f"leverage {leverage} exceeds the maximum {row['max_leverage']:g}x of the bracket "
            f"for a notional of {notional:,.0f} USD"
        )
    return float(
        liquidation_price(
            entry, leverage, side, mmr=row["mmr"], maintenance_amount=row["maintenance_amount"], notional=notional
        )
    )
