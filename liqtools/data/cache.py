"""A parquet disk cache for downloaded series that never holds a half-written file.

Layout: one directory per exchange / symbol / timeframe / series under the cache root::

    <root>/binanceusdm/BTC_USDT_USDT/1h/ohlcv/
        data-<time>-<id>.parquet   compacted rows
        part-<time>-<id>.parquet   pages persisted while a download runs (later ones win)
        .lock                    cross-process lock (filelock)

Every file is written to a temporary name in the same directory, flushed to disk and then renamed
(``os.replace``, atomic on POSIX and Windows): a crash, ``kill -9`` or Ctrl-C leaves either the old
file or the new one, never a torn one; stray temporary files are ignored and removed later. Each file
carries, in its parquet metadata, the time ranges it *covers* (ranges asked for and answered, including
ranges where the exchange had no rows), so the next call fetches only what is missing, and the *gaps*
inside them: ranges the exchange does not have, each with its reason (e.g. no rows on two requests, or
before the listing). A range is only marked covered once its rows were checked
(:mod:`liqtools.data.exchange.pages`), so an invalid answer is never served from the cache. A download holds
the series' lock, so two processes fetching the same series take turns and the second finds the first's
rows in the cache.

The root is ``cache_dir`` when given, else the environment variable ``LIQTOOLS_CACHE_DIR``, else the
user cache directory (``platformdirs.user_cache_dir("liqtools")``).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from liqtools._io import TMP_PREFIX, atomic_write
from liqtools.errors import CacheError

__all__ = ["ENV_VAR", "SeriesCache", "cache_root", "merge_gaps", "merge_ranges", "missing_ranges"]

ENV_VAR = "LIQTOOLS_CACHE_DIR"
_META_KEY = b"liqtools.coverage"
_GAPS_KEY = b"liqtools.gaps"
_FILE_RE = re.compile(r"^(data|part)-\d{20}-[0-9a-f]{12}\.parquet$")
_LOCK_TIMEOUT = 600.0

Range = tuple[int, int]  # inclusive [first_ms, last_ms]
Gap = tuple[int, int, str]  # inclusive [first_ms, last_ms] and the reason the exchange has no rows there


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root: ``cache_dir``, else ``$LIQTOOLS_CACHE_DIR``, else the user cache directory.

    Examples
    --------
    >>> str(cache_root("/tmp/somewhere"))
    '/tmp/somewhere'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("liqtools"))


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", part).strip("_") or "_"


def merge_ranges(ranges: Iterable[Sequence[int]]) -> list[Range]:
    """Union of inclusive integer ranges, sorted; touching ranges (``b + 1 == a``) merge.

    Examples
    --------
    >>> merge_ranges([(10, 19), (0, 4), (5, 7), (30, 40), (35, 36)])
    [(0, 7), (10, 19), (30, 40)]
    """
    out: list[list[int]] = []
    for a, b in sorted((int(a), int(b)) for a, b in ranges if int(b) >= int(a)):
        if out and a <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def missing_ranges(covered: Iterable[Sequence[int]], first: int, last: int) -> list[Range]:
    """Parts of the inclusive range ``[first, last]`` not inside ``covered``.

    Examples
    --------
    >>> missing_ranges([(10, 19), (30, 40)], 0, 35)
    [(0, 9), (20, 29)]
    >>> missing_ranges([(0, 100)], 5, 50)
    []
    """
    gaps: list[Range] = []
    cursor = first
    for a, b in merge_ranges(covered):
        if b < cursor:
            continue
        if a > last:
            break
        if a > cursor:
            gaps.append((cursor, min(a - 1, last)))
        cursor = max(cursor, b + 1)
        if cursor > last:
            break
    if cursor <= last:
        gaps.append((cursor, last))
    return gaps


class SeriesCache:
    """The cached rows of one series (e.g. Binance BTC/USDT:USDT 1h open interest).

    Rows are a frame with an int64 ``timestamp`` column (epoch milliseconds, unique, sorted) and float
    value columns; :attr:`covered` lists the inclusive millisecond ranges already answered.

    Examples
    --------
    >>> import tempfile
    >>> c = SeriesCache(tempfile.mkdtemp(), "binanceusdm", "BTC/USDT:USDT", "1h", "funding")
    >>> c.append(pd.DataFrame({"timestamp": [0, 28_800_000], "funding_rate": [1e-4, 2e-4]}), [(0, 28_800_000)])
    >>> rows, covered = c.read()
    >>> rows["funding_rate"].tolist(), covered
    ([0.0001, 0.0002], [(0, 28800000)])
    >>> c.append(pd.DataFrame({"timestamp": [57_600_000]}), [(28_800_001, 57_600_000)], [(28_800_001, 57_599_999, "maintenance")])
    >>> c.read_gaps()
    [(28800001, 57599999, 'maintenance')]
    """

    def __init__(self, root: str | os.PathLike[str], exchange: str, symbol: str, timeframe: str, series: str):
        self.root = Path(root)
        self.path = self.root / _safe(exchange) / _safe(symbol) / _safe(timeframe) / _safe(series)
        self.key = f"{exchange} {symbol} {timeframe} {series}"

    # -- locking -----------------------------------------------------------------------------------
    @contextmanager
    def lock(self, timeout: float = _LOCK_TIMEOUT) -> Iterator[None]:
        """Hold the series' cross-process lock (re-entrant within a process)."""
        from filelock import FileLock, Timeout

        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create cache directory {self.path} ({exc}); set {ENV_VAR} or pass cache_dir=") from exc
        lock = FileLock(str(self.path / ".lock"), timeout=timeout)
        try:
            with lock:
                yield
        except Timeout as exc:
            raise CacheError(
                f"cache for {self.key} is locked by another process for over {timeout:.0f} s ({self.path / '.lock'}); "
                "wait for it to finish, or delete the lock file if no liqtools process is running"
            ) from exc

    # -- reading -----------------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if _FILE_RE.match(p.name))

    def read(self) -> tuple[pd.DataFrame, list[Range]]:
        """All cached rows (deduplicated, later files win) and the merged covered ranges."""
        import pyarrow.parquet as pq

        tables: list[tuple[bool, str, pd.DataFrame]] = []
        covered: list[Range] = []
        for p in self._files():
            try:
                table = pq.read_table(p)
            except FileNotFoundError:  # compacted away by another process between listing and reading
                continue
            except Exception as exc:  # a file that cannot be read is dropped, not trusted
                raise CacheError(f"unreadable cache file {p} ({exc}); delete it and fetch again") from exc
            meta = table.schema.metadata or {}
            covered.extend(tuple(r) for r in json.loads(meta.get(_META_KEY, b"[]")))
            tables.append((p.name.startswith("part"), p.name[5:], table.to_pandas()))
        if not tables:
            return pd.DataFrame({"timestamp": np.array([], dtype=np.int64)}), []
        # data files first, then parts in write order: later rows replace earlier ones
        tables.sort(key=lambda t: (t[0], t[1]))
        frames = [t[2] for t in tables if len(t[2])]
        if not frames:
            return tables[0][2].iloc[:0], merge_ranges(covered)
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        rows = _normalise(rows)
        return rows, merge_ranges(covered)

    def read_gaps(self) -> list[Gap]:
        """The recorded gaps (sorted; touching ones with the same reason merged), from file metadata only."""
        import pyarrow.parquet as pq

        gaps: list[Gap] = []
        for p in self._files():
            try:
                meta = pq.read_schema(p).metadata or {}
            except FileNotFoundError:
                continue
            except Exception as exc:
                raise CacheError(f"unreadable cache file {p} ({exc}); delete it and fetch again") from exc
            gaps.extend((int(a), int(b), str(why)) for a, b, why in json.loads(meta.get(_GAPS_KEY, b"[]")))
        return merge_gaps(gaps)

    # -- writing -----------------------------------------------------------------------------------
    def _write(self, kind: str, rows: pd.DataFrame, covered: Sequence[Range], gaps: Sequence[Gap] = ()) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(rows, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = json.dumps([list(r) for r in merge_ranges(covered)]).encode()
        if gaps:
            meta[_GAPS_KEY] = json.dumps([list(g) for g in merge_gaps(gaps)]).encode()
        table = table.replace_schema_metadata(meta)
        final = self.path / f"{kind}-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
        return atomic_write(final, lambda fh: pq.write_table(table, fh, compression="snappy"))

    def append(self, rows: pd.DataFrame, covered: Sequence[Sequence[int]], gaps: Sequence[Gap] = ()) -> None:
        """Persist a page of rows, the ranges it answers and the gaps inside them (one atomic file)."""
        ranges = merge_ranges(covered)
        if not ranges and len(rows) == 0:
            return
        for a, b, why in gaps:
            if missing_ranges(ranges, int(a), int(b)):
                raise CacheError(f"gap {a}..{b} ({why}) of {self.key} lies outside the ranges written with it")
        self._write("part", _normalise(rows), ranges, gaps)

    def compact(self) -> None:
        """Merge every file into one (atomically) and remove the merged files and stray temporaries."""
        files = self._files()
        for tmp in self.path.glob(f"{TMP_PREFIX}*") if self.path.is_dir() else []:
            tmp.unlink(missing_ok=True)
        if len(files) <= 1:
            return
        rows, covered = self.read()
        self._write("data", rows, covered, self.read_gaps())
        for p in files:
            p.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove every cached file of this series."""
        for p in self._files():
            p.unlink(missing_ok=True)


def merge_gaps(gaps: Iterable[Sequence[object]]) -> list[Gap]:
    """Gaps ``(first, last, reason)`` sorted, touching or overlapping ones with the same reason merged.

    Examples
    --------
    >>> merge_gaps([(10, 19, "x"), (0, 9, "x"), (30, 39, "y")])
    [(0, 19, 'x'), (30, 39, 'y')]
    """
    out: list[Gap] = []
    for a, b, why in sorted((int(g[0]), int(g[1]), str(g[2])) for g in gaps):  # type: ignore[call-overload]
        if out and out[-1][2] == why and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b), why)
        else:
            out.append((a, b, why))
    return out


def _normalise(rows: pd.DataFrame) -> pd.DataFrame:
    """int64 timestamps, unique (last wins) and sorted; float64 values."""
    if "timestamp" not in rows.columns:
        raise CacheError("cache rows need a 'timestamp' column (epoch milliseconds)")
    ts = rows["timestamp"].to_numpy(dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    ts_sorted = ts[order]
    # keep the last of each run of equal timestamps (stable sort keeps arrival order inside a run)
    keep = np.ones(len(ts_sorted), dtype=bool)
    keep[:-1] = ts_sorted[1:] != ts_sorted[:-1]
    idx = order[keep]
    if len(idx) == len(rows) and (len(idx) == 0 or bool(np.all(np.diff(idx) > 0))):
        out = rows.reset_index(drop=True)
    else:
        out = rows.iloc[idx].reset_index(drop=True)
    out = out.copy() if out is rows else out
    out["timestamp"] = out["timestamp"].to_numpy(dtype=np.int64)
    for col in out.columns:
        if col != "timestamp" and out[col].dtype != np.float64 and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].to_numpy(dtype=np.float64, na_value=np.nan)
    return out
