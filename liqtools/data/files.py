"""Market frames from local files (parquet or CSV), checked against the schema.

Every way a user's file can be wrong (missing, a directory, unreadable, empty, ragged, not UTF-8, a parquet
file named ``.csv`` or the other way round, damaged, no time column) is one :class:`DataError` naming the
file and the problem.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import LAYOUT_DOC, validate_market

__all__ = ["read_market", "read_time_frame"]

_TIME_NAMES = ("time", "timestamp", "date", "datetime", "open_time")
_PARQUET_MAGIC = b"PAR1"


def _check_file(p: Path, what: str) -> bytes:
    """The file's first bytes, after refusing what cannot be read as a file."""
    if not str(p) or str(p) == ".":
        raise DataError(f"the file name is empty ({what})")
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"{p} does not exist (no such file for the {what})") from None
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        raise DataError(f"{p} is a directory, not a file ({what})")
    if not stat.S_ISREG(mode):
        raise DataError(f"{p} is not a regular file ({what}): give a .parquet or .csv file")
    try:
        with open(p, "rb") as fh:
            return fh.read(512)
    except PermissionError:
        raise DataError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from exc


def _read_raw(p: Path, what: str) -> pd.DataFrame:
    head = _check_file(p, what)
    if not head:
        raise DataError(f"{p.name} is empty")
    suffix = p.suffix.lower()
    if suffix not in (".parquet", ".csv", ".gz"):
        raise DataError(f"cannot read {p.name}: expected a .parquet or .csv file")
    is_parquet = head.startswith(_PARQUET_MAGIC)
    if suffix == ".parquet" and not is_parquet:
        first_line = head.split(b"\n", 1)[0]
        looks_csv = b"," in first_line and all(32 <= c < 127 or c in (9, 13) for c in first_line)
        hint = "it looks like CSV text: rename it to .csv" if looks_csv else "it is damaged or truncated"
        raise DataError(f"{p.name} is not a parquet file ({hint})")
    if suffix == ".csv" and is_parquet:
        raise DataError(f"{p.name} is a parquet file named .csv: rename it to .parquet")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{p.name} is empty (no columns)") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().replace("Error tokenizing data. C error: ", "")
        raise DataError(f"{p.name} is ragged or not CSV: {detail}") from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{p.name} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}): save it as UTF-8"
        ) from None
    except Exception as exc:  # the readers' own errors (pyarrow, zlib, ...): the file cannot be read
        kind = "a parquet file pyarrow can read" if suffix == ".parquet" else "readable CSV"
        raise DataError(f"{p.name} is not {kind}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc


def read_time_frame(path: str | os.PathLike[str], *, what: str = "market frame") -> pd.DataFrame:
    """Read a ``.parquet`` or ``.csv`` file into a frame indexed by UTC time, or raise one clear DataError.

    The time comes from the index (parquet written by pandas), from a column named one of
    ``time, timestamp, date, datetime, open_time``, or from an unnamed first column (a CSV written with
    ``to_csv()``): ISO strings (naive ones are taken as UTC) or epoch milliseconds.

    Examples
    --------
    >>> import tempfile, os
    >>> from liqtools import load_sample
    >>> path = os.path.join(tempfile.mkdtemp(), "btc.csv")
    >>> load_sample().iloc[:5].to_csv(path)
    >>> read_time_frame(path).index.tz
    datetime.timezone.utc
    >>> read_time_frame(os.path.dirname(path))
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: ... is a directory, not a file (market frame)
    """
    p = Path(path) if os.fspath(path) else Path("")
    df = _read_raw(p, what)
    if len(df) == 0:
        raise DataError(f"{p.name} has no rows ({what})")
    if not isinstance(df.index, pd.DatetimeIndex):
        names = [c for c in df.columns if str(c).lower() in _TIME_NAMES]
        if not names and len(df.columns) and str(df.columns[0]).startswith("Unnamed: 0"):
            names = [df.columns[0]]
        if not names:
            raise DataError(f"{p.name}: no time column (one of {list(_TIME_NAMES)}) and no time index (layout: {LAYOUT_DOC})")
        col = df[names[0]]
        try:
            if pd.api.types.is_numeric_dtype(col):
                index = pd.to_datetime(col, unit="ms", utc=True)
            else:
                index = pd.to_datetime(col, utc=True, format="ISO8601")
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(
                f"{p.name}: cannot read column {names[0]!r} as times ({exc}); ISO times or epoch milliseconds (layout: {LAYOUT_DOC})"
            ) from exc
        df = df.drop(columns=names[0]).set_axis(pd.DatetimeIndex(index, name="time"), axis=0)
    elif df.index.tz is None:
        df.index = df.index.tz_localize("UTC")
    else:
        df.index = df.index.tz_convert("UTC")
    return df


def read_market(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a market frame from ``.parquet`` or ``.csv`` (see :func:`read_time_frame`) and validate it.

    Examples
    --------
    >>> import tempfile, os
    >>> from liqtools import load_sample
    >>> path = os.path.join(tempfile.mkdtemp(), "btc.csv")
    >>> load_sample().to_csv(path)
    >>> len(read_market(path))
    2112
    """
    p = Path(path)
    df = read_time_frame(p)
    try:
        return validate_market(df)
    except DataError as exc:
        hint = "" if LAYOUT_DOC in str(exc) else f" (layout: {LAYOUT_DOC})"
        raise DataError(f"{p.name}: {exc}{hint}") from exc
