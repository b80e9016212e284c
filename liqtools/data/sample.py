"""The real sample bundled with liqtools (offline default for every example, test and notebook).

Source: the public-domain (Unlicense) data of the GitHub repository ``0xknxwledge/group-m-finm33150-final``
(folder ``data/``, commit 64385d37), hourly Bitcoin perpetual-futures data collected from exchanges'
public APIs; only BTC rows are kept, values unchanged (rebuilt by ``scripts/make_sample.py``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["load_sample", "load_sample_liquidations", "load_sample_depth", "sample_depth_usd"]

_SOURCE = "0xknxwledge/group-m-finm33150-final (Unlicense, public domain)"


@lru_cache(maxsize=None)
def _read(name: str) -> pd.DataFrame:
    with resources.files("liqtools.data").joinpath("samples", name).open("rb") as fh:
        return pd.read_parquet(fh)


def load_sample() -> pd.DataFrame:
    """Binance BTCUSDT perpetual hourly candles joined with Hyperliquid BTC open interest.

    2,112 hourly candles from 2025-12-07 11:00 to 2026-03-05 10:00 UTC: a short squeeze in mid-January
    2026, a crash in early February, and an end near $73.4k. Columns ``open, high, low, close, volume``
    (Binance, volume in BTC), ``oi_usd`` (Hyperliquid open interest in USD; NaN during Hyperliquid's
    18-hour data gap on 2026-01-19, which the model carries forward) and ``funding_rate`` (the last
    settled 8-hourly Binance funding rate, as a fraction).

    Caveats: the open interest is Hyperliquid's while the candles are Binance's (the prices differ by a
    few basis points), so the model sees one venue's positioning through another venue's prices; there
    is no taker-buy volume (``split="taker"`` is unavailable). Source: ``{source}``.

    Returns a fresh copy each call.

    Examples
    --------
    >>> df = load_sample()
    >>> len(df), str(df.index[0]), list(df.columns)
    (2112, '2025-12-07 11:00:00+00:00', ['open', 'high', 'low', 'close', 'volume', 'oi_usd', 'funding_rate'])
    """
    return validate_market(_read("btc_1h.parquet"), require=("oi_usd",))


def load_sample_liquidations() -> pd.DataFrame:
    """Realized BTC liquidations on Hyperliquid per UTC day, 2025-12-07 to 2026-01-25 (50 days).

    Columns ``long_usd, short_usd, total_usd, liq_count``, indexed by the UTC day. Daily totals, not
    individual orders; ``total_usd`` is the source's own total, which exceeds ``long_usd + short_usd`` by
    up to 14% on some days (liquidations it did not attribute to a side); a few days are nearly empty (e.g. 2026-01-24), which may be gaps in collection
    rather than calm markets. Source: ``{source}``.

    Examples
    --------
    >>> liq = load_sample_liquidations()
    >>> len(liq), list(liq.columns[:2])
    (50, ['long_usd', 'short_usd'])
    """
    return _read("btc_liquidations_1d.parquet").copy()


def load_sample_depth() -> pd.DataFrame:
    """One order-book depth snapshot (2026-03): ``coin, venue, bid_depth_usd, mid_price``.

    Hyperliquid and Lighter, for BTC, ETH, SOL and others. The source does not state the price band the
    bid depth was summed over; treat it as an order of magnitude for the USD a market sell can absorb.
    Source: ``{source}``.

    Examples
    --------
    >>> depth = load_sample_depth()
    >>> depth[depth["coin"] == "BTC"]["venue"].tolist()
    ['hyperliquid', 'lighter']
    """
    return _read("orderbook_depth.parquet").copy()


def sample_depth_usd(coin: str = "BTC", venue: str = "hyperliquid") -> float:
    """Default cascade depth for the sample: the bundled snapshot's bid depth (USD) for ``coin`` on ``venue``.

    Used as ``depth_usd``, the USD of market orders that move the price by 1%. That reading is an
    assumption (the source does not state the band its depth was summed over), and one snapshot from
    2026-03 stands in for every moment; Hyperliquid is the default because the sample's open interest
    is Hyperliquid's. Pass your own depth for anything beyond illustration.

    Examples
    --------
    >>> round(sample_depth_usd() / 1e6, 2)
    4.21
    """
    depth = load_sample_depth()
    row = depth[(depth["coin"] == coin) & (depth["venue"] == venue)]
    if row.empty:
        raise DataError(f"no depth for coin {coin!r} on venue {venue!r}; available: {sorted(set(zip(depth.coin, depth.venue)))}")
    return float(row["bid_depth_usd"].iloc[0])


for _f in (load_sample, load_sample_liquidations, load_sample_depth):
    _f.__doc__ = (_f.__doc__ or "").replace("{source}", _SOURCE)
