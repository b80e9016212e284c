"""liqtools: see and measure leverage liquidations in crypto-derivatives markets.

Everything here is an estimate from public data (candles and open interest): exchanges do not publish
where their users' liquidation prices sit. The model behind the numbers is stated in MODEL.md and in
the docstrings; read its assumptions before trusting a figure.

Importing liqtools loads numpy and pandas only; bokeh, ipywidgets, statsmodels and ccxt load when the
functions that need them are called.
"""

from liqtools.analysis import (
    BINANCE_BTCUSDT_BRACKETS,
    BINANCE_BTCUSDT_BRACKETS_DATE,
    CascadeResult,
    ClusterView,
    Heatmap,
    LeverageProfile,
    asymmetry,
    bracket_for,
    clusters_at,
    find_clusters,
    liquidation_heatmap,
    liquidation_map,
    liquidation_price,
    nice_bin_size,
    position_liquidation_price,
    simulate_cascade,
    synthetic_levels,
    tipping_point,
)
from liqtools.data import load_sample, load_sample_depth, load_sample_liquidations
from liqtools.errors import DataError, LiqtoolsError
from liqtools.schema import validate_market

__version__ = "0.1.0"

__all__ = [
    "BINANCE_BTCUSDT_BRACKETS",
    "BINANCE_BTCUSDT_BRACKETS_DATE",
    "CascadeResult",
    "ClusterView",
    "DataError",
    "Heatmap",
    "LeverageProfile",
    "LiqtoolsError",
    "asymmetry",
    "bracket_for",
    "clusters_at",
    "find_clusters",
    "liquidation_heatmap",
    "liquidation_map",
    "liquidation_price",
    "load_sample",
    "load_sample_depth",
    "load_sample_liquidations",
    "nice_bin_size",
    "position_liquidation_price",
    "simulate_cascade",
    "synthetic_levels",
    "tipping_point",
    "validate_market",
]
