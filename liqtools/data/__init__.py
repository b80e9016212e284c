"""Data in: the bundled samples (and an illustrative set of positions), the documented order-book depth per market, local files, exchanges (through ccxt), Binance's archive, and the disk cache.

The exchange, archive and cache functions load on first use (``import liqtools`` never imports ccxt).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from liqtools.data.depth import Depth, depth_table, market_depth
from liqtools.data.files import read_market
from liqtools.data.positions_sample import sample_positions
from liqtools.data.sample import (
    load_sample,
    load_sample_depth,
    load_sample_liquidations,
    sample_depth_usd,
    sample_names,
)

_LAZY = {
    "fetch_market_data": "liqtools.data.exchange",
    "fetch_series": "liqtools.data.exchange",
    "fetch_liquidations": "liqtools.data.exchange",
    "fetch_leverage_tiers": "liqtools.data.exchange",
    "to_market_frame": "liqtools.data.exchange",
    "read_binance_klines": "liqtools.data.archive",
    "read_binance_metrics": "liqtools.data.archive",
    "read_binance_liquidations": "liqtools.data.archive",
    "fetch_binance_archive": "liqtools.data.archive",
    "fetch_binance_market": "liqtools.data.archive",
    "fetch_positions": "liqtools.data.exchange.positions",
    "hyperliquid_leaderboard": "liqtools.data.exchange.leaderboard",
    "SeriesCache": "liqtools.data.cache",
    "cache_root": "liqtools.data.cache",
}

__all__ = [  # noqa: PLE0604 (*_LAZY: the lazy names, all strings)
    "Depth",
    "depth_table",
    "market_depth",
    "read_market",
    "load_sample",
    "load_sample_depth",
    "load_sample_liquidations",
    "sample_depth_usd",
    "sample_names",
    "sample_positions",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'liqtools.data' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
