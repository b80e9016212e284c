"""The one column schema for market frames, and the one validation at the door.

A *market frame* is a :class:`pandas.DataFrame` with

* a UTC :class:`pandas.DatetimeIndex`, sorted and unique (one row per candle, labelled by its open time);
* float columns ``open, high, low, close, volume`` (volume in base units, e.g. BTC);
* optional float columns ``taker_buy_volume`` (base units), ``oi_usd`` (open interest in USD, NaN where
  unknown), ``funding_rate`` (the last settled rate, a fraction per funding interval), ``mark_close``
  and, beyond the core schema, ``mark_high`` / ``mark_low`` (mark-price candle extremes).

:func:`validate_market` checks a frame once, where data enters liqtools; everything downstream trusts it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from liqtools._checks import candles_fine, column_fine, none_above, times_fine
from liqtools.errors import DataError

__all__ = [
    "COLUMNS",
    "LAYOUT_DOC",
    "LONG_SHORT_RATIO",
    "OHLCV",
    "OPTIONAL",
    "PRICE_COLUMNS",
    "validate_market",
]

#: Where the market frame's layout (time index, columns, units) is documented; error messages point here.
LAYOUT_DOC = "docs/model.md#your-data-the-market-frame"

OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")
OPTIONAL: tuple[str, ...] = (
    "taker_buy_volume",
    "oi_usd",
    "funding_rate",
    "mark_close",
    "mark_high",
    "mark_low",
)
COLUMNS: tuple[str, ...] = OHLCV + OPTIONAL
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "mark_close", "mark_high", "mark_low")
# Beyond the schema (kept as it is by validate_market): long / short accounts, NaN where unknown.
LONG_SHORT_RATIO: str = "long_short_ratio"
# Columns that may hold NaN: open interest is carried forward by the model, funding is sparse.
_NULLABLE = frozenset({"oi_usd", "funding_rate"})
#: Largest magnitude any market column may hold (the model sums values over levels and candles).
MAX_ABS_VALUE = 1e30
_TAKER_SLACK = 1 + 1e-9  # taker_buy_volume may exceed volume by rounding only
_POSITIVE = frozenset(PRICE_COLUMNS) | {"oi_usd"}
_NON_NEGATIVE = frozenset({"volume", "taker_buy_volume"})


def _row(index: pd.Index, pos: int) -> str:
    return f"row {pos} ({index[pos]})"


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _float_values(column: pd.Series | pd.DataFrame, col: str) -> np.ndarray:
    """The column as float64 (NaN for missing); a float64 column's own values, not a copy."""
    if isinstance(column, pd.Series) and column.dtype == np.float64:  # (two columns of one name: a frame)
        return column.to_numpy()
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataError(f"column {col!r} is not numeric ({exc})") from exc


def _bad_index(index: pd.DatetimeIndex) -> None:
    """Raise for the index's first missing, decreasing or repeated timestamp."""
    if index.hasnans:
        raise DataError(f"index has a missing timestamp at {_row(index, _first(np.asarray(index.isna())))}")
    step = np.diff(index.asi8)
    back = step < 0
    if back.any():
        raise DataError(f"index is not sorted: {_row(index, _first(back) + 1)} comes before the row above it")
    dup = step == 0
    if dup.any():
        raise DataError(f"duplicate timestamp {index[_first(dup) + 1]} at rows {_first(dup)} and {_first(dup) + 1}")
    raise AssertionError("the index: the compiled check and numpy's disagree")  # pragma: no cover


def _bad_column(col: str, values: np.ndarray, index: pd.Index) -> None:
    """Raise for the column's first unacceptable value: not finite (NaN allowed in nullable columns), too
    large, below 0 where it may not be, or not above 0 where it must be."""
    bad = ~np.isfinite(values) if col not in _NULLABLE else np.isinf(values)
    if bad.any():
        pos = _first(bad)
        raise DataError(f"column {col!r} has a non-finite value {values[pos]} at {_row(index, pos)}")
    if (np.abs(values) > MAX_ABS_VALUE).any():
        pos = _first(np.abs(values) > MAX_ABS_VALUE)
        raise DataError(f"column {col!r} has {values[pos]:g} at {_row(index, pos)}, above {MAX_ABS_VALUE:g}: rescale the units")
    if col in _NON_NEGATIVE and (values < 0).any():
        pos = _first(values < 0)
        raise DataError(f"column {col!r} must be >= 0, got {values[pos]} at {_row(index, pos)}")
    if col in _POSITIVE and (values <= 0).any():
        pos = _first(values <= 0)
        nan_note = " (NaN for unknown)" if col == "oi_usd" else ""
        raise DataError(f"column {col!r} must be > 0{nan_note}, got {values[pos]} at {_row(index, pos)}")
    raise AssertionError(f"column {col!r}: the compiled check and numpy's disagree")  # pragma: no cover


def validate_market(df: pd.DataFrame, *, require: Iterable[str] = (), copy: bool = True) -> pd.DataFrame:
    """Check a market frame against the schema and return a clean copy.

    The copy has a UTC index and float64 columns; columns outside the schema are kept as they are.
    Tz-aware indexes in another zone are converted to UTC; a naive index is refused, since guessing
    its zone could shift every candle.

    Parameters
    ----------
    df
        Candles, one row per period, indexed by open time.
    require
        Optional columns that must be present as well (e.g. ``("oi_usd",)`` for the heatmap).
    copy
        False: the float64 columns are the caller's own buffers, not copies (for a caller that keeps none
        of the result's arrays, or copies what it keeps; the heatmap does, saving 5 ms on a year of minutes).

    Raises
    ------
    DataError
        (a ``ValueError``) naming the column and the first offending row.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2026-01-01", periods=2, freq="h", tz="UTC")
    >>> df = pd.DataFrame({"open": [1.0, 2], "high": [2.0, 3], "low": [0.5, 1.5],
    ...                    "close": [2.0, 2.5], "volume": [10, 12]}, index=idx)
    >>> validate_market(df).dtypes["volume"]
    dtype('float64')
    >>> validate_market(df.iloc[::-1])
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: index is not sorted: row 1 (2026-01-01 00:00:00+00:00) comes before the row above it
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    required = list(OHLCV) + [c for c in require if c not in OHLCV]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; a market frame needs {required} (layout: {LAYOUT_DOC})")
    if len(df) == 0:
        raise DataError("the market frame is empty")
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"index must be a UTC DatetimeIndex, got {type(index).__name__} (layout: {LAYOUT_DOC})")
    if index.tz is None:
        raise DataError(f"index has no time zone; use df.tz_localize('UTC') if the times are UTC (layout: {LAYOUT_DOC})")
    index = index.tz_convert("UTC")
    if not times_fine(index.asi8):  # one compiled pass; numpy names the first offending row
        _bad_index(index)

    # deep unless asked: results keep numpy views of its columns, which must not be the caller's buffers
    # (copy on write does not cover them: once the validated frame is gone, a write to the caller's frame
    # is in place)
    out = df.copy(deep=copy)
    out.index = index
    for col in [c for c in COLUMNS if c in out.columns]:
        values = _float_values(out[col], col)
        # one compiled pass for the common case (every value fine); which value is wrong is found on failure
        floor = 0.0 if col in _POSITIVE or col in _NON_NEGATIVE else -np.inf
        if not column_fine(values, col in _NULLABLE, floor, col in _POSITIVE, MAX_ABS_VALUE):
            _bad_column(col, values, index)
        if out[col].dtype != np.float64:  # a float64 column already holds exactly these values
            out[col] = values

    high, low = out["high"].to_numpy(), out["low"].to_numpy()
    if not candles_fine(out["open"].to_numpy(), high, low, out["close"].to_numpy()):
        checks = [
            (high < low, "high < low"),
            (out["open"].to_numpy() > high, "open above high"),
            (out["open"].to_numpy() < low, "open below low"),
            (out["close"].to_numpy() > high, "close above high"),
            (out["close"].to_numpy() < low, "close below low"),
        ]
        for mask, what in checks:
            if mask.any():
                pos = _first(mask)
                raise DataError(f"{what} at {_row(index, pos)}: high={high[pos]}, low={low[pos]}")
    if "mark_high" in out and "mark_low" in out:
        m_hi, m_lo = out["mark_high"].to_numpy(), out["mark_low"].to_numpy()
        mark_checks = [(m_hi < m_lo, "mark_high < mark_low")]
        if "mark_close" in out:
            m_c = out["mark_close"].to_numpy()
            mark_checks += [(m_c > m_hi, "mark_close above mark_high"), (m_c < m_lo, "mark_close below mark_low")]
        for mask, what in mark_checks:
            if mask.any():
                pos = _first(mask)
                raise DataError(f"{what} at {_row(index, pos)}: mark_high={m_hi[pos]}, mark_low={m_lo[pos]}")
    if "taker_buy_volume" in out:
        taker, volume = out["taker_buy_volume"].to_numpy(), out["volume"].to_numpy()
        if not none_above(taker, volume, _TAKER_SLACK):
            over = taker > volume * _TAKER_SLACK
            raise DataError(f"taker_buy_volume exceeds volume at {_row(index, _first(over))}")
    return out
