"""Market frames from live exchanges through ccxt: one converter, one paginator, one retry, checked pages.

ccxt is imported inside the functions that need it (``import liqtools`` stays light). The modules:

* :mod:`~liqtools.data.exchange.venues`: page limits and periods per venue, how one page is requested;
* :mod:`~liqtools.data.exchange.retry`: ccxt instances, retries with backoff, error translation, and the
  fast "no network connection" failure of a first request;
* :mod:`~liqtools.data.exchange.pages`: the checks every page passes before it is cached, and the grid;
* :mod:`~liqtools.data.exchange.pager`: :func:`fetch_series`, pagination into the disk cache
  (:mod:`liqtools.data.cache`), with gaps recorded with their reason;
* :mod:`~liqtools.data.exchange.convert`: :func:`to_market_frame`, the one converter into the schema;
* :mod:`~liqtools.data.exchange.market`: :func:`fetch_market_data`;
* :mod:`~liqtools.data.exchange.extras`: :func:`fetch_liquidations`, :func:`fetch_leverage_tiers`.

The switches below are looked up here at call time by every module, so tests and benchmarks replace
them on this package: ``_now_ms`` (the clock), ``_sleep`` (waits between retries), ``FLUSH_SECONDS``,
``_VENUES`` and ``_resolve_exchange``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from liqtools.data.exchange.convert import _empty, _page_array, _rows_frame, ohlcv_rows, to_market_frame
from liqtools.data.exchange.extras import fetch_leverage_tiers, fetch_liquidations
from liqtools.data.exchange.market import FUNDING_LOOKBACK_MS, Source, fetch_market_data
from liqtools.data.exchange.pager import fetch_series
from liqtools.data.exchange.pages import PageError
from liqtools.data.exchange.retry import _call, _exchange_id, _new_exchange, _resolve_exchange, _unsupported
from liqtools.data.exchange.venues import (
    _VENUES,
    SERIES,
    Series,
    _epoch_ms,
    _iso,
    _series_plan,
    _to_ms,
    _Venue,
    timeframe_ms,
)

__all__ = [
    "SERIES",
    "PageError",
    "fetch_leverage_tiers",
    "fetch_liquidations",
    "fetch_market_data",
    "fetch_series",
    "ohlcv_rows",
    "timeframe_ms",
    "to_market_frame",
]

# Seconds between two writes of fetched pages to the cache (pages in between are kept in memory and
# written on any exit, normal or by exception); 0 writes every page.
FLUSH_SECONDS = 1.0
# Injected in tests so that retries do not wait and "now" is fixed.
_sleep: Callable[[float], None] = time.sleep


def _now_ms() -> int:
    return int(time.time() * 1000)


# re-exported for liqtools.data.archive, the benchmarks and tests
_REEXPORTED = (_empty, _page_array, _rows_frame, _call, _exchange_id, _new_exchange, _resolve_exchange, _unsupported,
               _VENUES, _Venue, _epoch_ms, _iso, _series_plan, _to_ms, FUNDING_LOOKBACK_MS, Source, Series)
