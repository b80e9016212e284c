"""Readers for Binance's public archive files (zip or CSV, with or without header): pure, no network."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market

ARCHIVE_URL = "https://data.binance.vision"
Kind = Literal["klines", "markPriceKlines", "metrics", "liquidationSnapshot"]
_KINDS = ("klines", "markPriceKlines", "metrics", "liquidationSnapshot")
_KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
_DAY_MS = 86_400_000


def _csv_bytes(source: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    """The CSV inside a zip (or a plain CSV) as bytes, with a name for messages."""
    if isinstance(source, bytes):
        data, name = source, "<bytes>"
    else:
        p = Path(source)
        if not p.exists():
            raise DataError(f"no such file: {p}")
        data, name = p.read_bytes(), p.name
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
                if not members:
                    raise DataError(f"{name}: the zip holds no CSV file")
                return zf.read(members[0]), name
        except zipfile.BadZipFile as exc:
            raise DataError(f"{name}: not a valid zip file ({exc})") from exc
    return data, name


def _has_header(data: bytes) -> bool:
    first = data.split(b"\n", 1)[0].strip()
    return bool(first) and not first[:1].isdigit()


def _ms_index(values: np.ndarray) -> pd.DatetimeIndex:
    v = values.astype(np.int64)
    # spot archives switched to microseconds in 2025; futures use milliseconds
    if len(v) and v.max() > 10**14:
        v = v // 1000
    return pd.DatetimeIndex(pd.to_datetime(v, unit="ms", utc=True), name="time").as_unit("ns")


def _read_klines_frame(sources: Iterable[str | os.PathLike[str] | bytes]) -> pd.DataFrame:
    frames = []
    for src in sources:
        data, name = _csv_bytes(src)
        if not data.strip():
            continue
        header = 0 if _has_header(data) else None
        try:
            df = pd.read_csv(io.BytesIO(data), header=header)
        except Exception as exc:
            raise DataError(f"{name}: cannot read as a Binance klines CSV ({exc})") from exc
        if header is None:
            if df.shape[1] < 11:
                raise DataError(f"{name}: expected 12 kline columns, got {df.shape[1]}")
            df = df.iloc[:, : len(_KLINE_COLUMNS)]
            df.columns = list(_KLINE_COLUMNS)[: df.shape[1]]
        missing = [c for c in ("open_time", "open", "high", "low", "close", "volume") if c not in df.columns]
        if missing:
            raise DataError(f"{name}: missing kline column(s) {missing}")
        frames.append(df)
    if not frames:
        raise DataError("no kline rows in the given files")
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    df = df.drop_duplicates("open_time", keep="last").sort_values("open_time", kind="stable")
    return df


def read_binance_klines(*paths: str | os.PathLike[str] | bytes) -> pd.DataFrame:
    """Read Binance archive kline files (zip or CSV, with or without header) into a market frame.

    Columns ``open, high, low, close, volume`` and ``taker_buy_volume`` (base units), indexed by open time.

    Examples
    --------
    >>> csv = (b"open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    ...        b"taker_buy_quote_volume,ignore\\n"
    ...        b"1712738460000,71481.90,71481.90,71481.90,71481.90,0.002,1712738519999,142.96380,1,0.002,142.96380,0\\n")
    >>> read_binance_klines(csv)[["close", "taker_buy_volume"]]
                                 close  taker_buy_volume
    time
    2024-04-10 08:41:00+00:00  71481.9             0.002
    """
    df = _read_klines_frame(paths)
    out = pd.DataFrame(
        {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")},
        index=_ms_index(df["open_time"].to_numpy()),
    )
    if "taker_buy_volume" in df.columns:
        out["taker_buy_volume"] = pd.to_numeric(df["taker_buy_volume"], errors="coerce").to_numpy(dtype=np.float64)
    return validate_market(out)


def _read_mark_klines(*paths: str | os.PathLike[str] | bytes) -> pd.DataFrame:
    df = _read_klines_frame(paths)
    return pd.DataFrame(
        {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close")},
        index=_ms_index(df["open_time"].to_numpy()),
    )


_METRIC_NAMES = {
    "sum_open_interest": "oi_contracts",
    "sum_open_interest_value": "oi_usd",
    "count_toptrader_long_short_ratio": "top_trader_account_ratio",
    "sum_toptrader_long_short_ratio": "top_trader_position_ratio",
    "count_long_short_ratio": "account_ratio",
    "sum_taker_long_short_vol_ratio": "taker_buy_sell_ratio",
}


def read_binance_metrics(*paths: str | os.PathLike[str] | bytes) -> pd.DataFrame:
    """Read Binance archive ``metrics`` files: 5-minute open interest and long/short ratios.

    Columns ``oi_usd`` (``sum_open_interest_value``, USD), ``oi_contracts`` (``sum_open_interest``),
    ``top_trader_account_ratio``, ``top_trader_position_ratio``, ``account_ratio`` (long/short accounts,
    all traders) and ``taker_buy_sell_ratio``, indexed by the UTC snapshot time.

    Examples
    --------
    >>> csv = (b"create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
    ...        b"sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\\n"
    ...        b"2024-01-01 00:05:00,BTCUSDT,70000.5,2960000000.0,1.5,1.2,1.8,0.9\\n")
    >>> read_binance_metrics(csv)["oi_usd"].iloc[0]
    np.float64(2960000000.0)
    """
    frames = []
    for src in paths:
        data, name = _csv_bytes(src)
        if not data.strip():
            continue
        try:
            df = pd.read_csv(io.BytesIO(data))
        except Exception as exc:
            raise DataError(f"{name}: cannot read as a Binance metrics CSV ({exc})") from exc
        missing = [c for c in ("create_time", "sum_open_interest", "sum_open_interest_value") if c not in df.columns]
        if missing:
            raise DataError(f"{name}: missing metrics column(s) {missing}")
        frames.append(df)
    if not frames:
        raise DataError("no metrics rows in the given files")
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    times = pd.to_datetime(df["create_time"], utc=True, format="mixed")
    out = pd.DataFrame(
        {new: pd.to_numeric(df[old], errors="coerce").to_numpy(dtype=np.float64) for old, new in _METRIC_NAMES.items() if old in df},
        index=pd.DatetimeIndex(times, name="time").as_unit("ns"),
    )
    out = out[~out.index.duplicated(keep="last")].sort_index()
    out.loc[~(out["oi_usd"] > 0), "oi_usd"] = np.nan
    return out


def read_binance_liquidations(*paths: str | os.PathLike[str] | bytes) -> pd.DataFrame:
    """Read Binance archive ``liquidationSnapshot`` files: one row per liquidation order.

    Columns ``side`` (the liquidated position: ``long`` for a SELL order, ``short`` for a BUY order),
    ``price``, ``average_price``, ``quantity`` (filled, base units) and ``notional_usd``
    (filled quantity x average price), indexed by UTC time. These files are snapshots (at most one order
    per symbol per second was published), so totals undercount.

    Examples
    --------
    >>> csv = (b"time,side,order_type,time_in_force,original_quantity,price,average_price,order_status,"
    ...        b"last_fill_quantity,accumulated_fill_quantity\\n"
    ...        b"1625097601000,SELL,LIMIT,IOC,0.010,34530.12,34712.50,FILLED,0.010,0.010\\n")
    >>> read_binance_liquidations(csv)[["side", "notional_usd"]]
                                  side  notional_usd
    time
    2021-07-01 00:00:01+00:00     long       347.125
    """
    frames = []
    for src in paths:
        data, name = _csv_bytes(src)
        if not data.strip():
            continue
        df = pd.read_csv(io.BytesIO(data))
        missing = [c for c in ("time", "side", "price", "average_price", "accumulated_fill_quantity") if c not in df]
        if missing:
            raise DataError(f"{name}: missing liquidationSnapshot column(s) {missing}")
        frames.append(df)
    cols = {"side": pd.Series(dtype=object), "price": pd.Series(dtype=float), "average_price": pd.Series(dtype=float),
            "quantity": pd.Series(dtype=float), "notional_usd": pd.Series(dtype=float)}
    if not frames:
        return pd.DataFrame(cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))
    df = pd.concat(frames, ignore_index=True)
    qty = pd.to_numeric(df["accumulated_fill_quantity"], errors="coerce").to_numpy(dtype=np.float64)
    avg = pd.to_numeric(df["average_price"], errors="coerce").to_numpy(dtype=np.float64)
    out = pd.DataFrame(
        {
            "side": np.where(df["side"].astype(str).str.upper() == "SELL", "long", "short"),
            "price": pd.to_numeric(df["price"], errors="coerce").to_numpy(dtype=np.float64),
            "average_price": avg,
            "quantity": qty,
            "notional_usd": qty * avg,
        },
        index=_ms_index(pd.to_numeric(df["time"]).to_numpy()),
    )
    return out.sort_index(kind="stable")


