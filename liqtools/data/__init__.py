"""Data in: the bundled sample (and, later, files, archives and exchanges)."""

from liqtools.data.files import read_market
from liqtools.data.sample import load_sample, load_sample_depth, load_sample_liquidations, sample_depth_usd

__all__ = ["read_market", "load_sample", "load_sample_depth", "load_sample_liquidations", "sample_depth_usd"]
