"""The real samples bundled with liqtools (offline data for every example, test and notebook).

Three markets, chosen by name (:func:`sample_names` lists them); ``"btc"`` is the default everywhere.

* ``"btc"``: the public-domain (Unlicense) data of the GitHub repository ``0xknxwledge/group-m-finm33150-final``
  (folder ``data/``, commit 64385d37), hourly Bitcoin perpetual-futures data collected from exchanges'
  public APIs; only BTC rows are kept, values unchanged (rebuilt by ``scripts/make_sample.py``).
* ``"eth-2024"``, ``"sol-2024"``: Binance ETHUSDT and SOLUSDT perpetuals, hourly, 2024-06-20 03:00 to
  2024-08-20 03:00 UTC (the 2024-08-05 crash inside), from the GitHub repository
  ``denizyts/Coinalyze-Backtester`` (folder ``src/csvFolder/``, commit b980ee94), MIT licence,
  "Copyright (c) 2024 deniz"; the notice ships as ``samples/LICENSE-binance-2024-summer.txt`` (rebuilt by
  ``scripts/make_binance_2024_samples.py``, which converts coin amounts to USD and drops repeated rows).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["load_sample", "load_sample_depth", "load_sample_liquidations", "sample_depth_usd", "sample_names"]

_SOURCE = "0xknxwledge/group-m-finm33150-final (Unlicense, public domain)"
_SOURCE_2024 = (
    "denizyts/Coinalyze-Backtester, folder src/csvFolder/, commit b980ee94 (MIT licence, "
    "Copyright (c) 2024 deniz; notice in liqtools/data/samples/LICENSE-binance-2024-summer.txt)"
)

# name -> (market file, liquidations file, one-line description)
_SAMPLES: dict[str, tuple[str, str, str]] = {
    "btc": (
        "btc_1h.parquet",
        "btc_liquidations_1d.parquet",
        (
            "Binance BTCUSDT perp hourly candles + Hyperliquid open interest, 2025-12-07 to 2026-03-05; "
            "daily Hyperliquid liquidations (Unlicense)"
        ),
    ),
    "eth-2024": (
        "eth_2024_1h.parquet",
        "eth_2024_liquidations_1h.parquet",
        (
            "Binance ETHUSDT perp hourly candles, taker buys, open interest, long/short ratio and "
            "liquidations, 2024-06-20 to 2024-08-20 (MIT)"
        ),
    ),
    "sol-2024": (
        "sol_2024_1h.parquet",
        "sol_2024_liquidations_1h.parquet",
        (
            "Binance SOLUSDT perp hourly candles, taker buys, open interest, long/short ratio and "
            "liquidations, 2024-06-20 to 2024-08-20 (MIT)"
        ),
    ),
}


@cache
def _read(name: str) -> pd.DataFrame:
    with resources.files("liqtools.data").joinpath("samples", name).open("rb") as fh:
        return pd.read_parquet(fh)


def _files(name: str) -> tuple[str, str, str]:
    try:
        return _SAMPLES[name]
    except (KeyError, TypeError):
        raise DataError(f"unknown sample {name!r}; available: {list(_SAMPLES)}") from None


def sample_names() -> dict[str, str]:
    """The bundled samples: name -> one-line description, the default ``"btc"`` first.

    Examples
    --------
    >>> list(sample_names())
    ['btc', 'eth-2024', 'sol-2024']
    >>> sample_names()["sol-2024"][:24]
    'Binance SOLUSDT perp hou'
    """
    return {name: spec[2] for name, spec in _SAMPLES.items()}


def load_sample(name: str = "btc") -> pd.DataFrame:
    """A bundled market frame (see :mod:`liqtools.schema`): ``"btc"`` (default), ``"eth-2024"`` or ``"sol-2024"``.

    **"btc"**: Binance BTCUSDT perpetual hourly candles joined with Hyperliquid BTC open interest.
    2,112 hourly candles from 2025-12-07 11:00 to 2026-03-05 10:00 UTC: a short squeeze in mid-January
    2026, a crash in early February, and an end near $73.4k. Columns ``open, high, low, close, volume``
    (Binance, volume in BTC), ``oi_usd`` (Hyperliquid open interest in USD; NaN during Hyperliquid's
    18-hour data gap on 2026-01-19, which the model carries forward) and ``funding_rate`` (the last
    settled 8-hourly Binance funding rate, as a fraction).
    Caveats: the open interest is Hyperliquid's while the candles are Binance's (the prices differ by a
    few basis points), so the model sees one venue's positioning through another venue's prices; there
    is no taker-buy volume (``split="taker"`` is unavailable). Source: ``{source}``.

    **"eth-2024"**, **"sol-2024"**: Binance ETHUSDT / SOLUSDT perpetuals, hourly candles labelled by their
    UTC open, 2024-06-20 03:00 to 2024-08-20 03:00 (the 2024-08-05 crash inside), everything from one
    venue. Columns ``open, high, low, close`` (USDT), ``volume`` and ``taker_buy_volume`` in the base coin
    (ETH or SOL, as the BTC sample's volume is in BTC), ``oi_usd`` (the hour's closing open interest in
    coin times the hour's close), and beyond the schema ``long_short_ratio`` (Binance's long / short
    account ratio; NaN where the source skips the hour), ``trades`` and ``taker_buy_trades`` (counts).
    No funding rate. Source: ``{source_2024}``.

    Quirks of the source, handled by the build script: it repeats some hours as identical rows (dropped)
    and skips as many. ETH: 1,465 candles, none missing; long/short ratio 2 repeats dropped, 2 hours
    missing (2024-07-19 13:00 and 15:00: NaN). SOL: candles and open interest 2 repeats dropped each,
    2 hours missing (2024-07-19 15:00 and 16:00, absent, so the frame has **1,463 rows** and one 3-hour
    step); long/short ratio 4 repeats dropped, 4 hours missing (2 of them the candle gap, NaN at
    2024-07-19 12:00 and 13:00).

    Returns a fresh copy each call.

    Raises
    ------
    DataError
        for an unknown name, listing the available ones.

    Examples
    --------
    >>> df = load_sample()
    >>> len(df), str(df.index[0]), list(df.columns)
    (2112, '2025-12-07 11:00:00+00:00', ['open', 'high', 'low', 'close', 'volume', 'oi_usd', 'funding_rate'])
    >>> eth = load_sample("eth-2024")
    >>> eth.shape, str(eth.index[0]), str(eth.index[-1])
    ((1465, 10), '2024-06-20 03:00:00+00:00', '2024-08-20 03:00:00+00:00')
    >>> list(eth.columns[5:])
    ['taker_buy_volume', 'oi_usd', 'long_short_ratio', 'trades', 'taker_buy_trades']
    >>> len(load_sample("sol-2024"))
    1463
    """
    market_file = _files(name)[0]
    require = ("oi_usd",) if name == "btc" else ("taker_buy_volume", "oi_usd")
    return validate_market(_read(market_file), require=require)


def load_sample_liquidations(name: str = "btc") -> pd.DataFrame:
    """Realized liquidations of a bundled sample, in USD, by side: columns ``long_usd, short_usd`` first.

    **"btc"** (default): realized BTC liquidations on Hyperliquid per UTC day, 2025-12-07 to 2026-01-25
    (50 days). Columns ``long_usd, short_usd, total_usd, liq_count``, indexed by the UTC day. Daily
    totals, not individual orders; ``total_usd`` is the source's own total, which exceeds
    ``long_usd + short_usd`` by up to 14% on some days (liquidations it did not attribute to a side); a
    few days are nearly empty (e.g. 2026-01-24), which may be gaps in collection rather than calm
    markets. Source: ``{source}``.

    **"eth-2024"**, **"sol-2024"**: realized liquidations on Binance per UTC hour (indexed by the hour's
    start), ``long_usd`` (longs liquidated) and ``short_usd``: the source's coin amounts times that hour's
    close. Hours the source skips are **absent, not zero**: their liquidations are unknown. The source
    repeats 32 (ETH) and 22 (SOL) hours as identical rows, dropped, and skips as many, so the frames hold
    1,433 (ETH) and 1,443 (SOL) of the 1,465 hours; every hour they hold has a candle in
    :func:`load_sample`. Source: ``{source_2024}``.

    Raises
    ------
    DataError
        for an unknown name, listing the available ones.

    Examples
    --------
    >>> liq = load_sample_liquidations()
    >>> len(liq), list(liq.columns[:2])
    (50, ['long_usd', 'short_usd'])
    >>> eth = load_sample_liquidations("eth-2024")
    >>> eth.shape, list(eth.columns), str(eth.index[0])
    ((1433, 2), ['long_usd', 'short_usd'], '2024-06-20 03:00:00+00:00')
    >>> pd.Timestamp("2024-06-22 04:00", tz="UTC") in eth.index  # skipped by the source: unknown
    False
    """
    return _read(_files(name)[1]).copy()


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
    _f.__doc__ = (_f.__doc__ or "").replace("{source}", _SOURCE).replace("{source_2024}", _SOURCE_2024)
