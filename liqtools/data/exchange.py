"""Market frames from live exchanges through ccxt: one converter, one paginator, one retry.

ccxt is imported inside the functions that need it (``import liqtools`` stays light). Every series is
fetched in windows of one page (``since`` .. ``until``) so that each request has a defined answer on
every exchange, whether the venue anchors a page at its start (Binance) or at its end (Bybit, OKX);
a page shorter than the limit is not taken as the end: pagination stops at ``end``, or when the
exchange has nothing at all between the current position and ``end``. Pages go to the disk cache
(:mod:`liqtools.data.cache`) as they arrive (written at most every :data:`FLUSH_SECONDS`, and always when
the download ends, by success, error or Ctrl-C), so a failure loses nothing and the next call resumes;
only a hard kill can lose the pages of the last second.
"""

from __future__ import annotations

import difflib
import functools
import math
import random
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from liqtools.errors import DataError, FetchError, NotSupportedError
from liqtools.schema import validate_market

if TYPE_CHECKING:  # pragma: no cover
    import os

__all__ = [
    "SERIES",
    "fetch_market_data",
    "fetch_series",
    "fetch_liquidations",
    "fetch_leverage_tiers",
    "to_market_frame",
    "ohlcv_rows",
    "timeframe_ms",
]

Series = Literal["ohlcv", "open_interest", "funding", "mark", "long_short"]
Source = Literal["rest", "auto", "archive"]
SERIES: tuple[str, ...] = ("ohlcv", "open_interest", "funding", "mark", "long_short")
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
_MAX_DELAY = 60.0

# Seconds between two writes of fetched pages to the cache (pages in between are kept in memory and
# written on any exit, normal or by exception); 0 writes every page.
FLUSH_SECONDS = 1.0
# Injected in tests so that retries do not wait and "now" is fixed.
_sleep: Callable[[float], None] = time.sleep


def _now_ms() -> int:
    return int(time.time() * 1000)


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
    known = _VENUES.get(ex.id)
    if known is not None:
        return known
    limit = 100
    try:
        limit = int(ex.features["swap"]["linear"]["fetchOHLCV"]["limit"]) or 100
    except (KeyError, TypeError, ValueError):
        pass
    return _Venue(ohlcv_limit=limit, mark_limit=limit)


# -- small helpers -----------------------------------------------------------------------------------


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
    return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")


@functools.lru_cache(maxsize=16)
def _new_exchange(exchange_id: str) -> Any:
    """One rate-limited ccxt instance per id and process (so markets load once)."""
    import ccxt

    cls = getattr(ccxt, exchange_id, None)
    if not isinstance(cls, type) or exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DataError(f"unknown exchange {exchange_id!r}: give a ccxt id such as 'binanceusdm', 'bybit' or 'okx'{hint}")
    return cls({"enableRateLimit": True})


def _resolve_exchange(exchange: Any) -> Any:
    if isinstance(exchange, str):
        return _new_exchange(exchange)
    if hasattr(exchange, "id") and hasattr(exchange, "fetch_ohlcv"):
        return exchange
    raise DataError(f"exchange must be a ccxt id or a ccxt Exchange instance, got {type(exchange).__name__}")


def _exchange_id(exchange: Any) -> str:
    if isinstance(exchange, str):
        return exchange
    if hasattr(exchange, "id") and hasattr(exchange, "fetch_ohlcv"):
        return str(exchange.id)
    raise DataError(f"exchange must be a ccxt id or a ccxt Exchange instance, got {type(exchange).__name__}")


# -- retry and error translation ---------------------------------------------------------------------


def _call(ex: Any, method: str, symbol: str | None, fn: Callable[[], Any], *, retries: int, backoff: float) -> Any:
    """Run one ccxt call with retries on transient errors; translate failures to liqtools errors."""
    import ccxt

    transient = (
        ccxt.RequestTimeout,
        ccxt.RateLimitExceeded,
        ccxt.DDoSProtection,
        ccxt.ExchangeNotAvailable,
        ccxt.NetworkError,
    )
    where = f"{ex.id} {method}" + (f" for {symbol}" if symbol else "")
    attempt = 0
    while True:
        try:
            if getattr(ex, "markets", None) is None:
                ex.load_markets()
            return fn()
        except (ccxt.BadSymbol, ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended) as exc:
            hint = (
                "check the unified symbol (e.g. 'BTC/USDT:USDT' for the USDT perpetual; ex.load_markets() lists them)"
                if isinstance(exc, ccxt.BadSymbol)
                else "this endpoint needs an API key: pass a configured ccxt instance, or use public data"
            )
            raise FetchError(f"{where} failed: {exc}; {hint}", exchange=ex.id, method=method, symbol=symbol) from exc
        except ccxt.NotSupported as exc:
            raise NotSupportedError(
                f"{where}: not supported by this exchange in ccxt ({exc}); choose another exchange or leave this series out",
                exchange=ex.id, method=method, symbol=symbol,
            ) from exc
        except transient as exc:
            if attempt >= retries:
                raise FetchError(
                    f"{where} failed after {attempt + 1} attempts ({type(exc).__name__}: {exc}); the exchange may be down "
                    "or rate-limiting: pages fetched so far are cached, run the same call again later to resume "
                    "(or raise retries=/backoff=)",
                    exchange=ex.id, method=method, symbol=symbol,
                ) from exc
            delay = min(_MAX_DELAY, backoff * (2**attempt)) * random.uniform(0.5, 1.5)
            if delay > 0:
                _sleep(delay)
            attempt += 1
        except ccxt.BaseError as exc:
            raise FetchError(
                f"{where} failed: {type(exc).__name__}: {exc}; check the symbol and dates, pages fetched so far are cached",
                exchange=ex.id, method=method, symbol=symbol,
            ) from exc


# -- converters (pure) -------------------------------------------------------------------------------


def ohlcv_rows(rows: Sequence[Sequence[Any]], columns: int = 6) -> np.ndarray:
    """ccxt OHLCV lists ``[ts, open, high, low, close, volume]`` as a float array (None becomes NaN).

    Examples
    --------
    >>> ohlcv_rows([[1712738460000, 71481.9, 71481.9, 71481.9, 71481.9, 0.002]]).shape
    (1, 6)
    """
    if len(rows) == 0:
        return np.empty((0, columns), dtype=np.float64)
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([[np.nan if v is None else float(v) for v in r[:columns]] for r in rows], dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < columns:
        raise DataError(f"OHLCV rows must have {columns} fields [timestamp, open, high, low, close, volume], got shape {arr.shape}")
    return arr[:, :columns]


def _records(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> np.ndarray:
    out = []
    for r in rows:
        ts = r.get("timestamp")
        if ts is None:
            continue
        out.append([float(ts)] + [np.nan if r.get(f) is None else float(r[f]) for f in fields])
    return np.asarray(out, dtype=np.float64).reshape(-1, 1 + len(fields))


def _page_array(series: str, page: Any) -> np.ndarray:
    if series == "ohlcv":
        return ohlcv_rows(page, 6)
    if series == "mark":
        return ohlcv_rows(page, 5)
    if series == "open_interest":
        return _records(page, ("openInterestAmount", "openInterestValue"))
    if series == "funding":
        return _records(page, ("fundingRate",))
    if series == "long_short":
        return _records(page, ("longShortRatio",))
    raise DataError(f"unknown series {series!r}; one of {list(SERIES)}")


def _rows_frame(series: str, arr: np.ndarray) -> pd.DataFrame:
    data: dict[str, np.ndarray] = {"timestamp": arr[:, 0].astype(np.int64)}
    for i, col in enumerate(_COLUMNS[series], start=1):
        data[col] = arr[:, i]
    return pd.DataFrame(data)


def _empty(series: str) -> pd.DataFrame:
    return _rows_frame(series, np.empty((0, 1 + len(_COLUMNS[series]))))


def to_market_frame(
    ohlcv: pd.DataFrame | np.ndarray | Sequence[Sequence[Any]],
    *,
    timeframe: str,
    open_interest: pd.DataFrame | None = None,
    funding: pd.DataFrame | None = None,
    mark: pd.DataFrame | None = None,
    long_short: pd.DataFrame | None = None,
    contract_size: float = 1.0,
    inverse: bool = False,
    oi_period: str | None = None,
) -> pd.DataFrame:
    """Build a validated market frame from ccxt rows (the one converter into the schema).

    ``ohlcv`` is ccxt's ``[[ts, open, high, low, close, volume], ...]`` (or a frame with a ``timestamp``
    column in ms); the other series are frames with a ``timestamp`` column as cached by
    :func:`fetch_series`. Alignment to the candle grid (a candle is labelled by its open time ``t`` and
    closes at ``t + timeframe``):

    * ``oi_usd``: the last open-interest snapshot at or before the candle's close, if it is at most one
      candle or one open-interest period (``oi_period``, else inferred from the data) old, else NaN (the model carries open interest forward). USD is
      ``openInterestValue`` where the exchange gives it, else contracts x contract size x the price
      (the close of the candle at the snapshot's time); for inverse contracts contracts x contract size.
    * ``funding_rate``: the last settled rate at or before the candle's close (:func:`fetch_market_data`
      looks back 24 hours before ``start`` for it; NaN where none is found).
    * ``mark_close, mark_high, mark_low``: the mark-price candle with the same open time; a missing mark
      candle is filled from the traded candle (``close, high, low``), and the number filled is in
      ``df.attrs["mark_filled"]``.
    * ``long_short_ratio`` (accounts long / short), as-of like open interest.

    Candles the exchange did not return are not invented: the index can have gaps.

    Examples
    --------
    >>> rows = [[1712738460000, 71481.9, 71481.9, 71481.9, 71481.9, 0.002],
    ...         [1712738520000, 71471.0, 71471.0, 70459.4, 70459.4, 0.12]]
    >>> oi = pd.DataFrame({"timestamp": [1712738520000], "oi_amount": [80000.0], "oi_value": [float("nan")]})
    >>> df = to_market_frame(rows, timeframe="1m", open_interest=oi)
    >>> df["oi_usd"].tolist()
    [5718552000.0, 5718552000.0]
    """
    step = timeframe_ms(timeframe)
    if isinstance(ohlcv, pd.DataFrame):
        base = ohlcv[["timestamp", *_COLUMNS["ohlcv"]]].to_numpy(dtype=np.float64)
    else:
        base = ohlcv_rows(ohlcv)
    if len(base) == 0:
        raise DataError("no candles: the exchange returned nothing for this symbol and period")
    base = base[~np.isnan(base[:, 1:5]).any(axis=1)]
    ts = base[:, 0].astype(np.int64)
    order = np.argsort(ts, kind="stable")
    ts_sorted = ts[order]
    keep = np.ones(len(ts_sorted), dtype=bool)
    keep[:-1] = ts_sorted[1:] != ts_sorted[:-1]
    base = base[order[keep]]
    ts = base[:, 0].astype(np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True), name="time").as_unit("ns")
    volume = base[:, 5]
    volume = np.where(np.isnan(volume), 0.0, volume)
    out = pd.DataFrame(
        {"open": base[:, 1], "high": base[:, 2], "low": base[:, 3], "close": base[:, 4], "volume": volume}, index=index
    )
    close_time = ts + step

    def asof(frame: pd.DataFrame, col: str, tolerance: int | None) -> np.ndarray:
        t = frame["timestamp"].to_numpy(dtype=np.int64)
        v = frame[col].to_numpy(dtype=np.float64)
        ok = ~np.isnan(v)
        t, v = t[ok], v[ok]
        if len(t) == 0:
            return np.full(len(close_time), np.nan)
        o = np.argsort(t, kind="stable")
        t, v = t[o], v[o]
        pos = np.searchsorted(t, close_time, side="right") - 1
        res = np.where(pos >= 0, v[np.clip(pos, 0, None)], np.nan)
        if tolerance is not None:
            age = close_time - np.where(pos >= 0, t[np.clip(pos, 0, None)], 0)
            res = np.where((pos >= 0) & (age <= tolerance), res, np.nan)
        return res

    if open_interest is not None and len(open_interest):
        oi = open_interest.copy()
        t = oi["timestamp"].to_numpy(dtype=np.int64)
        value = oi["oi_value"].to_numpy(dtype=np.float64)
        amount = oi["oi_amount"].to_numpy(dtype=np.float64) * float(contract_size or 1.0)
        if inverse:
            derived = amount
        else:
            # price at the snapshot: close of the candle that ended at or before it, else the next open
            pos = np.searchsorted(close_time, t, side="right") - 1
            price = np.where(pos >= 0, base[np.clip(pos, 0, None), 4], base[np.clip(pos + 1, 0, len(base) - 1), 1])
            derived = amount * price
        oi["usd"] = np.where(np.isfinite(value) & (value > 0), value, derived)
        oi.loc[~(oi["usd"] > 0), "usd"] = np.nan
        spacing = timeframe_ms(oi_period) if oi_period else (int(np.median(np.diff(np.sort(t)))) if len(t) > 1 else step)
        out["oi_usd"] = asof(oi, "usd", max(step, spacing))
    if funding is not None and len(funding):
        out["funding_rate"] = asof(funding, "funding_rate", None)
    if mark is not None and len(mark):
        m = mark.set_index("timestamp")
        m = m[~m.index.duplicated(keep="last")].reindex(ts)
        filled = int(m["close"].isna().sum())
        mc = np.where(m["close"].isna(), out["close"].to_numpy(), m["close"].to_numpy())
        mh = np.where(m["close"].isna(), out["high"].to_numpy(), m["high"].to_numpy())
        ml = np.where(m["close"].isna(), out["low"].to_numpy(), m["low"].to_numpy())
        out["mark_close"] = mc
        out["mark_high"] = np.maximum(mh, mc)
        out["mark_low"] = np.minimum(ml, mc)
        out.attrs["mark_filled"] = filled
    if long_short is not None and len(long_short):
        t = long_short["timestamp"].to_numpy(dtype=np.int64)
        spacing = timeframe_ms(oi_period) if oi_period else (int(np.median(np.diff(np.sort(t)))) if len(t) > 1 else step)
        out["long_short_ratio"] = asof(long_short, "long_short_ratio", max(step, spacing))
    attrs = dict(out.attrs)
    checked = validate_market(out)
    checked.attrs.update(attrs)
    return checked


# -- pagination --------------------------------------------------------------------------------------


def _progress_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=max(total, 0), desc=desc, unit="row", leave=False)


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


def fetch_series(
    exchange: Any,
    symbol: str,
    series: str,
    timeframe: str = "1h",
    *,
    start: Any,
    end: Any = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool = True,
    retries: int = 5,
    backoff: float = 1.0,
) -> pd.DataFrame:
    """Rows of one series (``ohlcv``, ``mark``, ``open_interest``, ``funding``, ``long_short``) from cache and exchange.

    Returns a frame with an int64 ``timestamp`` column (epoch ms) and the series' value columns, for
    ``start <= timestamp < end``: ``open, high, low, close, volume`` (ohlcv), ``open, high, low, close``
    (mark), ``oi_amount`` (base units) and ``oi_value`` (USD, NaN where the exchange gives only
    contracts) for open interest, ``funding_rate``, ``long_short_ratio``. Only ranges the cache does not cover are requested. See
    :func:`fetch_market_data` for the parameters.
    """
    if series not in SERIES:
        raise DataError(f"unknown series {series!r}; one of {list(SERIES)}")
    first = _to_ms(start, "start")
    last = (_to_ms(end, "end") if end is not None else _now_ms()) - 1
    if last < first:
        raise DataError(f"end must be after start, got start={_iso(first)}, end={_iso(last + 1)}")
    ex_id = _exchange_id(exchange)
    ex = exchange if not isinstance(exchange, str) else None
    period, spacing, limit = _series_plan(ex if ex is not None else _IdOnly(ex_id), series, timeframe)
    if series in ("ohlcv", "mark"):
        first = -(-first // spacing) * spacing  # candles opening at or after start
    # windows end just before a slot boundary, so that exchanges' inclusive/exclusive bounds agree
    last_slot = -(-(last + 1) // spacing) * spacing - 1
    settled = _settled_before(series, spacing, _now_ms())
    last_final = min(last_slot, settled)

    from liqtools.data.cache import SeriesCache, cache_root, missing_ranges

    cache = None if cache_dir is False else SeriesCache(cache_root(cache_dir), ex_id, symbol, period, series)
    if cache is None:
        rows = _download(exchange, symbol, series, period, spacing, limit, [(first, last_final)], None,
                         progress=progress, retries=retries, backoff=backoff)
    else:
        with cache.lock():
            cached, covered = cache.read()
            gaps = missing_ranges(covered, first, last_final) if last_final >= first else []
            if gaps:
                try:
                    _download(exchange, symbol, series, period, spacing, limit, gaps, cache,
                              progress=progress, retries=retries, backoff=backoff)
                finally:
                    cache.compact()
                cached, covered = cache.read()
            rows = cached
    if len(rows) == 0:
        return _empty(series)
    t = rows["timestamp"].to_numpy()
    return rows[(t >= first) & (t <= min(last, last_final))].reset_index(drop=True)


class _IdOnly:
    """Stands in for an exchange instance where only the id is needed (planning before ccxt loads)."""

    def __init__(self, ex_id: str):
        self.id = ex_id
        self.features = {}


def _download(
    exchange: Any,
    symbol: str,
    series: str,
    period: str,
    spacing: int,
    limit: int,
    gaps: list[tuple[int, int]],
    cache: Any,
    *,
    progress: bool,
    retries: int,
    backoff: float,
) -> pd.DataFrame:
    """Fetch the inclusive ranges ``gaps`` page by page; persist pages to ``cache`` (if any)."""
    ex = _resolve_exchange(exchange)
    method = _METHODS[series]
    if not ex.has.get(method if series != "mark" else "fetchMarkOHLCV") and not (
        series == "mark" and ex.has.get("fetchOHLCV")
    ):
        raise _unsupported(ex.id, method, symbol)
    pending: list[np.ndarray] = []
    pending_cover: list[tuple[int, int]] = []
    collected: list[np.ndarray] = []
    last_flush = time.monotonic()
    total = sum((b - a) // spacing + 1 for a, b in gaps)
    bar = _progress_bar(progress, total, f"{ex.id} {symbol} {series}")

    def flush(force: bool = False) -> None:
        nonlocal last_flush, pending, pending_cover
        if cache is None or not (pending or pending_cover):
            return
        if not force and time.monotonic() - last_flush < FLUSH_SECONDS:
            return
        arr = np.concatenate(pending) if pending else np.empty((0, 1 + len(_COLUMNS[series])))
        cache.append(_rows_frame(series, arr), pending_cover)
        pending, pending_cover = [], []
        last_flush = time.monotonic()

    scale: tuple[float, bool] | None = None

    def fetch(a: int, b: int) -> np.ndarray:
        nonlocal scale
        page = _call(ex, method, symbol, lambda: _request(ex, series, symbol, period, a, b, limit),
                     retries=retries, backoff=backoff)
        arr = _page_array(series, page or [])
        if series == "open_interest" and len(arr):
            if scale is None:
                market = ex.market(symbol)
                scale = (float(market.get("contractSize") or 1.0), bool(market.get("inverse")))
            # cache open interest in base units (linear) or USD (inverse), whatever the contract size
            size, inverse = scale
            arr[:, 1] *= size
            if inverse:
                arr[:, 2] = np.where(np.isnan(arr[:, 2]), arr[:, 1], arr[:, 2])
                arr[:, 1] = np.nan
        return arr

    def keep(arr: np.ndarray) -> None:
        # rows outside the request window are valid data too: those inside the gap are kept
        if len(arr):
            pending.append(arr)
            collected.append(arr)

    try:
        for g_first, g_last in gaps:
            a = g_first
            while a <= g_last:
                b = min(a + limit * spacing - 1, g_last)
                arr = fetch(a, b)
                t = arr[:, 0] if len(arr) else np.empty(0)
                inside = arr[(t >= a) & (t <= b)] if len(arr) else arr
                keep(arr[(t >= g_first) & (t <= g_last)] if len(arr) else arr)
                if len(inside) >= limit:
                    # a full page may have been cut short: resume at the slot after its last row
                    top = int(inside[:, 0].max())
                    nxt = (top // spacing + 1) * spacing
                    pending_cover.append((a, nxt - 1))
                elif len(inside) > 0 or b >= g_last:
                    pending_cover.append((a, b))
                    nxt = b + 1
                else:
                    # empty window: is there anything at all up to the end of the gap?
                    probe = fetch(b + 1, g_last)
                    pt = probe[:, 0] if len(probe) else np.empty(0)
                    p_inside = probe[(pt >= b + 1) & (pt <= g_last)] if len(probe) else probe
                    keep(p_inside)
                    if len(p_inside) == 0:
                        pending_cover.append((a, g_last))
                        nxt = g_last + 1
                    elif len(p_inside) < limit:
                        pending_cover.append((a, g_last))
                        nxt = g_last + 1
                    else:
                        pending_cover.append((a, b))
                        nxt = b + 1
                if bar is not None:
                    bar.update(min(nxt, g_last + 1) // spacing - a // spacing)
                if nxt <= a:  # the exchange ignored 'since': stop instead of looping
                    raise FetchError(
                        f"{ex.id} {method} for {symbol} did not advance past {_iso(a)}; report this exchange to liqtools",
                        exchange=ex.id, method=method, symbol=symbol,
                    )
                a = nxt
                flush()
    finally:
        flush(force=True)
        if bar is not None:
            bar.close()
    arr = np.concatenate(collected) if collected else np.empty((0, 1 + len(_COLUMNS[series])))
    from liqtools.data.cache import _normalise

    return _normalise(_rows_frame(series, arr))


# -- public entry points -----------------------------------------------------------------------------


def _unsupported(ex_id: str, method: str, symbol: str | None) -> NotSupportedError:
    alternatives = {
        "fetchLiquidations": (
            "Binance publishes market-wide liquidations only as a websocket stream (at most one order per symbol "
            "per second) and, for some periods, as daily liquidationSnapshot files: use "
            "liqtools.data.fetch_binance_archive('liquidationSnapshot', ...) or read_binance_liquidations(path); "
            "over REST, ccxt offers fetchLiquidations on bitfinex, deribit, gate and htx"
            if ex_id.startswith("binance")
            else "ccxt offers market-wide liquidations over REST on bitfinex, deribit, gate and htx"
        ),
        "fetchLeverageTiers": (
            "Binance serves leverage brackets only with an API key: pass a ccxt instance configured with keys, or use "
            "the bundled dated table liqtools.BINANCE_BTCUSDT_BRACKETS"
            if ex_id.startswith("binance")
            else "use a dated bracket table such as liqtools.BINANCE_BTCUSDT_BRACKETS"
        ),
        "fetchOpenInterestHistory": "ccxt offers open-interest history on binanceusdm, bybit, okx, gate, htx, kucoinfutures and others",
        "fetchFundingRateHistory": "leave 'funding' out of include=, or use a perpetual-swap market",
        "fetchLongShortRatioHistory": "ccxt offers long/short ratios on binanceusdm, bybit, okx and bitget",
        "fetchMarkOHLCV": "leave 'mark' out of include=",
    }
    what = alternatives.get(method, "choose another exchange")
    return NotSupportedError(
        f"{ex_id} does not offer {method} through ccxt" + (f" (symbol {symbol})" if symbol else "") + f"; {what}",
        exchange=ex_id, method=method, symbol=symbol,
    )


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
        are aligned to the candle grid and how gaps are filled).

    Raises
    ------
    FetchError
        A request failed after retries (the message names exchange, method and symbol; fetched pages stay cached).
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
    end_ms = _to_ms(end, "end") if end is not None else _now_ms()
    if end_ms <= first:
        raise DataError(f"end must be after start, got start={_iso(first)}, end={_iso(end_ms)}")
    ex_id = _exchange_id(exchange)
    common = dict(start=first, end=end_ms, cache_dir=cache_dir, progress=progress, retries=retries, backoff=backoff)

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
    return to_market_frame(
        parts["ohlcv"],
        oi_period=_series_plan(ex_plan, "open_interest", timeframe)[0],
        timeframe=timeframe,
        open_interest=parts.get("open_interest"),
        funding=parts.get("funding"),
        mark=parts.get("mark"),
        long_short=parts.get("long_short"),
    )


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
    days = _VENUES.get(ex_id, _Venue()).oi_history_days
    if days is None:
        return fetch_series(exchange, symbol, "open_interest", timeframe, start=start, end=end, **common)
    earliest = _now_ms() - days * 24 * _HOUR + _HOUR  # an hour of slack at the edge
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
        f"is NaN. Use source='auto' to take the older part from Binance's public archive (daily metrics files), "
        "or liqtools.data.fetch_binance_archive('metrics', ...).",
        UserWarning,
        stacklevel=3,
    )
    if end <= earliest:
        return _empty("open_interest")
    return fetch_series(exchange, symbol, "open_interest", timeframe, start=earliest, end=end, **common)


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
    ex = _resolve_exchange(exchange)
    if not ex.has.get("fetchLiquidations"):
        raise _unsupported(ex.id, "fetchLiquidations", symbol)
    first = _to_ms(start, "start")
    last = (_to_ms(end, "end") if end is not None else _now_ms()) - 1
    rows: list[dict[str, Any]] = []
    since = first
    bar = _progress_bar(progress, last - first, f"{ex.id} {symbol} liquidations")
    try:
        while since <= last:
            page = _call(ex, "fetchLiquidations", symbol,
                         lambda since=since: ex.fetch_liquidations(symbol, since, limit, {"until": last}),
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


def fetch_leverage_tiers(exchange: Any, symbol: str, *, retries: int = 5, backoff: float = 1.0) -> pd.DataFrame:
    """Leverage brackets (maintenance margin tiers) where the exchange publishes them without a key.

    Returns one row per tier: ``tier, min_notional, max_notional, maintenance_margin_rate, max_leverage``.

    Raises
    ------
    NotSupportedError
        Where ccxt has no ``fetchLeverageTiers`` for the exchange, or the exchange needs an API key
        (Binance: the message names the bundled table ``liqtools.BINANCE_BTCUSDT_BRACKETS``).
    """
    ex = _resolve_exchange(exchange)
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
