"""Binance's public data archive (data.binance.vision): readers for its daily files and a downloader.

Files (USD-M futures, one zip with one CSV per UTC day), under
``<base>/data/futures/um/daily/<kind>/<SYMBOL>/[<interval>/]<SYMBOL>-<interval or kind>-<YYYY-MM-DD>.zip``:

* ``klines`` (and ``markPriceKlines``): ``open_time, open, high, low, close, volume, close_time,
  quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore`` (older files have no header);
* ``metrics``: 5-minute ``create_time, symbol, sum_open_interest`` (contracts = BTC for BTCUSDT),
  ``sum_open_interest_value`` (USD), ``count_toptrader_long_short_ratio``,
  ``sum_toptrader_long_short_ratio``, ``count_long_short_ratio``, ``sum_taker_long_short_vol_ratio``;
* ``liquidationSnapshot`` (published for some periods only): ``time, side, order_type, time_in_force,
  original_quantity, price, average_price, order_status, last_fill_quantity, accumulated_fill_quantity``.

The archive is where Binance's history lives beyond the REST windows (open interest over REST reaches
back about 30 days). Downloads are checked against Binance's ``.CHECKSUM`` files (SHA-256), kept in the
liqtools cache (written atomically), and a day the archive does not have is remembered once it is old
enough not to appear later, so a repeated call makes no request. Nothing that is not a whole, valid
zip is cached: a body cut short of its ``Content-Length`` is retried like any transient fault, and a
body that is not a valid zip, or fails the published checksum, is retried and never kept.

The readers are in :mod:`liqtools.data.archive.readers`, the downloader in
:mod:`liqtools.data.archive.download`; ``_sleep`` (waits between retries) is looked up here at call time,
so tests replace it on this package.
"""

from __future__ import annotations

import time

from liqtools.data.archive.download import binance_archive_url, fetch_binance_archive, fetch_binance_market
from liqtools.data.archive.readers import (
    ARCHIVE_URL,
    Kind,
    _csv_bytes,
    read_binance_klines,
    read_binance_liquidations,
    read_binance_metrics,
)

__all__ = [
    "ARCHIVE_URL",
    "Kind",
    "binance_archive_url",
    "fetch_binance_archive",
    "fetch_binance_market",
    "read_binance_klines",
    "read_binance_liquidations",
    "read_binance_metrics",
]


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


_REEXPORTED = (_csv_bytes,)
