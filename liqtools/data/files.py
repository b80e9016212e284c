"""Market frames from local files (parquet or CSV), checked against the schema."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market

__all__ = ["read_market"]

_TIME_NAMES = ("time", "timestamp", "date", "datetime", "open_time")


def read_market(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a market frame from ``.parquet`` or ``.csv`` and validate it.

    The time comes from the index (parquet written by pandas) or from a column named one of
    ``time, timestamp, date, datetime, open_time``: ISO strings (naive ones are taken as UTC) or epoch
    milliseconds.

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
    if not p.exists():
        raise DataError(f"no such file: {p}")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        df = pd.read_parquet(p)
    elif suffix in (".csv", ".gz"):
        df = pd.read_csv(p)
    else:
        raise DataError(f"cannot read {p.name}: expected a .parquet or .csv file")
    if not isinstance(df.index, pd.DatetimeIndex):
        names = [c for c in df.columns if str(c).lower() in _TIME_NAMES]
        if not names:
            raise DataError(f"{p.name}: no time column (one of {list(_TIME_NAMES)}) and no time index")
        col = df[names[0]]
        try:
            if pd.api.types.is_numeric_dtype(col):
                index = pd.to_datetime(col, unit="ms", utc=True)
            else:
                index = pd.to_datetime(col, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise DataError(f"{p.name}: cannot read column {names[0]!r} as times ({exc})") from exc
        df = df.drop(columns=names[0]).set_axis(pd.DatetimeIndex(index, name="time"), axis=0)
    elif df.index.tz is None:
        df.index = df.index.tz_localize("UTC")
    try:
        return validate_market(df)
    except DataError as exc:
        raise DataError(f"{p.name}: {exc}") from exc
