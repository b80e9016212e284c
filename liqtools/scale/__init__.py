"""Scans: one task over many markets, venues and years, on Dask or in-process, as one tidy frame.

* :mod:`~liqtools.scale.jobs`: the jobs (exchange series, local files or bundled samples), checked up front;
* :mod:`~liqtools.scale.tasks`: the built-in tasks and the wrapper that turns any failure into a result row;
* :mod:`~liqtools.scale.run`: :func:`scan` itself (the Dask client, progress, assembly);
* :mod:`~liqtools.scale.universe`: generated markets for demonstrations, tests and benchmarks.

Nothing here imports Dask until a scan runs on it. docs/scale.md has the measured speed-up and a paper
estimate of a scan of every perpetual on three venues over two years.
"""

from liqtools.scale.jobs import make_jobs
from liqtools.scale.run import local_cluster, scan
from liqtools.scale.tasks import TASKS
from liqtools.scale.universe import generated_market, write_universe

__all__ = ["TASKS", "generated_market", "local_cluster", "make_jobs", "scan", "write_universe"]
