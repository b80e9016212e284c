"""Jobs of a scan: one market each, checked before any work, and the market frame a worker loads for it.

A job names its data in one of three ways (one per row; a frame may mix them):

* ``exchange, symbol, timeframe, start`` (and optionally ``end``; missing means now): fetched through
  :func:`~liqtools.data.exchange.fetch_market_data` into the disk cache (:mod:`liqtools.data.cache`), so a
  series is fetched once even when two workers want it at the same time (the second waits for the
  series' file lock and reads the first's rows), and a rerun fetches only what is missing;
* ``path``: a local ``.parquet`` or ``.csv`` market frame (:func:`~liqtools.data.files.read_market`);
* ``sample``: a bundled market (:func:`~liqtools.data.sample.sample_names`).

Optional columns: ``market`` (the label in the results; default the sample name, the file's stem or
``exchange:symbol:timeframe``) and ``realized`` (a file of realized liquidations, for the benchmark task).
Every other column is carried into the results unchanged.

What can be told without reading or fetching anything (a missing column, a row naming no data or two
kinds of data, an unknown sample, a bad time or timeframe) is a :class:`~liqtools.errors.DataError` before
the scan starts; everything else (a missing file, a bad symbol, no data, an exchange error) is that job's
failure, recorded in its result row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqtools.errors import DataError

__all__ = ["EXCHANGE_COLUMNS", "Job", "load_market", "make_jobs"]

#: The columns of an exchange job, in the order a tuple gives them (``end`` may be left out).
EXCHANGE_COLUMNS = ("exchange", "symbol", "timeframe", "start", "end")
_SOURCES = ("exchange", "path", "sample")
#: Series fetched for an exchange job: the candles and the open interest the model needs.
FETCH_SERIES = ("ohlcv", "open_interest")


@dataclass(frozen=True)
class Job:
    """One checked job: its position, kind (``"exchange"``, ``"path"`` or ``"sample"``), label and fields."""

    number: int
    kind: str
    market: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        value = self.fields.get(name)
        return None if _missing(value) else value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def _as_frame(jobs: Any) -> pd.DataFrame:
    if isinstance(jobs, pd.DataFrame):
        return jobs.reset_index(drop=True)
    if isinstance(jobs, (str, bytes, os.PathLike)) or not isinstance(jobs, Iterable):
        raise DataError(
            f"jobs must be a DataFrame or a list of dicts or (exchange, symbol, timeframe, start[, end]) tuples, "
            f"got {type(jobs).__name__}"
        )
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(jobs):
        if isinstance(item, Mapping):
            rows.append(dict(item))
        elif isinstance(item, (tuple, list)) and 4 <= len(item) <= 5:
            rows.append(dict(zip(EXCHANGE_COLUMNS, item, strict=False)))
        else:
            raise DataError(f"job {i}: expected a dict or an (exchange, symbol, timeframe, start[, end]) tuple, got {item!r}")
    return pd.DataFrame(rows)


def _time(value: Any, what: str) -> pd.Timestamp:
    """A UTC time: a date, ISO text (naive means UTC), a Timestamp, or an integer of epoch milliseconds."""
    try:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            ts = pd.Timestamp(int(value), unit="ms", tz="UTC")
        else:
            ts = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):
        raise DataError(f"{what} must be a date/time (e.g. '2024-01-01' or '2024-01-01T12:00Z'), got {value!r}")
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).as_unit("ns")


def _check_exchange(i: int, row: Mapping[str, Any]) -> dict[str, Any]:
    from liqtools.data.exchange.venues import timeframe_ms

    need = [c for c in ("exchange", "symbol", "timeframe", "start") if _missing(row.get(c))]
    if need:
        raise DataError(f"job {i}: an exchange job needs {', '.join(need)} (columns {', '.join(EXCHANGE_COLUMNS[:4])}, optional end)")
    if not isinstance(row["exchange"], str):
        raise DataError(f"job {i}: exchange must be a ccxt id such as 'binanceusdm', got {row['exchange']!r}")
    try:
        timeframe_ms(row["timeframe"])
    except DataError as exc:
        raise DataError(f"job {i}: {exc}") from None
    start = _time(row["start"], f"job {i}: start")
    end = None if _missing(row.get("end")) else _time(row["end"], f"job {i}: end")
    if end is not None and end <= start:
        raise DataError(f"job {i}: end {end} is not after start {start}")
    return {"start": start, "end": end}


def make_jobs(jobs: Any) -> tuple[pd.DataFrame, list[Job]]:
    """Check ``jobs`` (a frame, or a list of dicts or tuples) and return the job frame and one :class:`Job` per row.

    The frame has the columns given (``start`` and ``end`` as UTC times) plus ``market``; it is what the
    results repeat for each job.

    Examples
    --------
    >>> frame, jobs = make_jobs([{"sample": "eth-2024"}, ("binanceusdm", "BTC/USDT:USDT", "1h", "2024-01-01")])
    >>> [(j.kind, j.market) for j in jobs]
    [('sample', 'eth-2024'), ('exchange', 'binanceusdm:BTC/USDT:USDT:1h')]
    >>> make_jobs([{"sample": "doge"}])
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: job 0: unknown sample 'doge'; available: ['btc', 'eth-2024', 'sol-2024']
    """
    frame = _as_frame(jobs)
    if frame.empty:
        raise DataError("jobs is empty: give at least one job")
    if not any(c in frame.columns for c in _SOURCES):
        raise DataError(
            f"jobs have none of the columns that name a market's data: {', '.join(EXCHANGE_COLUMNS[:4])} (and end), "
            f"or path, or sample; got columns {list(frame.columns)}"
        )
    for c in ("job", "status", "error"):
        if c in frame.columns:
            raise DataError(f"jobs may not have a column {c!r}: the results use that name")
    from liqtools.data.sample import sample_names

    samples = list(sample_names())
    out: list[Job] = []
    starts: list[Any] = []
    ends: list[Any] = []
    for i, row in enumerate(frame.to_dict("records")):
        given = [k for k in _SOURCES if not _missing(row.get(k))]
        if len(given) != 1:
            what = "names no data" if not given else f"names {' and '.join(given)}"
            raise DataError(f"job {i} {what}: give exactly one of exchange (with symbol, timeframe, start), path or sample")
        kind = given[0]
        fields = {k: v for k, v in row.items() if not _missing(v)}
        if kind == "exchange":
            fields.update({k: v for k, v in _check_exchange(i, row).items() if v is not None})
            label = f"{row['exchange']}:{row['symbol']}:{row['timeframe']}"
        elif kind == "path":
            if not isinstance(row["path"], (str, os.PathLike)):
                raise DataError(f"job {i}: path must be a file name, got {row['path']!r}")
            label = Path(row["path"]).stem
        else:
            if row["sample"] not in samples:
                raise DataError(f"job {i}: unknown sample {row['sample']!r}; available: {samples}")
            label = str(row["sample"])
        for other in ("symbol", "timeframe", "start", "end"):
            if kind != "exchange" and not _missing(row.get(other)):
                raise DataError(f"job {i} names {kind} and {other}: {other} belongs to exchange jobs only")
        realized = row.get("realized")
        if not _missing(realized) and not isinstance(realized, (str, os.PathLike)):
            raise DataError(f"job {i}: realized must be a file name, got {realized!r}")
        market = row.get("market")
        label = label if _missing(market) else str(market)
        fields["market"] = label
        out.append(Job(i, kind, label, fields))
        starts.append(fields.get("start"))
        ends.append(fields.get("end"))
    frame = frame.copy()
    frame["market"] = [j.market for j in out]
    if "start" in frame.columns:
        frame["start"] = pd.to_datetime(pd.Series(starts, dtype=object), utc=True)
    if "end" in frame.columns:
        frame["end"] = pd.to_datetime(pd.Series(ends, dtype=object), utc=True)
    return frame[["market", *(c for c in frame.columns if c != "market")]], out


def load_market(job: Job, *, cache_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The market frame of one job (runs where the job runs: on a worker, or in-process)."""
    if job.kind == "sample":
        from liqtools.data.sample import load_sample

        return load_sample(job.fields["sample"])
    if job.kind == "path":
        from liqtools.data.files import read_market

        return read_market(job.fields["path"])
    from liqtools.data.exchange import fetch_market_data

    return fetch_market_data(
        job.fields["exchange"],
        job.fields["symbol"],
        job.fields["timeframe"],
        start=job.fields["start"],
        end=job.get("end"),
        cache_dir=cache_dir,
        progress=False,
        include=FETCH_SERIES,
    )


def load_realized(job: Job) -> pd.DataFrame:
    """The realized liquidations of a job: the sample's own, or the job's ``realized`` file."""
    path = job.get("realized")
    if path is not None:
        from liqtools.data.files import read_time_frame

        return read_time_frame(path, what="realized liquidations")
    if job.kind == "sample":
        from liqtools.data.sample import load_sample_liquidations

        return load_sample_liquidations(job.fields["sample"])
    raise DataError(
        f"the benchmark needs realized liquidations for {job.market}: add a 'realized' column naming a file "
        "(long_usd, short_usd per period) to this job"
    )
