"""``fetch_market_data``: every series of a market through the paginator, aligned into one market frame."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from liqtools.data.exchange.convert import _empty, to_market_frame
from liqtools.data.exchange.pager import fetch_series
from liqtools.data.exchange.retry import _exchange_id, in_session
from liqtools.data.exchange.venues import (
    _HOUR,
    SERIES,
    _epoch_ms,
    _hooks,
    _IdOnly,
    _iso,
    _series_plan,
    _to_ms,
    _Venue,
    timeframe_ms,
)
from liqtools.errors import DataError
from liqtools.schema import validate_market

if TYPE_CHECKING:  # pragma: no cover
    import os

Source = Literal["rest", "auto", "archive"]


@in_session
def fetch_market_data(
    exchange: Any,
    symbol: str,
    timeframe: str = "1h",
    *,
    start: Any,
    end: Any = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool = True,
    include: Iterable[str] = ("ohlcv", "open_interest", "funding", "mark"),
    retries: int = 5,
    backoff: float = 1.0,
    source: Source = "rest",
) -> pd.DataFrame:
    """Candles, open interest (USD), funding and mark price from an exchange, as a market frame.

    Parameters
    ----------
    exchange
        A ccxt id (``"binanceusdm"``, ``"bybit"``, ``"okx"``, ...) or a ready ccxt Exchange instance (for
        API keys, proxies, or a test double).
    symbol
        ccxt unified symbol, e.g. ``"BTC/USDT:USDT"`` (the USDT-margined perpetual).
    timeframe
        Candle length (``"1m"``, ``"5m"``, ``"1h"``, ``"4h"``, ``"1d"``, ...).
    start, end
        Candles opening in ``[start, end)``; dates, ISO strings (naive means UTC), Timestamps or epoch ms.
        ``end=None`` means now. Only closed candles are returned.
    cache_dir
        Cache root (default: ``$LIQTOOLS_CACHE_DIR`` or the user cache directory); ``False`` disables the
        cache. With the cache, only missing ranges are fetched and a repeated call makes no request.
    progress
        A tqdm progress bar per series (terminal or notebook); ``False`` for none.
    include
        Series to fetch: ``"ohlcv"`` (required), ``"open_interest"``, ``"funding"``, ``"mark"``, and
        ``"long_short"`` (accounts long/short ratio, where offered).
    retries, backoff
        Transient failures (timeouts, rate limits, exchange unavailable, DDoS protection) are retried up to
        ``retries`` times, waiting ``backoff * 2**attempt`` seconds with +-50% jitter (capped at 60 s).
        Bad symbols, unsupported methods and authentication errors are not retried.
    source
        ``"rest"``: everything over REST. ``"auto"``: REST, but Binance open interest older than its REST
        window (about 30 days) comes from Binance's public archive (daily ``metrics`` files).
        ``"archive"`` (Binance only): candles (with taker-buy volume), open interest and mark price from
        the archive; funding over REST.

    Returns
    -------
    pandas.DataFrame
        A validated market frame (see :mod:`liqtools.schema` and :func:`to_market_frame` for how the series
        are aligned to the candle grid and how gaps are filled). ``df.attrs["gaps"]`` maps each series
        fetched over REST to the gaps the exchange has in it, ``(first_ms, last_ms, reason)``: candles or
        snapshots it did not return on two requests, or before the market's listing. Every page is checked
        before it is cached (:mod:`liqtools.data.exchange.pages`).

    Raises
    ------
    FetchError
        A request failed after retries (the message names exchange, method and symbol; fetched pages stay
        cached); the first request found no network ("no network connection to <exchange>", at once); or a
        page failed its checks (``PageError``: nothing of it cached, the next run asks again).
    NotSupportedError
        The exchange does not offer a requested series.
    DataError
        Bad arguments (unknown exchange, timeframe, dates).

    Examples
    --------
    Offline, with a ccxt instance whose HTTP layer is replaced (what the tests do):

    >>> import ccxt
    >>> ex = ccxt.binanceusdm()
    >>> _ = ex.set_markets([{"id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT",
    ...     "settle": "USDT", "type": "swap", "spot": False, "swap": True, "future": False, "option": False,
    ...     "contract": True, "linear": True, "inverse": False, "contractSize": 1.0, "active": True,
    ...     "precision": {}, "limits": {}, "info": {}}])
    >>> candle = [1712738460000, "71481.90", "71481.90", "71481.90", "71481.90", "0.002", 1712738519999,
    ...           "142.96380", 1, "0.002", "142.96380", "0"]  # recorded by ccxt's tests
    >>> ex.fetch = lambda url, method="GET", headers=None, body=None: [candle] if "startTime=1712738460000" in url else []
    >>> df = fetch_market_data(ex, "BTC/USDT:USDT", "1m", start="2024-04-10 08:41", end="2024-04-10 08:42",
    ...                        include=("ohlcv",), cache_dir=False, progress=False)
    >>> df
                                  open     high      low    close  volume
    time
    2024-04-10 08:41:00+00:00  71481.9  71481.9  71481.9  71481.9   0.002
    """
    include = tuple(dict.fromkeys(include))
    unknown = [s for s in include if s not in SERIES]
    if unknown:
        raise DataError(f"unknown series {unknown} in include; choose from {list(SERIES)}")
    if "ohlcv" not in include:
        raise DataError("include must contain 'ohlcv': the candles are the grid every other series is aligned to")
    if source not in ("rest", "auto", "archive"):
        raise DataError(f"source must be 'rest', 'auto' or 'archive', got {source!r}")
    timeframe_ms(timeframe)
    first = _to_ms(start, "start")
    end_ms = _to_ms(end, "end") if end is not None else _hooks()._now_ms()
    if end_ms <= first:
        raise DataError(f"end must be after start, got start={_iso(first)}, end={_iso(end_ms)}")
    ex_id = _exchange_id(exchange)
    common: dict[str, Any] = {"start": first, "end": end_ms, "cache_dir": cache_dir, "progress": progress,
                              "retries": retries, "backoff": backoff}

    if source == "archive":
        if not ex_id.startswith("binance"):
            raise DataError(f"source='archive' reads Binance's public archive; {ex_id!r} has none in liqtools: use source='rest'")
        from liqtools.data.archive import fetch_binance_market

        df = fetch_binance_market(symbol, timeframe, include=[s for s in include if s != "funding"], **common)
        if "funding" in include:
            lead = _lead(exchange, "funding", timeframe, first)
            funding = fetch_series(exchange, symbol, "funding", timeframe, **{**common, "start": lead, "end": end_ms + 1})
            df = _add_funding(df, funding, timeframe)
        return df

    parts: dict[str, pd.DataFrame] = {}
    for series in include:
        # open interest, funding and ratios are read "as of" each candle's close: start a little earlier
        # (and include a snapshot taken exactly at the last candle's close)
        lead = _lead(exchange, series, timeframe, first)
        span = {**common, "start": lead} if series in ("ohlcv", "mark") else {**common, "start": lead, "end": end_ms + 1}
        if series == "open_interest":
            parts[series] = _open_interest(exchange, symbol, timeframe, source=source, **span)
        else:
            parts[series] = fetch_series(exchange, symbol, series, timeframe, **span)
    ex_plan = exchange if not isinstance(exchange, str) else _IdOnly(exchange)
    gaps = {series: list(part.attrs.get("gaps", [])) for series, part in parts.items()}
    if len(parts["ohlcv"]) == 0:
        known = "; ".join(f"{_iso(a)} to {_iso(b + 1)}: {why}" for a, b, why in gaps["ohlcv"][:3])
        raise DataError(
            f"no candles: {ex_id} returned no {timeframe} candles for {symbol} from {_iso(first)} to {_iso(end_ms)}"
            + (f" ({known})" if known else " (nothing was cached: the next run asks again)")
        )
    df = to_market_frame(
        parts["ohlcv"],
        oi_period=_series_plan(ex_plan, "open_interest", timeframe)[0],
        timeframe=timeframe,
        open_interest=parts.get("open_interest"),
        funding=parts.get("funding"),
        mark=parts.get("mark"),
        long_short=parts.get("long_short"),
    )
    df.attrs["gaps"] = gaps
    return df


FUNDING_LOOKBACK_MS = 24 * _HOUR


def _lead(exchange: Any, series: str, timeframe: str, first: int) -> int:
    """Where to start a series so that the first candle has its as-of value."""
    if series in ("ohlcv", "mark"):
        return first
    if series == "funding":
        return ((first - FUNDING_LOOKBACK_MS) // _HOUR) * _HOUR
    ex = exchange if not isinstance(exchange, str) else _IdOnly(exchange)
    _, spacing, _ = _series_plan(ex, series, timeframe)
    return (first // spacing) * spacing


def _add_funding(df: pd.DataFrame, funding: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    if len(funding) == 0:
        return df
    step = timeframe_ms(timeframe)
    close_time = (_epoch_ms(df.index)) + step
    t = funding["timestamp"].to_numpy(dtype=np.int64)
    v = funding["funding_rate"].to_numpy(dtype=np.float64)
    o = np.argsort(t, kind="stable")
    t, v = t[o], v[o]
    pos = np.searchsorted(t, close_time, side="right") - 1
    out = df.copy()
    out["funding_rate"] = np.where(pos >= 0, v[np.clip(pos, 0, None)], np.nan)
    return validate_market(out)


def _open_interest(exchange: Any, symbol: str, timeframe: str, *, source: str, start: int, end: int, **common: Any) -> pd.DataFrame:
    ex_id = _exchange_id(exchange)
    days = _hooks()._VENUES.get(ex_id, _Venue()).oi_history_days
    if days is None:
        return fetch_series(exchange, symbol, "open_interest", timeframe, start=start, end=end, **common)
    earliest = _hooks()._now_ms() - days * 24 * _HOUR + _HOUR  # an hour of slack at the edge
    if start >= earliest:
        return fetch_series(exchange, symbol, "open_interest", timeframe, start=start, end=end, **common)
    if source == "auto":
        from liqtools.data.archive import fetch_binance_archive

        metrics = fetch_binance_archive("metrics", symbol, start=start, end=min(end, earliest), **common)
        older = pd.DataFrame({
            "timestamp": _epoch_ms(metrics.index),
            "oi_amount": metrics["oi_contracts"].to_numpy(dtype=np.float64),
            "oi_value": metrics["oi_usd"].to_numpy(dtype=np.float64),
        }) if len(metrics) else _empty("open_interest")
        recent = (fetch_series(exchange, symbol, "open_interest", timeframe, start=earliest, end=end, **common)
                  if end > earliest else _empty("open_interest"))
        from liqtools.data.cache import _normalise

        return _normalise(pd.concat([older, recent], ignore_index=True))
    warnings.warn(
        f"{ex_id} keeps open-interest history over REST for about {days} days only: oi_usd before {_iso(earliest)} "
        f"is NaN. Use source='auto' (--source auto on the command line) to take the older part from Binance's public "
        "archive (daily metrics files), "
        "or liqtools.data.fetch_binance_archive('metrics', ...).",
        UserWarning,
        stacklevel=3,
    )
    if end <= earliest:
        return _empty("open_interest")
    return fetch_series(exchange, symbol, "open_interest", timeframe, start=earliest, end=end, **common)

