"""``scan``: one task over many markets, in-process or on a Dask cluster, as one tidy frame.

Dask (``dask.distributed``) is imported only when a scan runs on it: ``import liqtools`` stays light.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd

from liqtools.errors import DataError
from liqtools.scale.jobs import Job, make_jobs
from liqtools.scale.tasks import TaskLike, check_task, error_text, run_job, run_jobs

__all__ = ["ClientLike", "assemble", "local_cluster", "scan"]

#: Tasks per worker thread before jobs are grouped into chunks, and the largest chunk.
CHUNKS_PER_THREAD = 8
MAX_CHUNK = 16
ClientLike = Any  # None, "serial", a scheduler address, or a dask.distributed.Client
#: Called after each finished job with (jobs done, jobs in all).
Progress = Callable[[int, int], None]


def scan(
    jobs: Any,
    task: TaskLike,
    *,
    client: ClientLike = None,
    options: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | Progress = False,
) -> pd.DataFrame:
    """Run ``task`` on every market of ``jobs``; one tidy frame with a row (or rows) per job.

    Parameters
    ----------
    jobs
        A frame or a list of jobs, one market each (see :mod:`liqtools.scale.jobs`): columns
        ``exchange, symbol, timeframe, start[, end]`` (fetched through the disk cache), or ``path`` (a
        local market file), or ``sample`` (a bundled market); optional ``market`` (label) and ``realized``
        (a realized-liquidations file, for the benchmark). A list may hold dicts or
        ``(exchange, symbol, timeframe, start[, end])`` tuples.
    task
        ``"clusters"`` (the clusters after the last candle, a row each), ``"heatmap-summary"`` (a row per
        market: open interest, active and liquidated notional, the largest and the nearest large
        cluster), ``"benchmark"`` (the scorecard against realized liquidations, a row per side and
        method), or a function of a market frame returning a frame (its rows), a dict or Series (one row)
        or a value (column ``value``). Built-in tasks are in :mod:`liqtools.scale.tasks`.
    client
        ``None``: start a local Dask cluster sized to the machine (one single-threaded worker process per
        core), and close it afterwards. A ``dask.distributed.Client``, or a scheduler address such as
        ``"tcp://10.0.0.5:8786"``: run there (every worker needs liqtools, and for exchange jobs a
        cache folder it can share with the others: ``cache_dir`` or ``$LIQTOOLS_CACHE_DIR``).
        ``"serial"``: in this process, one job after the other (for debugging; the reference a cluster's
        results equal exactly). Worker processes start by re-importing a script's main module, so a script
        that starts a local cluster calls ``scan`` under ``if __name__ == "__main__":`` (as with any Dask
        ``LocalCluster``; notebooks need nothing).
    options
        Keywords for the task: for ``"clusters"`` and ``"heatmap-summary"`` those of
        :func:`~liqtools.analysis.moment.clusters_at` (``cluster_options`` default to the command line's
        ``max_distance_pct=25, top=5``); for ``"benchmark"`` those of :func:`~liqtools.analysis.benchmark.benchmark`;
        for a function, its keywords.
    cache_dir
        Cache root for exchange jobs (default: each worker's ``$LIQTOOLS_CACHE_DIR`` or user cache folder).
    progress
        True for a progress bar over jobs on stderr, or a function called with (done, total).

    Returns
    -------
    pandas.DataFrame
        Columns ``job`` (the job's position), ``market``, the job's own columns, ``status`` (``"ok"`` or
        ``"error"``), ``error`` (the error of a failed job, as ``Type: message``; None when ok), then the
        task's columns. A failed job (a missing file, a bad symbol, no data, an exchange error, a worker
        that died too often) is one ``"error"`` row and never stops the scan. Rows are in job order;
        ``attrs`` holds ``task``, ``runner`` and ``seconds``.

    Raises
    ------
    DataError
        An unknown task, jobs missing the columns that name data, a bad row (no data or two kinds of data,
        an unknown sample, a bad time or timeframe), or a client that is not one of the above.

    Examples
    --------
    >>> import liqtools as lt
    >>> res = lt.scan([{"sample": "btc"}, {"path": "no-such-file.parquet"}], "heatmap-summary", client="serial")
    >>> res[["job", "market", "status", "nearest_side"]]
       job        market status nearest_side
    0    0           btc     ok        short
    1    1  no-such-file  error          NaN
    >>> res.loc[1, "error"]
    'DataError: no-such-file.parquet does not exist (no such file for the market frame)'
    """
    frame, job_list = make_jobs(jobs)
    task = check_task(task)
    opts = dict(options or {})
    report = _progress(progress, len(job_list))
    t0 = time.perf_counter()
    if isinstance(client, str) and client == "serial":
        results = []
        for job in job_list:
            results.append(run_job(job, task, opts, cache_dir))
            report(len(results), len(job_list))
        runner = "serial"
    else:
        with _client(client) as dask_client:
            runner = str(getattr(getattr(dask_client, "scheduler", None), "address", None) or "dask")
            results = _run_dask(dask_client, job_list, task, opts, cache_dir, report)
    out = assemble(frame, results)
    out.attrs.update(task=task if isinstance(task, str) else getattr(task, "__name__", "function"), runner=runner,
                     seconds=time.perf_counter() - t0)
    return out


def assemble(frame: pd.DataFrame, results: list[pd.DataFrame]) -> pd.DataFrame:
    """Each job's columns beside its result rows, in job order (the one assembly, serial or not)."""
    parts = []
    for number, rows in enumerate(results):
        info = frame.iloc[[number] * len(rows)].reset_index(drop=True)
        info.insert(0, "job", number)
        clash = {c: f"task_{c}" for c in rows.columns if c in info.columns}
        parts.append(pd.concat([info, rows.rename(columns=clash)], axis=1))
    return pd.concat(parts, ignore_index=True)


def _progress(progress: bool | Progress, total: int) -> Progress:
    if callable(progress):
        return progress
    if not progress:
        return lambda done, total: None
    from tqdm.auto import tqdm

    bars: list[Any] = []  # opened at the first finished job: a scan that cannot start leaves no bar behind

    def report(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="job", desc="scan", file=sys.stderr))
        bar = bars[0]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report


def local_cluster(n_workers: int | None = None, *, profile: bool = False, **kwargs: Any) -> Any:
    """A local Dask cluster sized to the machine: ``n_workers`` single-threaded worker processes (default:
    one per core), memory split evenly, the dashboard on a free port; ``kwargs`` go to ``LocalCluster``.
    The caller closes it.

    Dask's statistical profiler (the dashboard's Profile page) is off unless ``profile=True``: it samples
    every worker's stack 100 times a second, which on a small machine takes CPU from the jobs (about 4% of
    a scan on 2 cores, benchmarks/bench_scan.py).

    Its workers load the heatmap's compiled loops when they start (:mod:`liqtools.scale.preload`, after any
    preload in Dask's configuration; a caller's ``preload=`` replaces the list), and start
    without Dask's default ``MALLOC_TRIM_THRESHOLD_=65536``: setting that variable
    turns off glibc's adaptive mmap threshold, so every large numpy array of the model is a fresh mmap
    and page faults, which made each job 2-4x slower than in-process (benchmarks/bench_scan.py).
    """
    import dask
    from dask.distributed import LocalCluster

    workers = n_workers if n_workers is not None else max(os.cpu_count() or 1, 1)
    configured = dask.config.get("distributed.worker.preload", None) or []
    settings: dict[str, Any] = {
        "n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
        # each worker loads the compiled loops at start, not in a job; preloads from Dask's configuration stay
        "preload": [*([configured] if isinstance(configured, str) else configured), "liqtools.scale.preload"],
    }
    quiet = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None, "distributed.worker.profile.enabled": profile}
    options = {**settings, **kwargs}
    if options.get("processes"):
        # the nannies apply these for every worker they start, restarts included (a restarted worker would
        # otherwise see the global configuration as it is after this block); a caller's config= wins
        options["config"] = {"distributed.worker.profile.enabled": profile, **(kwargs.get("config") or {})}
    with dask.config.set(quiet):  # the nannies read their workers' environment when they are made
        return LocalCluster(**options)


@contextmanager
def _client(client: ClientLike) -> Iterator[Any]:
    """The Dask client to run on; one this function started (a local cluster, a connection) is closed after."""
    if client is None:
        from dask.distributed import Client

        cluster = local_cluster()
        try:
            with Client(cluster) as c:
                yield c
        finally:
            cluster.close()
        return
    if isinstance(client, str):
        from dask.distributed import Client

        try:
            c = Client(client, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise DataError(f"cannot reach the Dask scheduler at {client!r} ({error_text(exc)}); "
                            "give an address like tcp://HOST:8786, or client='serial'") from None
        with c:
            yield c
        return
    if hasattr(client, "submit") and hasattr(client, "scheduler_info"):
        yield client
        return
    raise DataError(f"client must be None, 'serial', a scheduler address or a dask.distributed.Client, got {client!r}")


def _run_dask(client: Any, jobs: list[Job], task: TaskLike, options: dict[str, Any],
              cache_dir: str | os.PathLike[str] | None, report: Progress) -> list[pd.DataFrame]:
    """Submit the jobs in chunks (:func:`chunk_size`), gather results as they finish (freeing each on the
    cluster), keep job order."""
    from dask.distributed import as_completed

    token = uuid.uuid4().hex[:10]
    size = chunk_size(len(jobs), _threads(client))
    futures = {}
    for start in range(0, len(jobs), size):
        chunk = jobs[start:start + size]
        key = f"liqtools-scan-{token}-{chunk[0].number}"
        futures[client.submit(run_jobs, chunk, task, options, cache_dir, key=key, pure=False)] = chunk
    results: list[pd.DataFrame | None] = [None] * len(jobs)
    killed: list[Job] = []
    done = 0
    for future in as_completed(list(futures)):
        chunk = futures.pop(future)
        try:
            for job, rows in zip(chunk, future.result(), strict=True):
                results[job.number] = rows
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: that chunk failed, the scan goes on
            for job in chunk:
                results[job.number] = pd.DataFrame({"status": ["error"], "error": [error_text(exc)]})
            if type(exc).__name__ == "KilledWorker":
                killed.extend(chunk)
        future.release()
        done += len(chunk)
        report(done, len(jobs))
    if len(killed) > 1:
        # a job that kills its worker also takes down the jobs running beside it (and in its chunk): try
        # those again, one at a time, so only the job that really kills workers stays failed
        for job in sorted(killed, key=lambda j: j.number):
            retry = client.submit(run_job, job, task, options, cache_dir, key=f"liqtools-scan-{token}-{job.number}-alone", pure=False)
            try:
                results[job.number] = retry.result()
            except Exception as exc:  # noqa: BLE001
                results[job.number] = pd.DataFrame({"status": ["error"], "error": [error_text(exc)]})
            retry.release()
    return [r if r is not None else pd.DataFrame({"status": ["error"], "error": ["lost"]}) for r in results]


def chunk_size(jobs: int, threads: int) -> int:
    """Jobs per Dask task: one, until there are enough jobs to give every worker thread
    :data:`CHUNKS_PER_THREAD` tasks of several jobs (at most :data:`MAX_CHUNK`). Each task costs the
    scheduler, the nannies and this process about 13 ms of CPU (benchmarks/bench_scan.py), which on a
    small machine shares the cores with the workers; the last chunks still balance the load.

    >>> chunk_size(4, 2), chunk_size(200, 2), chunk_size(100_000, 64)
    (1, 12, 16)
    """
    return max(1, min(MAX_CHUNK, jobs // (max(threads, 1) * CHUNKS_PER_THREAD)))


def _threads(client: Any) -> int:
    try:
        threads = sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())
    except Exception:  # noqa: BLE001 - an unusual client: one job per task
        return 1_000_000
    return threads or 1_000_000  # no worker has joined yet: one job per task, however many join
