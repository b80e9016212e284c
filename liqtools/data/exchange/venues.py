"""What liqtools knows about each venue's history endpoints, how one page is requested, and time helpers.

Nothing here talks to the network: :func:`_request` is the one place where a ccxt method is called for a
page, and :func:`_series_plan` says which period, spacing and page limit a series uses on a venue.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.errors import DataError

Series = Literal["ohlcv", "open_interest", "funding", "mark", "long_short"]
SERIES: tuple[str, ...] = ("ohlcv", "open_interest", "funding", "mark", "long_short")
# Series whose rows sit on a fixed grid (one candle or snapshot per period): a span is complete only
# when every slot of the grid has a row or a recorded gap. Funding follows a venue's schedule (1, 4 or 8 h).
GRID_SERIES: tuple[str, ...] = ("ohlcv", "mark", "open_interest", "long_short")
_COLUMNS: dict[str, tuple[str, ...]] = {
    "ohlcv": ("open", "high", "low", "close", "volume"),
    "mark": ("open", "high", "low", "close"),
    "open_interest": ("oi_amount", "oi_value"),
    "funding": ("funding_rate",),
    "long_short": ("long_short_ratio",),
}
_METHODS = {
    "ohlcv": "fetchOHLCV",
    "mark": "fetchMarkOHLCV",
    "open_interest": "fetchOpenInterestHistory",
    "funding": "fetchFundingRateHistory",
    "long_short": "fetchLongShortRatioHistory",
}
_HOUR = 3_600_000
_FUNDING_MIN_SPACING = _HOUR  # the densest funding schedule in use (hourly): windows never overfill
_FUNDING_MAX_SPACING = 8 * _HOUR  # the sparsest schedule in use


def _hooks() -> Any:
    """The package module, where the switches tests and benchmarks replace live.

    ``_now_ms``, ``_sleep``, ``FLUSH_SECONDS``, ``_VENUES`` and ``_resolve_exchange`` are looked up there
    at call time, so ``monkeypatch.setattr(liqtools.data.exchange, "_now_ms", ...)`` reaches every module.
    """
    return sys.modules["liqtools.data.exchange"]


@dataclass(frozen=True)
class _Venue:
    """What liqtools knows about an exchange's public history endpoints."""

    ohlcv_limit: int = 100
    mark_limit: int = 100
    oi_limit: int = 100
    oi_periods: tuple[str, ...] = ("5m", "15m", "30m", "1h", "4h", "1d")
    funding_limit: int = 100
    oi_history_days: int | None = None  # how far back REST open-interest history reaches


_BINANCE = _Venue(1000, 1000, 500, ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"), 1000, 30)
_VENUES: dict[str, _Venue] = {
    "binanceusdm": _BINANCE,
    "binance": _BINANCE,
    "binancecoinm": _BINANCE,
    "bybit": _Venue(1000, 1000, 200, ("5m", "15m", "30m", "1h", "4h", "1d"), 200),
    # OKX serves at most 100 history candles (and 100 mark candles) a request
    "okx": _Venue(100, 100, 100, ("5m", "1h", "1d"), 100),
}


def _venue(ex: Any) -> _Venue:
    known = _hooks()._VENUES.get(ex.id)
    if known is not None:
        return known
    limit = 100
    try:
        limit = int(ex.features["swap"]["linear"]["fetchOHLCV"]["limit"]) or 100
    except (KeyError, TypeError, ValueError):
        pass
    return _Venue(ohlcv_limit=limit, mark_limit=limit)


class _IdOnly:
    """Stands in for an exchange instance where only the id is needed (planning before ccxt loads)."""

    def __init__(self, ex_id: str):
        self.id = ex_id
        self.features: dict[str, Any] = {}


# -- time helpers ------------------------------------------------------------------------------------


def timeframe_ms(timeframe: str) -> int:
    """Length of a ccxt timeframe string in milliseconds.

    Examples
    --------
    >>> timeframe_ms("1m"), timeframe_ms("4h"), timeframe_ms("1d")
    (60000, 14400000, 86400000)
    """
    units = {"s": 1_000, "m": 60_000, "h": _HOUR, "d": 24 * _HOUR, "w": 7 * 24 * _HOUR}
    text = str(timeframe).strip()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise DataError(f"timeframe must look like '1m', '15m', '1h', '4h' or '1d', got {timeframe!r}")
    return int(text[:-1]) * units[text[-1]]


def _to_ms(value: Any, name: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be a date/time (e.g. '2024-01-01' or '2024-01-01T12:00Z'), got {value!r}") from exc
    if ts is pd.NaT:
        raise DataError(f"{name} is missing (NaT)")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def _epoch_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch milliseconds of a DatetimeIndex, whatever its resolution (pandas 3 keeps s/ms/us/ns)."""
    return pd.DatetimeIndex(index).as_unit("ms").asi8


def _iso(ms: int) -> str:
    """Epoch milliseconds as a short UTC time for messages.

    >>> _iso(1709251200000)
    '2024-03-01 00:00 UTC'
    """
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


# -- one page ----------------------------------------------------------------------------------------


def _series_plan(ex: Any, series: str, timeframe: str) -> tuple[str, int, int]:
    """(period string for the request, spacing in ms, page limit)."""
    v = _venue(ex)
    step = timeframe_ms(timeframe)
    if series == "ohlcv":
        return timeframe, step, v.ohlcv_limit
    if series == "mark":
        return timeframe, step, v.mark_limit
    if series == "funding":
        return timeframe, _FUNDING_MIN_SPACING, v.funding_limit
    # open interest / long-short: the longest supported period not longer than the candles
    periods = sorted(v.oi_periods, key=timeframe_ms)
    fitting = [p for p in periods if timeframe_ms(p) <= step] or periods[:1]
    period = fitting[-1]
    return period, timeframe_ms(period), v.oi_limit


def _settled_before(series: str, spacing: int, now_ms: int) -> int:
    """Last millisecond whose data is final (closed candles; published snapshots), at a slot boundary."""
    lag = {"ohlcv": 0, "mark": 0, "funding": 10 * 60_000}.get(series, 2 * spacing)
    return ((now_ms - lag) // spacing) * spacing - 1


def _window_params(ex: Any, series: str, until: int) -> dict[str, Any]:
    if ex.id == "okx" and series == "funding":
        return {"after": until + 1}  # okx funding history takes an exclusive upper bound and no 'until'
    return {"until": until}


def _request(ex: Any, series: str, symbol: str, period: str, since: int, until: int, limit: int) -> Any:
    params = _window_params(ex, series, until)
    if series == "ohlcv":
        return ex.fetch_ohlcv(symbol, period, since, limit, params)
    if series == "mark":
        return ex.fetch_ohlcv(symbol, period, since, limit, {**params, "price": "mark"})
    if series == "open_interest":
        return ex.fetch_open_interest_history(symbol, period, since, limit, params)
    if series == "funding":
        return ex.fetch_funding_rate_history(symbol, since, limit, params)
    if series == "long_short":
        return ex.fetch_long_short_ratio_history(symbol, period, since, limit, params)
    raise DataError(f"unknown series {series!r}; one of {list(SERIES)}")
