"""The one converter from ccxt's unified rows into liqtools frames (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from liqtools.data.exchange.venues import _COLUMNS, SERIES, timeframe_ms
from liqtools.errors import DataError
from liqtools.schema import validate_market


def ohlcv_rows(rows: Sequence[Sequence[Any]], columns: int = 6) -> np.ndarray:
    """ccxt OHLCV lists ``[ts, open, high, low, close, volume]`` as a float array (None becomes NaN).

    Examples
    --------
    >>> ohlcv_rows([[1712738460000, 71481.9, 71481.9, 71481.9, 71481.9, 0.002]]).shape
    (1, 6)
    """
    if len(rows) == 0:
        return np.empty((0, columns), dtype=np.float64)
    try:
        arr = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([[np.nan if v is None else float(v) for v in r[:columns]] for r in rows], dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < columns:
        raise DataError(f"OHLCV rows must have {columns} fields [timestamp, open, high, low, close, volume], got shape {arr.shape}")
    return arr[:, :columns]


def _records(rows: Iterable[dict[str, Any]], fields: Sequence[str]) -> np.ndarray:
    out = []
    for r in rows:
        ts = r.get("timestamp")  # a row without one stays, as NaN: the page check refuses it with its position
        out.append([np.nan if ts is None else float(ts)] + [np.nan if r.get(f) is None else float(r[f]) for f in fields])
    return np.asarray(out, dtype=np.float64).reshape(-1, 1 + len(fields))


def _page_array(series: str, page: Any) -> np.ndarray:
    if series == "ohlcv":
        return ohlcv_rows(page, 6)
    if series == "mark":
        return ohlcv_rows(page, 5)
    if series == "open_interest":
        return _records(page, ("openInterestAmount", "openInterestValue"))
    if series == "funding":
        return _records(page, ("fundingRate",))
    if series == "long_short":
        return _records(page, ("longShortRatio",))
    raise DataError(f"unknown series {series!r}; one of {list(SERIES)}")


def _rows_frame(series: str, arr: np.ndarray) -> pd.DataFrame:
    data: dict[str, np.ndarray] = {"timestamp": arr[:, 0].astype(np.int64)}
    for i, col in enumerate(_COLUMNS[series], start=1):
        data[col] = arr[:, i]
    return pd.DataFrame(data)


def _empty(series: str) -> pd.DataFrame:
    return _rows_frame(series, np.empty((0, 1 + len(_COLUMNS[series]))))


def to_market_frame(
    ohlcv: pd.DataFrame | np.ndarray | Sequence[Sequence[Any]],
    *,
    timeframe: str,
    open_interest: pd.DataFrame | None = None,
    funding: pd.DataFrame | None = None,
    mark: pd.DataFrame | None = None,
    long_short: pd.DataFrame | None = None,
    contract_size: float = 1.0,
    inverse: bool = False,
    oi_period: str | None = None,
) -> pd.DataFrame:
    """Build a validated market frame from ccxt rows (the one converter into the schema).

    ``ohlcv`` is ccxt's ``[[ts, open, high, low, close, volume], ...]`` (or a frame with a ``timestamp``
    column in ms); the other series are frames with a ``timestamp`` column as cached by
    :func:`fetch_series`. Alignment to the candle grid (a candle is labelled by its open time ``t`` and
    closes at ``t + timeframe``):

    * ``oi_usd``: the last open-interest snapshot at or before the candle's close, if it is at most one
      candle or one open-interest period (``oi_period``, else inferred from the data) old, else NaN (the model carries open interest forward). USD is
      ``openInterestValue`` where the exchange gives it, else contracts x contract size x the price
      (the close of the candle at the snapshot's time); for inverse contracts contracts x contract size.
    * ``funding_rate``: the last settled rate at or before the candle's close (:func:`fetch_market_data`
      looks back 24 hours before ``start`` for it; NaN where none is found).
    * ``mark_close, mark_high, mark_low``: the mark-price candle with the same open time; a missing mark
      candle is filled from the traded candle (``close, high, low``), and the number filled is in
      ``df.attrs["mark_filled"]``.
    * ``long_short_ratio`` (accounts long / short), as-of like open interest.

    Candles the exchange did not return are not invented: the index can have gaps.

    Examples
    --------
    >>> rows = [[1712738460000, 71481.9, 71481.9, 71481.9, 71481.9, 0.002],
    ...         [1712738520000, 71471.0, 71471.0, 70459.4, 70459.4, 0.12]]
    >>> oi = pd.DataFrame({"timestamp": [1712738520000], "oi_amount": [80000.0], "oi_value": [float("nan")]})
    >>> df = to_market_frame(rows, timeframe="1m", open_interest=oi)
    >>> df["oi_usd"].tolist()
    [5718552000.0, 5718552000.0]
    """
    step = timeframe_ms(timeframe)
    if isinstance(ohlcv, pd.DataFrame):
        base = ohlcv[["timestamp", *_COLUMNS["ohlcv"]]].to_numpy(dtype=np.float64)
    else:
        base = ohlcv_rows(ohlcv)  # type: ignore[arg-type]  # an ndarray of rows reads the same
    if len(base) == 0:
        raise DataError("no candles: the exchange returned nothing for this symbol and period")
    base = base[~np.isnan(base[:, 1:5]).any(axis=1)]
    ts = base[:, 0].astype(np.int64)
    order = np.argsort(ts, kind="stable")
    ts_sorted = ts[order]
    keep = np.ones(len(ts_sorted), dtype=bool)
    keep[:-1] = ts_sorted[1:] != ts_sorted[:-1]
    base = base[order[keep]]
    ts = base[:, 0].astype(np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True), name="time").as_unit("ns")
    volume = base[:, 5]
    volume = np.where(np.isnan(volume), 0.0, volume)
    out = pd.DataFrame(
        {"open": base[:, 1], "high": base[:, 2], "low": base[:, 3], "close": base[:, 4], "volume": volume}, index=index
    )
    close_time = ts + step

    def asof(frame: pd.DataFrame, col: str, tolerance: int | None) -> np.ndarray:
        t = frame["timestamp"].to_numpy(dtype=np.int64)
        v = frame[col].to_numpy(dtype=np.float64)
        ok = ~np.isnan(v)
        t, v = t[ok], v[ok]
        if len(t) == 0:
            return np.full(len(close_time), np.nan)
        o = np.argsort(t, kind="stable")
        t, v = t[o], v[o]
        pos = np.searchsorted(t, close_time, side="right") - 1
        res = np.where(pos >= 0, v[np.clip(pos, 0, None)], np.nan)
        if tolerance is not None:
            age = close_time - np.where(pos >= 0, t[np.clip(pos, 0, None)], 0)
            res = np.where((pos >= 0) & (age <= tolerance), res, np.nan)
        return res

    if open_interest is not None and len(open_interest):
        oi = open_interest.copy()
        t = oi["timestamp"].to_numpy(dtype=np.int64)
        value = oi["oi_value"].to_numpy(dtype=np.float64)
        amount = oi["oi_amount"].to_numpy(dtype=np.float64) * float(contract_size or 1.0)
        if inverse:
            derived = amount
        else:
            # price at the snapshot: close of the candle that ended at or before it, else the next open
            pos = np.searchsorted(close_time, t, side="right") - 1
            price = np.where(pos >= 0, base[np.clip(pos, 0, None), 4], base[np.clip(pos + 1, 0, len(base) - 1), 1])
            derived = amount * price
        oi["usd"] = np.where(np.isfinite(value) & (value > 0), value, derived)
        oi.loc[~(oi["usd"] > 0), "usd"] = np.nan
        spacing = timeframe_ms(oi_period) if oi_period else (int(np.median(np.diff(np.sort(t)))) if len(t) > 1 else step)
        out["oi_usd"] = asof(oi, "usd", max(step, spacing))
    if funding is not None and len(funding):
        out["funding_rate"] = asof(funding, "funding_rate", None)
    if mark is not None and len(mark):
        m = mark.set_index("timestamp")
        m = m[~m.index.duplicated(keep="last")].reindex(ts)
        filled = int(m["close"].isna().sum())
        mc = np.where(m["close"].isna(), out["close"].to_numpy(), m["close"].to_numpy())
        mh = np.where(m["close"].isna(), out["high"].to_numpy(), m["high"].to_numpy())
        ml = np.where(m["close"].isna(), out["low"].to_numpy(), m["low"].to_numpy())
        out["mark_close"] = mc
        out["mark_high"] = np.maximum(mh, mc)
        out["mark_low"] = np.minimum(ml, mc)
        out.attrs["mark_filled"] = filled
    if long_short is not None and len(long_short):
        t = long_short["timestamp"].to_numpy(dtype=np.int64)
        spacing = timeframe_ms(oi_period) if oi_period else (int(np.median(np.diff(np.sort(t)))) if len(t) > 1 else step)
        out["long_short_ratio"] = asof(long_short, "long_short_ratio", max(step, spacing))
    attrs = dict(out.attrs)
    checked = validate_market(out)
    checked.attrs.update(attrs)
    return checked

