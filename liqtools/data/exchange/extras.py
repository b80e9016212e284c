"""Public helpers beyond market frames: market-wide liquidations and leverage tiers over REST."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd

from liqtools.data.exchange.pager import _progress_bar
from liqtools.data.exchange.retry import _call, _unsupported, in_session
from liqtools.data.exchange.venues import _hooks, _to_ms
from liqtools.errors import FetchError


@in_session
def fetch_liquidations(
    exchange: Any,
    symbol: str,
    *,
    start: Any,
    end: Any = None,
    limit: int = 1000,
    retries: int = 5,
    backoff: float = 1.0,
    progress: bool = True,
) -> pd.DataFrame:
    """Market-wide liquidation orders over REST, where the exchange offers them (ccxt ``fetchLiquidations``).

    Returns a frame indexed by UTC time with ``side`` (ccxt's unified side of the liquidation),
    ``price``, ``amount`` (base units), ``notional_usd``. Paginates by ``since`` until ``end`` or an empty page.

    Raises
    ------
    NotSupportedError
        Where the exchange has no such endpoint; for Binance the message points to the archive's
        ``liquidationSnapshot`` files.
    """
    ex = _hooks()._resolve_exchange(exchange)
    if not ex.has.get("fetchLiquidations"):
        raise _unsupported(ex.id, "fetchLiquidations", symbol)
    first = _to_ms(start, "start")
    last = (_to_ms(end, "end") if end is not None else _hooks()._now_ms()) - 1
    rows: list[dict[str, Any]] = []
    since = first
    bar = _progress_bar(progress, last - first, f"{ex.id} {symbol} liquidations")
    try:
        while since <= last:
            page = _call(ex, "fetchLiquidations", symbol,
                         functools.partial(ex.fetch_liquidations, symbol, since, limit, {"until": last}),
                         retries=retries, backoff=backoff)
            page = [p for p in page or [] if p.get("timestamp") is not None and since <= p["timestamp"] <= last]
            if not page:
                break
            rows.extend(page)
            top = max(p["timestamp"] for p in page)
            if bar is not None:
                bar.update(top + 1 - since)
            since = top + 1
    finally:
        if bar is not None:
            bar.close()
    if not rows:
        return pd.DataFrame(
            {"side": pd.Series(dtype=object), "price": pd.Series(dtype=float), "amount": pd.Series(dtype=float),
             "notional_usd": pd.Series(dtype=float)},
            index=pd.DatetimeIndex([], tz="UTC", name="time"),
        )
    df = pd.DataFrame({
        "time": pd.to_datetime([r["timestamp"] for r in rows], unit="ms", utc=True).as_unit("ns"),
        "side": [r.get("side") for r in rows],
        "price": [float(r.get("price") or np.nan) for r in rows],
        "amount": [float(r.get("baseValue") or np.nan) for r in rows],
        "notional_usd": [float(r.get("quoteValue") or np.nan) for r in rows],
        "id": [str((r.get("info") or {}).get("id", "")) + str(r["timestamp"]) for r in rows],
    })
    df = df.drop_duplicates().drop(columns="id").sort_values("time", kind="stable").set_index("time")
    return df


@in_session
def fetch_leverage_tiers(exchange: Any, symbol: str, *, retries: int = 5, backoff: float = 1.0) -> pd.DataFrame:
    """Leverage brackets (maintenance margin tiers) where the exchange publishes them without a key.

    Returns one row per tier: ``tier, min_notional, max_notional, maintenance_margin_rate, max_leverage``.

    Raises
    ------
    NotSupportedError
        Where ccxt has no ``fetchLeverageTiers`` for the exchange, or the exchange needs an API key
        (Binance: the message names the bundled table ``liqtools.BINANCE_BTCUSDT_BRACKETS``).
    """
    ex = _hooks()._resolve_exchange(exchange)
    if not ex.has.get("fetchLeverageTiers") and not ex.has.get("fetchMarketLeverageTiers"):
        raise _unsupported(ex.id, "fetchLeverageTiers", symbol)
    keyless_binance = ex.id.startswith("binance") and not getattr(ex, "apiKey", None)
    if keyless_binance:
        raise _unsupported(ex.id, "fetchLeverageTiers", symbol)
    if ex.has.get("fetchMarketLeverageTiers"):
        tiers = _call(ex, "fetchMarketLeverageTiers", symbol, lambda: ex.fetch_market_leverage_tiers(symbol),
                      retries=retries, backoff=backoff)
    else:
        all_tiers = _call(ex, "fetchLeverageTiers", symbol, lambda: ex.fetch_leverage_tiers([symbol]),
                          retries=retries, backoff=backoff)
        tiers = all_tiers.get(symbol, [])
    rows = [
        {
            "tier": int(t.get("tier") or i + 1),
            "min_notional": float(t.get("minNotional") or 0.0),
            "max_notional": float(t["maxNotional"]) if t.get("maxNotional") is not None else math.inf,
            "maintenance_margin_rate": float(t["maintenanceMarginRate"]),
            "max_leverage": float(t["maxLeverage"]) if t.get("maxLeverage") is not None else math.nan,
        }
        for i, t in enumerate(tiers)
    ]
    if not rows:
        raise FetchError(f"{ex.id} returned no leverage tiers for {symbol}; check the symbol", exchange=ex.id,
                         method="fetchLeverageTiers", symbol=symbol)
    return pd.DataFrame(rows)
