"""Real positions as levels: the measured map's input, and a leverage profile fitted to real accounts.

A venue that publishes each account's positions with the liquidation price it computes (Hyperliquid,
through :func:`liqtools.data.fetch_positions`) gives a *measured* set of levels. :func:`measured_levels`
turns such a frame into the same ``price, notional_usd, side`` frame the model produces, so
:func:`~liqtools.liquidation_map`, :func:`~liqtools.find_clusters`, :func:`~liqtools.simulate_cascade` and
the widgets run on it unchanged. :func:`fit_profile` turns the same accounts' leverage into a
:class:`~liqtools.LeverageProfile` for every model call. A sample of accounts is not the whole market:
see :func:`liqtools.compare_maps` for what a comparison can and can't say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from liqtools.analysis.profile import LeverageProfile
from liqtools.errors import DataError

__all__ = ["VENUE_LEVERAGES", "fit_profile", "measured_levels"]

#: The leverage choices venues offer (Binance's and Hyperliquid's ladders): the default tiers of :func:`fit_profile`.
VENUE_LEVERAGES = (1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 75.0, 100.0, 125.0)
_REQUIRED = ("side", "notional_usd", "liquidation_price")


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    try:
        return pd.to_numeric(df[name], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"positions column {name!r} is not numeric ({exc})") from exc


def _first_bad(mask: np.ndarray, df: pd.DataFrame, name: str, what: str) -> None:
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        value = df[name].iloc[row]
        value = value.item() if isinstance(value, np.generic) else value  # -2.0, not np.float64(-2.0)
        raise DataError(f"positions column {name!r} {what}, got {value!r} at row {row} ({int(mask.sum())} such row(s))")


def _checked(positions: pd.DataFrame, symbol: str | None) -> pd.DataFrame:
    """The rows of one market, with side and sizes checked (errors name the column, row and value)."""
    if not isinstance(positions, pd.DataFrame):
        raise DataError(f"positions must be a DataFrame (as fetch_positions returns), got {type(positions).__name__}")
    missing = [c for c in _REQUIRED if c not in positions.columns]
    if missing:
        raise DataError(f"positions frame is missing column(s) {missing}; it needs {list(_REQUIRED)} (see fetch_positions)")
    df = positions.reset_index(drop=True)
    if "symbol" in df.columns:
        symbols = sorted({str(s) for s in df["symbol"].dropna().unique()})
        if symbol is not None:
            if symbol not in symbols:
                raise DataError(f"no position of symbol {symbol!r}; the frame holds {symbols}")
            df = df[df["symbol"] == symbol].reset_index(drop=True)
        elif len(symbols) > 1:
            raise DataError(f"positions of several symbols {symbols}: one map is one market, pass symbol=")
    if df.empty:
        raise DataError("positions frame has no rows")
    side = df["side"]
    _first_bad(~side.isin(["long", "short"]).to_numpy(), df, "side", "must be 'long' or 'short'")
    notional = _column(df, "notional_usd")
    _first_bad(~np.isfinite(notional), df, "notional_usd", "must be a finite number")
    _first_bad(notional < 0, df, "notional_usd", "must be >= 0 (a negative size? the side says the direction)")
    if "contracts" in df.columns:
        contracts = _column(df, "contracts")
        _first_bad(~(contracts > 0), df, "contracts", "must be > 0 (the side says the direction)")
    return df


def measured_levels(positions: pd.DataFrame, *, symbol: str | None = None) -> pd.DataFrame:
    """Real positions as the model's levels frame: one row per position with a liquidation price.

    Parameters
    ----------
    positions
        The frame :func:`liqtools.data.fetch_positions` returns, or one built by hand with at least
        ``side`` (``long`` / ``short``), ``notional_usd`` (>= 0) and ``liquidation_price`` (NaN where the
        venue gives none). ``leverage``, ``user``, ``contracts`` and ``symbol`` are used when present.
    symbol
        Keep only this market; required when the frame holds several (one map is one market).

    Returns
    -------
    pandas.DataFrame
        ``price`` (the venue's liquidation price), ``notional_usd``, ``side``, ``leverage`` (NaN when not
        given) and ``user``: the columns of ``Heatmap.levels_at`` plus two. Positions without a
        liquidation price (a well-funded cross account: the venue computes none) are left out and counted
        in ``attrs``: ``no_liquidation_price`` (rows), ``no_liquidation_price_usd``, ``measured_usd`` (all
        positions' notional, with or without a price), ``accounts`` and ``time`` (the latest query).

    Raises
    ------
    DataError
        A missing column, an unknown side, a negative or non-finite size, a liquidation price <= 0, several
        symbols without ``symbol=``, or no liquidation price at all, each named with its row and value.

    Examples
    --------
    >>> pos = pd.DataFrame({"user": ["a", "b", "c"], "side": ["long", "short", "long"],
    ...                     "notional_usd": [1e6, 2e6, 5e5], "leverage": [10.0, 20.0, 3.0],
    ...                     "liquidation_price": [90_500.0, 104_800.0, float("nan")]})
    >>> lv = measured_levels(pos)
    >>> lv[["price", "notional_usd", "side"]].to_dict("list")
    {'price': [90500.0, 104800.0], 'notional_usd': [1000000.0, 2000000.0], 'side': ['long', 'short']}
    >>> lv.attrs["no_liquidation_price"], lv.attrs["measured_usd"]
    (1, 3500000.0)
    """
    df = _checked(positions, symbol)
    notional = _column(df, "notional_usd")
    liq = _column(df, "liquidation_price")
    _first_bad(np.isinf(liq) | (liq <= 0), df, "liquidation_price", "must be > 0 and finite (NaN where the venue gives none)")
    has = np.isfinite(liq)
    if not has.any():
        raise DataError(
            f"no position has a liquidation price (all {len(df):,} are NaN: well-funded cross accounts): "
            "there is no measured map to draw"
        )
    leverage = _column(df, "leverage") if "leverage" in df.columns else np.full(len(df), np.nan)
    user = df["user"].astype(str).to_numpy() if "user" in df.columns else np.full(len(df), "", dtype=object)
    out = pd.DataFrame(
        {
            "price": liq[has],
            "notional_usd": notional[has],
            "side": df["side"].to_numpy()[has].astype(object),
            "leverage": leverage[has],
            "user": user[has],
        }
    )
    out.attrs.update(
        no_liquidation_price=int((~has).sum()),
        no_liquidation_price_usd=float(notional[~has].sum()),
        measured_usd=float(notional.sum()),
        accounts=int(df["user"].nunique()) if "user" in df.columns else len(df),
        time=pd.Timestamp(df["time"].max()) if "time" in df.columns else None,
    )
    return out


def fit_profile(
    positions: pd.DataFrame,
    *,
    tiers: Sequence[float] | None = None,
    mmr: float | None = None,
    max_leverage: float | None = None,
    use: str = "stated",
    symbol: str | None = None,
) -> LeverageProfile:
    """A :class:`~liqtools.LeverageProfile` fitted to real positions: each tier's share of their notional.

    Every position goes to the tier nearest its leverage on a log scale (so 12x goes to 10x, 13x to 15x);
    a tier's weight is the notional of its positions over the total. Tiers that receive nothing are dropped.

    Parameters
    ----------
    positions
        As for :func:`measured_levels` (with a ``leverage`` column for ``use="stated"``).
    tiers
        The leverages to fit; default :data:`VENUE_LEVERAGES` (the ladders venues offer).
    mmr
        One maintenance margin rate for every tier. Default: Hyperliquid's rule, half the initial margin at
        the market's maximum leverage, ``1 / (2 * max_leverage)`` (BTC at 40x: 1.25%).
    max_leverage
        The market's maximum leverage for that rule; default the highest fitted tier.
    use
        ``"stated"``: the leverage the account set (the venue's ``leverage`` field). ``"implied"``: the
        leverage the venue's liquidation price implies at the position's entry, ``1 / (1 - q/E + mmr)`` for a
        long and ``1 / (q/E - 1 + mmr)`` for a short, which counts a cross account's spare collateral (such
        accounts sit further from their liquidation than their stated leverage says); positions without a
        liquidation price count as 1x, one at or past its entry as the top tier. Needs ``entry_price``;
        the formula's maintenance rate is ``mmr``, else Hyperliquid's rule at ``max_leverage``, else 0.
    symbol
        As for :func:`measured_levels`.

    Examples
    --------
    >>> pos = pd.DataFrame({"side": ["long", "short", "long", "short"], "leverage": [10, 12, 3, 40],
    ...                     "notional_usd": [2e6, 1e6, 1e6, 4e6], "liquidation_price": [1.0, 2.0, 3.0, 4.0]})
    >>> p = fit_profile(pos)
    >>> dict(zip(p.leverages.tolist(), p.weights_array.round(3).tolist())), float(p.mmrs[0])
    ({3.0: 0.125, 10.0: 0.375, 40.0: 0.5}, 0.0125)
    """
    df = _checked(positions, symbol)
    notional = _column(df, "notional_usd")
    if use == "stated":
        if "leverage" not in df.columns:
            raise DataError("positions frame has no 'leverage' column (needed for use='stated')")
        leverage = _column(df, "leverage")
        _first_bad(~(leverage >= 1) | np.isinf(leverage), df, "leverage", "must be a finite number >= 1")
    elif use == "implied":
        leverage = _implied_leverage(df, mmr if mmr is not None else (0.0 if max_leverage is None else 0.5 / float(max_leverage)))
    else:
        raise DataError(f"use must be 'stated' or 'implied', got {use!r}")
    if not notional.sum() > 0:
        raise DataError("positions' notional_usd sums to 0: no weights to fit")
    ladder = np.unique(np.asarray(VENUE_LEVERAGES if tiers is None else tiers, dtype=np.float64))
    if len(ladder) == 0 or not (np.isfinite(ladder).all() and (ladder >= 1).all()):
        raise DataError(f"tiers must be leverages >= 1, got {list(tiers or [])}")
    leverage = np.clip(leverage, 1.0, ladder.max())  # past the ladder's top: its top tier
    nearest = np.abs(np.log(leverage)[:, None] - np.log(ladder)[None, :]).argmin(axis=1)
    weight = np.bincount(nearest, weights=notional, minlength=len(ladder))
    keep = weight > 0
    lev, w = ladder[keep], weight[keep] / weight.sum()
    top = float(lev.max()) if max_leverage is None else float(max_leverage)
    if not (math.isfinite(top) and top >= lev.max()):
        raise DataError(f"max_leverage must be >= the highest fitted tier {lev.max():g}, got {max_leverage!r}")
    rate = 1.0 / (2.0 * top) if mmr is None else float(mmr)
    w[-1] += 1.0 - w.sum()  # exact sum 1 after rounding
    return LeverageProfile(dict(zip(lev.tolist(), w.tolist())), rate)


def _implied_leverage(df: pd.DataFrame, rate: float) -> np.ndarray:
    """Leverage implied by the venue's liquidation price at entry (no price: 1x; at or past entry: inf)."""
    if "entry_price" not in df.columns:
        raise DataError("positions frame has no 'entry_price' column (needed for use='implied')")
    entry = _column(df, "entry_price")
    _first_bad(~(entry > 0) | np.isinf(entry), df, "entry_price", "must be a finite price > 0")
    q = _column(df, "liquidation_price")
    is_long = (df["side"] == "long").to_numpy()
    inv = np.where(is_long, 1.0 - q / entry, q / entry - 1.0) + rate  # 1/L from the liquidation price
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = np.where(np.isfinite(q), np.where(inv > 0, 1.0 / inv, np.inf), 1.0)
    return np.maximum(lev, 1.0)
