"""liqtools: see and measure leverage liquidations in crypto-derivatives markets.

Everything here is an estimate from public data (candles and open interest): exchanges do not publish
where their users' liquidation prices sit. The model behind the numbers is stated in docs/model.md (in
the repository, with known answers) and in the docstrings; read its assumptions before trusting a figure.

Importing liqtools loads numpy and pandas only; bokeh, ipywidgets, statsmodels and ccxt load when the
functions that need them are called.
"""

from liqtools.analysis import (
    BINANCE_BTCUSDT_BRACKETS,
    BINANCE_BTCUSDT_BRACKETS_DATE,
    BenchmarkResult,
    Calibration,
    CascadeResult,
    ClusterView,
    EventStudy,
    Heatmap,
    LeverageProfile,
    MapComparison,
    Validation,
    asymmetry,
    benchmark,
    bracket_for,
    calibrate,
    cluster_distance,
    clusters_at,
    compare_maps,
    event_study,
    find_clusters,
    fit_profile,
    indicators,
    liquidation_heatmap,
    liquidation_map,
    liquidation_price,
    measured_levels,
    nice_bin_size,
    position_liquidation_price,
    realized_volatility,
    rsi,
    simulate_cascade,
    synthetic_levels,
    tipping_point,
    validate,
    velocity,
    volume_ratio,
)
from liqtools.data import load_sample, load_sample_depth, load_sample_liquidations, sample_names
from liqtools.errors import DataError, LiqtoolsError
from liqtools.schema import validate_market

__version__ = "0.1.0"

__all__ = [
    "BINANCE_BTCUSDT_BRACKETS",
    "BINANCE_BTCUSDT_BRACKETS_DATE",
    "BenchmarkResult",
    "Calibration",
    "CascadeResult",
    "ClusterView",
    "DataError",
    "EventStudy",
    "Heatmap",
    "LeverageProfile",
    "LiqtoolsError",
    "MapComparison",
    "Validation",
    "asymmetry",
    "benchmark",
    "bracket_for",
    "calibrate",
    "cluster_distance",
    "clusters_at",
    "compare_maps",
    "event_study",
    "find_clusters",
    "fit_profile",
    "indicators",
    "liquidation_heatmap",
    "liquidation_map",
    "liquidation_price",
    "load_sample",
    "load_sample_depth",
    "load_sample_liquidations",
    "measured_levels",
    "nice_bin_size",
    "position_liquidation_price",
    "realized_volatility",
    "rsi",
    "sample_names",
    "simulate_cascade",
    "synthetic_levels",
    "tipping_point",
    "validate",
    "validate_market",
    "velocity",
    "volume_ratio",
]
