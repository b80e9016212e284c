"""Pure analysis functions: numbers in, numbers out (no I/O, no plotting)."""

from liqtools.analysis.alert_backtest import AlertBacktest, alert_backtest
from liqtools.analysis.benchmark import BenchmarkResult, benchmark
from liqtools.analysis.cascade import CascadeResult, asymmetry, simulate_cascade, tipping_point
from liqtools.analysis.engagement import Alert, AlertRule, alerts, engagement
from liqtools.analysis.heatmap import Heatmap, liquidation_heatmap, nice_bin_size
from liqtools.analysis.indicators import cluster_distance, indicators, realized_volatility, rsi, velocity, volume_ratio
from liqtools.analysis.levels import find_clusters, liquidation_map, synthetic_levels
from liqtools.analysis.map_compare import MapComparison, compare_maps
from liqtools.analysis.moment import ClusterView, clusters_at
from liqtools.analysis.momentum import EventStudy, event_study
from liqtools.analysis.positions import fit_profile, measured_levels
from liqtools.analysis.prices import (
    BINANCE_BTCUSDT_BRACKETS,
    BINANCE_BTCUSDT_BRACKETS_DATE,
    bracket_for,
    liquidation_price,
    position_liquidation_price,
)
from liqtools.analysis.profile import LeverageProfile
from liqtools.analysis.validation import Calibration, Validation, calibrate, validate

__all__ = [
    "BINANCE_BTCUSDT_BRACKETS",
    "BINANCE_BTCUSDT_BRACKETS_DATE",
    "Alert",
    "AlertBacktest",
    "AlertRule",
    "BenchmarkResult",
    "Calibration",
    "CascadeResult",
    "ClusterView",
    "EventStudy",
    "Heatmap",
    "LeverageProfile",
    "MapComparison",
    "Validation",
    "alert_backtest",
    "alerts",
    "asymmetry",
    "benchmark",
    "bracket_for",
    "calibrate",
    "cluster_distance",
    "clusters_at",
    "compare_maps",
    "engagement",
    "event_study",
    "find_clusters",
    "fit_profile",
    "indicators",
    "liquidation_heatmap",
    "liquidation_map",
    "liquidation_price",
    "measured_levels",
    "nice_bin_size",
    "position_liquidation_price",
    "realized_volatility",
    "rsi",
    "simulate_cascade",
    "synthetic_levels",
    "tipping_point",
    "validate",
    "velocity",
    "volume_ratio",
]
