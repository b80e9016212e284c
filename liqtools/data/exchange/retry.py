"""ccxt instances, the one retry loop, and the translation of ccxt errors into liqtools errors.

A *session* spans one public call (:func:`~liqtools.data.exchange.fetch_market_data` and the series it
fetches). Until the exchange has answered once in a session, a connection error or a timeout means the
machine is offline (or the exchange unreachable): that fails at once with "no network connection to
<exchange>", instead of a minute of backoff. Once an answer has arrived, the same faults are retried.
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from liqtools.data.exchange.venues import _hooks
from liqtools.errors import DataError, FetchError, NotSupportedError

_MAX_DELAY = 60.0
_T = TypeVar("_T")


class _Session:
    answered = False


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("liqtools_fetch_session", default=None)


@contextmanager
def session() -> Iterator[_Session]:
    """The current fetch session, or a new one for the duration of the block."""
    current = _SESSION.get()
    if current is not None:
        yield current
        return
    token = _SESSION.set(_Session())
    try:
        yield _SESSION.get() or _Session()
    finally:
        _SESSION.reset(token)


def in_session(fn: Callable[..., _T]) -> Callable[..., _T]:
    """Run ``fn`` inside a fetch session (the caller's, if one is open)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        with session():
            return fn(*args, **kwargs)

    return wrapper


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


def _offline(exc: BaseException) -> bool:
    """A connection error or timeout: no answer came back (5xx, rate limits and DDoS pages are answers)."""
    import ccxt

    return isinstance(exc, ccxt.NetworkError) and not isinstance(
        exc, (ccxt.ExchangeNotAvailable, ccxt.DDoSProtection, ccxt.InvalidNonce)
    )


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
    state = _SESSION.get() or _Session()
    attempt = 0
    while True:
        try:
            if getattr(ex, "markets", None) is None:
                ex.load_markets()
            result = fn()
            state.answered = True
            return result
        except (ccxt.BadSymbol, ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended) as exc:
            hint = (
                "check the unified symbol (e.g. 'BTC/USDT:USDT' for the USDT perpetual; ex.load_markets() lists them)"
                if isinstance(exc, ccxt.BadSymbol)
                else "this endpoint needs an API key: pass a configured ccxt instance, or use public data"
            )
            raise FetchError(f"{where} failed: {exc}; {hint}", exchange=ex.id, method=method, symbol=symbol) from exc
        except ccxt.NotSupported as exc:
            raise NotSupportedError(
                f"{where}: not supported by this exchange in ccxt ({exc}); choose another exchange or leave this series out "
                "of include= (--include on the command line)",
                exchange=ex.id, method=method, symbol=symbol,
            ) from exc
        except transient as exc:
            if _offline(exc) and not state.answered:
                raise FetchError(
                    f"no network connection to {ex.id} ({type(exc).__name__} on the first request, {method}: {exc}); "
                    "check the internet connection or proxy and run again: nothing was downloaded, and ranges "
                    "already in the cache are read without a connection",
                    exchange=ex.id, method=method, symbol=symbol,
                ) from exc
            if not _offline(exc):
                state.answered = True  # a 5xx, a rate limit or a DDoS page: the exchange is reachable
            if attempt >= retries:
                raise FetchError(
                    f"{where} failed after {attempt + 1} attempts ({type(exc).__name__}: {exc}); the exchange may be down "
                    "or rate-limiting: pages fetched so far are cached, run the same command again later to resume "
                    "(from Python, retries= and backoff= allow more attempts)",
                    exchange=ex.id, method=method, symbol=symbol,
                ) from exc
            delay = min(_MAX_DELAY, backoff * (2**attempt)) * random.uniform(0.5, 1.5)
            if delay > 0:
                _hooks()._sleep(delay)
            attempt += 1
        except ccxt.BaseError as exc:
            raise FetchError(
                f"{where} failed: {type(exc).__name__}: {exc}; check the symbol and dates, pages fetched so far are cached",
                exchange=ex.id, method=method, symbol=symbol,
            ) from exc


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
        "fetchFundingRateHistory": "leave 'funding' out of include= (--include on the command line), or use a perpetual-swap market",
        "fetchLongShortRatioHistory": "ccxt offers long/short ratios on binanceusdm, bybit, okx and bitget",
        "fetchMarkOHLCV": "leave 'mark' out of include= (--include on the command line)",
    }
    what = alternatives.get(method, "choose another exchange")
    return NotSupportedError(
        f"{ex_id} does not offer {method} through ccxt" + (f" (symbol {symbol})" if symbol else "") + f"; {what}",
        exchange=ex_id, method=method, symbol=symbol,
    )
