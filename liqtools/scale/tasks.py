"""What a scan computes per market: the built-in tasks, a user's function, and the one job wrapper.

Every task takes a market frame (and, for the benchmark, the job, for its realized liquidations) and
returns a frame of result rows. :func:`run_job` loads the job's market, runs the task and never raises:
a failure becomes one row with ``status="error"`` and the error, so one bad market never stops a scan.
The same function runs in-process (``client="serial"``) and on Dask workers, so both give the same rows.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from liqtools.errors import DataError
from liqtools.scale.jobs import Job, load_market, load_realized

__all__ = ["TASKS", "ByValue", "TaskLike", "check_task", "clusters_task", "heatmap_summary_task", "run_job", "run_jobs"]

TaskLike = str | Callable[..., Any]
#: Clusters as the command line shows them: bins within 25% of the price, at most 5 clusters per side.
CLUSTER_DEFAULTS: dict[str, Any] = {"max_distance_pct": 25.0, "top": 5}
#: A "large" cluster in the summary holds at least this share of its side's notional.
LARGE_SHARE = 0.2
_ERROR_CHARS = 500


def _model_options(df: pd.DataFrame, options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Heatmap keywords (one snapshot unless ``every`` is given: the map at the last candle needs none)
    and cluster options (the command line's presentation unless given)."""
    opts = dict(options)
    cluster_options = {**CLUSTER_DEFAULTS, **dict(opts.pop("cluster_options", None) or {})}
    opts.setdefault("every", max(len(df), 1))
    return opts, cluster_options


def clusters_task(df: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Task ``"clusters"``: the clusters after the last candle, one row per cluster.

    Columns ``time, price, side, low, high, notional_usd, distance_pct, share`` (see
    :func:`~liqtools.analysis.levels.find_clusters`). ``options`` go to
    :func:`~liqtools.analysis.moment.clusters_at`; ``cluster_options`` default to the command line's
    (``max_distance_pct=25, top=5``).

    >>> from liqtools import load_sample
    >>> list(clusters_task(load_sample()).columns)
    ['time', 'price', 'side', 'low', 'high', 'notional_usd', 'distance_pct', 'share']
    """
    from liqtools.analysis.moment import clusters_at

    opts, cluster_options = _model_options(df, options)
    view = clusters_at(df, cluster_options=cluster_options, **opts)
    out = view.clusters.reset_index(drop=True)
    out.insert(0, "price", view.price)
    out.insert(0, "time", view.time.as_unit("ns"))
    return out


def heatmap_summary_task(df: pd.DataFrame, *, large_share: float = LARGE_SHARE, **options: Any) -> pd.DataFrame:
    """Task ``"heatmap-summary"``: one row per market, the model's state after the last candle.

    Columns: ``time, price, candles, bin_size``; ``oi_usd`` (the last known open interest);
    ``active_long_usd, active_short_usd`` (the levels left); ``liquidated_long_usd, liquidated_short_usd``
    (predicted over the whole frame); the largest cluster per side (``largest_short_usd``,
    ``largest_short_pct``, and the same for longs); and the **nearest large cluster**
    (``nearest_side, nearest_pct, nearest_usd``): of the clusters holding at least ``large_share`` of
    their side, the one closest to the price (signed distance in percent: positive above). NaN where a
    side has none. Other ``options`` as for :func:`clusters_task`.

    >>> from liqtools import load_sample
    >>> row = heatmap_summary_task(load_sample()).iloc[0]
    >>> int(row["candles"]), row["nearest_side"]
    (2112, 'short')
    """
    from liqtools.analysis.moment import clusters_at

    if not (isinstance(large_share, (int, float)) and 0 <= large_share <= 1):
        raise DataError(f"large_share must be a share in [0, 1], got {large_share!r}")
    opts, cluster_options = _model_options(df, options)
    view = clusters_at(df, cluster_options=cluster_options, **opts)
    hm, c = view.heatmap, view.clusters
    flows = hm.flows.iloc[-1]
    oi = df["oi_usd"].dropna() if "oi_usd" in df.columns else pd.Series(dtype=float)
    row: dict[str, Any] = {
        "time": view.time.as_unit("ns"),
        "price": view.price,
        "candles": len(df),
        "bin_size": hm.bin_size,
        "oi_usd": float(oi.iloc[-1]) if len(oi) else math.nan,
        "active_long_usd": float(flows["active_long_usd"]),
        "active_short_usd": float(flows["active_short_usd"]),
        "liquidated_long_usd": float(hm.liquidated["long_usd"].sum()),
        "liquidated_short_usd": float(hm.liquidated["short_usd"].sum()),
    }
    for side in ("short", "long"):
        rows = c[c["side"] == side]
        top = rows.iloc[0] if len(rows) else None
        row[f"largest_{side}_usd"] = float(top["notional_usd"]) if top is not None else math.nan
        row[f"largest_{side}_pct"] = float(top["distance_pct"]) if top is not None else math.nan
    large = c[c["share"] >= large_share]
    if len(large):
        near = large.iloc[int(np.argmin(large["distance_pct"].abs().to_numpy()))]
        row.update(nearest_side=str(near["side"]), nearest_pct=float(near["distance_pct"]), nearest_usd=float(near["notional_usd"]))
    else:
        row.update(nearest_side=None, nearest_pct=math.nan, nearest_usd=math.nan)
    return pd.DataFrame([row])


def benchmark_task(df: pd.DataFrame, job: Job, **options: Any) -> pd.DataFrame:
    """Task ``"benchmark"``: :func:`~liqtools.analysis.benchmark.benchmark` against the job's realized
    liquidations (a sample's own, or the job's ``realized`` file), one row per side and method (its
    ``summary_table``). ``options`` go to ``benchmark`` (e.g. ``methods=["default"], folds=4``)."""
    from liqtools.analysis.benchmark import benchmark

    res = benchmark(df, load_realized(job), **{"market": job.market, **options})
    return res.summary_table().drop(columns="market")


#: The built-in tasks by name.
TASKS: dict[str, Callable[..., pd.DataFrame]] = {
    "clusters": clusters_task,
    "heatmap-summary": heatmap_summary_task,
    "benchmark": benchmark_task,
}


class ByValue:
    """A user's task function carried to the workers by value (cloudpickle), for a function in a module the
    workers cannot import (e.g. ``liqtools scan --task mytask:f`` with ``mytask.py`` in this folder)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        import cloudpickle

        module = getattr(fn, "__module__", None)
        if module and module in sys.modules:
            cloudpickle.register_pickle_by_value(sys.modules[module])
        self.payload = cloudpickle.dumps(fn)
        self.__name__ = getattr(fn, "__name__", "function")
        self._fn: Callable[..., Any] | None = fn

    def __getstate__(self) -> dict[str, Any]:
        return {"payload": self.payload, "__name__": self.__name__, "_fn": None}

    def __call__(self, df: Any) -> Any:
        if self._fn is None:
            import cloudpickle

            self._fn = cloudpickle.loads(self.payload)
        return self._fn(df)


def check_task(task: Any) -> TaskLike:
    """A built-in task's name or a callable; anything else is a DataError naming the choices."""
    if isinstance(task, str):
        if task not in TASKS:
            raise DataError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}, or pass a function of a market frame")
        return task
    if callable(task):
        return task
    raise DataError(f"task must be one of {', '.join(TASKS)} or a function of a market frame, got {type(task).__name__}")


def _as_rows(value: Any) -> pd.DataFrame:
    """A user function's answer as result rows: a frame as it is, a dict or Series as one row, else ``value``."""
    if isinstance(value, pd.DataFrame):
        return value.reset_index(drop=not isinstance(value.index, pd.DatetimeIndex) and value.index.name is None)
    if isinstance(value, pd.Series):
        return value.to_frame().T.reset_index(drop=True).infer_objects()
    if isinstance(value, Mapping):
        return pd.DataFrame([dict(value)])
    return pd.DataFrame({"value": [value]})


def error_text(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 500 characters)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text[:_ERROR_CHARS]


def run_jobs(
    jobs: list[Job], task: TaskLike, options: Mapping[str, Any] | None = None, cache_dir: str | os.PathLike[str] | None = None
) -> list[pd.DataFrame]:
    """:func:`run_job` for each of ``jobs``, in order (one Dask task for a chunk of a scan)."""
    return [run_job(job, task, options, cache_dir) for job in jobs]


def run_job(
    job: Job, task: TaskLike, options: Mapping[str, Any] | None = None, cache_dir: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """One job's result rows, with ``status`` (``"ok"`` or ``"error"``) and ``error`` first; never raises.

    A task that returns no rows gives one ``"ok"`` row with nothing else in it.
    """
    try:
        df = load_market(job, cache_dir=cache_dir)
        opts = dict(options or {})
        if isinstance(task, str):
            fn = TASKS[task]
            rows = fn(df, job, **opts) if task == "benchmark" else fn(df, **opts)
        else:
            rows = _as_rows(task(df, **opts))
    except Exception as exc:  # noqa: BLE001 - every failure is the job's result, never the scan's end
        return pd.DataFrame({"status": ["error"], "error": [error_text(exc)]})
    if len(rows) == 0:
        return pd.DataFrame({"status": ["ok"], "error": [None]})
    rows = rows.reset_index(drop=True)
    clash = [c for c in rows.columns if c in ("status", "error")]
    rows = rows.rename(columns={c: f"task_{c}" for c in clash})
    rows.insert(0, "error", None)
    rows.insert(0, "status", "ok")
    return rows
