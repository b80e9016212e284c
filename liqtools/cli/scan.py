"""``liqtools scan``: one task over many markets (a jobs file), on a local Dask cluster or a scheduler.

    liqtools scan --jobs jobs.csv --task clusters -o results.parquet
    liqtools scan --jobs jobs.parquet --task heatmap-summary --scheduler tcp://10.0.0.5:8786 -o summary.csv
    liqtools scan --jobs jobs.csv --task clusters --serial -o results.parquet    # in-process, for debugging

The jobs file (.csv or .parquet) has one market per row: ``exchange, symbol, timeframe, start[, end]``
(fetched through the disk cache), or ``path`` (a local market file), or ``sample`` (a bundled market).
The results are one tidy table with a ``status`` column: a job that fails is recorded, never fatal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from liqtools.cli._common import output_path, whole
from liqtools.errors import DataError

__all__ = ["read_jobs", "register"]

_TASKS = ("clusters", "heatmap-summary", "benchmark")


def read_jobs(path: str) -> pd.DataFrame:
    """The jobs table from a ``.csv`` or ``.parquet`` file; any problem reading it is one DataError."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p} is not a file (--jobs): give a .csv or .parquet table of jobs")
    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the jobs file {p}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    except Exception as exc:  # pyarrow and the CSV parser raise their own types
        raise DataError(f"cannot read the jobs file {p}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    raise DataError(f"--jobs takes a .csv or .parquet file, got {p.name}")


def task_arg(text: str) -> str | Callable[..., Any]:
    """A built-in task's name, or ``module:function`` (a function of a market frame)."""
    if text in _TASKS:
        return text
    module, sep, name = text.partition(":")
    if not sep or not module or not name:
        raise argparse.ArgumentTypeError(f"--task must be one of {', '.join(_TASKS)} or module:function, got {text!r}")
    sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module)
        fn = getattr(mod, name)
    except Exception as exc:  # noqa: BLE001 - a missing name, a syntax error, an error raised at import
        raise argparse.ArgumentTypeError(f"cannot load the task {text!r}: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(os.getcwd())
    if not callable(fn):
        raise argparse.ArgumentTypeError(f"--task {text!r} is not a function")
    from liqtools.scale.tasks import ByValue

    return ByValue(fn)  # the workers cannot import a module from this folder: the function goes by value


def write_table(result: pd.DataFrame, out: Path) -> None:
    """The results to ``out`` (.csv or .parquet) atomically; a task's mixed-type column goes to parquet as text."""
    from liqtools._io import atomic_write

    if out.suffix.lower() == ".csv":
        atomic_write(out, lambda fh: result.to_csv(fh, index=False))
        return
    try:
        atomic_write(out, lambda fh: result.to_parquet(fh, index=False))
    except Exception as exc:
        mixed = [c for c in result.columns if result[c].dtype == object and len({type(v) for v in result[c].dropna()}) > 1]
        if not mixed:
            raise
        warnings.warn(f"columns {mixed} mix types across jobs ({type(exc).__name__}); written to parquet as text", stacklevel=2)
        text = result.assign(**{c: result[c].map(lambda v: v if pd.isna(v) else str(v)) for c in mixed})
        atomic_write(out, lambda fh: text.to_parquet(fh, index=False))


def cmd_scan(args: argparse.Namespace) -> int:
    from liqtools.scale.run import local_cluster, scan

    out = output_path(args.output, force=args.force)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise DataError(f"-o takes a .parquet or .csv file name, got {out.name}")
    jobs = read_jobs(args.jobs)
    if args.serial and (args.scheduler or args.workers):
        raise DataError("--serial runs in this process: leave out --scheduler and --workers")
    if args.scheduler and args.workers:
        raise DataError("--workers sizes a local cluster: leave it out with --scheduler")
    progress = not args.no_progress
    if args.serial:
        result = scan(jobs, args.task, client="serial", cache_dir=args.cache_dir, progress=progress)
    elif args.scheduler:
        result = scan(jobs, args.task, client=args.scheduler, cache_dir=args.cache_dir, progress=progress)
    else:
        from dask.distributed import Client

        from liqtools.scale.jobs import make_jobs

        make_jobs(jobs)  # refuse a bad jobs file before starting workers
        with local_cluster(args.workers) as cluster, Client(cluster) as client:
            if progress and client.dashboard_link:
                print(f"liqtools: Dask dashboard (task stream, memory) at {client.dashboard_link}", file=sys.stderr)
            result = scan(jobs, args.task, client=client, cache_dir=args.cache_dir, progress=progress)
    write_table(result, out)
    per_job = result.drop_duplicates("job")
    failed = per_job[per_job["status"] != "ok"]
    print(f"{len(per_job)} jobs: {len(per_job) - len(failed)} ok, {len(failed)} failed; wrote {len(result)} rows to {out} "
          f"in {result.attrs.get('seconds', float('nan')):.1f} s")
    for _, row in failed.head(5).iterrows():
        print(f"  job {row['job']} ({row['market']}): {row['error']}")
    if len(failed) > 5:
        print(f"  ... and {len(failed) - 5} more (the status and error columns of {out.name})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="one task over many markets (a jobs file), on Dask; results as one table",
                       description="Run one task over many markets (a jobs file) on a local Dask cluster, a scheduler, or in-process.",
                       epilog="The model behind every number: docs/model.md; scaling figures: docs/scale.md.")
    p.add_argument("--jobs", required=True, metavar="FILE", help="jobs table (.csv or .parquet): one market per row")
    p.add_argument("--task", type=task_arg, default="clusters", metavar="TASK",
                   help="clusters | heatmap-summary | benchmark | module:function (default clusters)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="results file (.parquet or .csv)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    where = p.add_argument_group("where it runs (default: a local Dask cluster, one worker per core)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    where.add_argument("--workers", type=whole(low=1), metavar="N", help="worker processes of the local cluster")
    where.add_argument("--serial", action="store_true", help="in this process, one job after the other")
    p.add_argument("--cache-dir", metavar="DIR", help="cache root for exchange jobs (default $LIQTOOLS_CACHE_DIR or the user cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_scan)
