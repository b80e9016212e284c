"""Binance's public data archive (data.binance.vision): readers for its daily files and a downloader.

Files (USD-M futures, one zip with one CSV per UTC day), under
``<base>/data/futures/um/daily/<kind>/<SYMBOL>/[<interval>/]<SYMBOL>-<interval or kind>-<YYYY-MM-DD>.zip``:

* ``klines`` (and ``markPriceKlines``): ``open_time, open, high, low, close, volume, close_time,
  quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore`` (older files have no header);
* ``metrics``: 5-minute ``create_time, symbol, sum_open_interest`` (contracts = BTC for BTCUSDT),
  ``sum_open_interest_value`` (USD), ``count_toptrader_long_short_ratio``,
  ``sum_toptrader_long_short_ratio``, ``count_long_short_ratio``, ``sum_taker_long_short_vol_ratio``;
* ``liquidationSnapshot`` (published for some periods only): ``time, side, order_type, time_in_force,
  original_quantity, price, average_price, order_status, last_fill_quantity, accumulated_fill_quantity``.

The archive is where Binance's history lives beyond the REST windows (open interest over REST reaches
back about 30 days). Downloads are checked against Binance's ``.CHECKSUM`` files (SHA-256), kept in the
liqtools cache (written atomically), and a day the archive does not have is remembered once it is old
enough not to appear later, so a repeated call makes no request.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools._io import atomic_write
from liqtools.errors import DataError, FetchError
from liqtools.schema import validate_market

__all__ = [
    "ARCHIVE_URL",
    "read_binance_klines",
    "read_binance_metrics",
    "read_binance_liquidations",
    "fetch_binance_archive",
    "fetch_binance_market",
    "binance_archive_url",
]

ARCHIVE_URL = "https://data.binance.vision"
Kind = Literal["klines", "markPriceKlines", "metrics", "liquidationSnapshot"]
_KINDS = ("klines", "markPriceKlines", "metrics", "liquidationSnapshot")
_KLINE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)
_DAY_MS = 86_400_000
_SETTLE_DAYS = 3  # a day missing from the archive this long after it ended is taken as never coming


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# -- reading -----------------------------------------------------------------------------------------


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
        except Exception as exc:  # noqa: BLE001 - pandas raises several types here
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
        except Exception as exc:  # noqa: BLE001
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


# -- downloading -------------------------------------------------------------------------------------


def _archive_symbol(symbol: str, market: str) -> str:
    if "/" not in symbol:
        return symbol.upper()
    base, rest = symbol.split("/", 1)
    quote = rest.split(":", 1)[0]
    return f"{base}{quote}_PERP" if market == "cm" else f"{base}{quote}"


def binance_archive_url(kind: str, symbol: str, day: Any, *, interval: str | None = None, market: str = "um",
                        base_url: str = ARCHIVE_URL) -> str:
    """URL of one daily archive file.

    Examples
    --------
    >>> binance_archive_url("klines", "BTC/USDT:USDT", "2024-01-01", interval="1m")
    'https://data.binance.vision/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip'
    >>> binance_archive_url("metrics", "BTCUSDT", "2024-01-01")
    'https://data.binance.vision/data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-01-01.zip'
    """
    if kind not in _KINDS:
        raise DataError(f"unknown archive kind {kind!r}; one of {list(_KINDS)}")
    sym = _archive_symbol(symbol, market)
    date = pd.Timestamp(day).strftime("%Y-%m-%d")
    if kind in ("klines", "markPriceKlines"):
        if not interval:
            raise DataError(f"archive {kind} need an interval such as '1m' or '1h'")
        return f"{base_url.rstrip('/')}/data/futures/{market}/daily/{kind}/{sym}/{interval}/{sym}-{interval}-{date}.zip"
    return f"{base_url.rstrip('/')}/data/futures/{market}/daily/{kind}/{sym}/{sym}-{kind}-{date}.zip"


def _get(url: str, *, retries: int, backoff: float, what: str) -> bytes | None:
    """GET with retries; ``None`` for 404 (the archive does not have the file)."""
    attempt = 0
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - https (or a test's http) URL
                return resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            err: Exception = exc
            if exc.code < 500 and exc.code != 429:
                raise FetchError(f"binance archive {what}: HTTP {exc.code} for {url}; check the symbol and interval",
                                 exchange="binance-archive", method=what) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            err = exc
        if attempt >= retries:
            raise FetchError(
                f"binance archive {what}: {url} failed after {attempt + 1} attempts ({err}); files already "
                "downloaded are cached, run the same call again later to resume",
                exchange="binance-archive", method=what,
            ) from err
        delay = min(60.0, backoff * 2**attempt) * random.uniform(0.5, 1.5)
        if delay > 0:
            _sleep(delay)
        attempt += 1


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def _day_files(
    kind: str, symbol: str, days: list[pd.Timestamp], *, interval: str | None, market: str, base_url: str,
    cache_dir: Any, progress: bool, retries: int, backoff: float, verify: bool,
) -> list[bytes]:
    from liqtools.data.cache import SeriesCache, cache_root

    store = None
    if cache_dir is not False:
        store = SeriesCache(cache_root(cache_dir), "binance-archive", f"{market}-{_archive_symbol(symbol, market)}",
                            interval or "-", kind)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(days), desc=f"binance archive {kind} {symbol}", unit="day", leave=False)
    out: list[bytes] = []
    now = pd.Timestamp.now(tz="UTC")
    try:
        ctx = store.lock() if store is not None else _null()
        with ctx:
            for day in days:
                url = binance_archive_url(kind, symbol, day, interval=interval, market=market, base_url=base_url)
                name = url.rsplit("/", 1)[1]
                local = store.path / name if store is not None else None
                gone = store.path / (name + ".missing") if store is not None else None
                if local is not None and local.exists():
                    out.append(local.read_bytes())
                elif gone is not None and gone.exists():
                    pass
                else:
                    data = _get(url, retries=retries, backoff=backoff, what=kind)
                    if data is None:
                        settled = now - (day + pd.Timedelta(days=1)) > pd.Timedelta(days=_SETTLE_DAYS)
                        if gone is not None and settled:
                            _atomic_write(gone, b"")
                    else:
                        if verify:
                            _verify(url, data, retries=retries, backoff=backoff, what=kind)
                        if local is not None:
                            _atomic_write(local, data)
                        out.append(data)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _verify(url: str, data: bytes, *, retries: int, backoff: float, what: str) -> None:
    check = _get(url + ".CHECKSUM", retries=retries, backoff=backoff, what=what)
    if check is None:
        return  # older files have no checksum
    expected = check.decode("ascii", "replace").split()[0].strip().lower()
    actual = hashlib.sha256(data).hexdigest()
    if expected != actual:
        raise FetchError(
            f"binance archive {what}: {url} does not match its .CHECKSUM (sha256 {actual} != {expected}); "
            "the download was corrupted: run again (nothing was cached)",
            exchange="binance-archive", method=what,
        )


def _days(start_ms: int, end_ms: int) -> list[pd.Timestamp]:
    first = pd.Timestamp(start_ms, unit="ms", tz="UTC").normalize()
    last = pd.Timestamp(end_ms - 1, unit="ms", tz="UTC").normalize()
    return list(pd.date_range(first, last, freq="D"))


def fetch_binance_archive(
    kind: Kind,
    symbol: str,
    *,
    start: Any,
    end: Any = None,
    interval: str | None = None,
    market: Literal["um", "cm"] = "um",
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool = True,
    retries: int = 5,
    backoff: float = 1.0,
    verify: bool = True,
) -> pd.DataFrame:
    """Download (or read from the cache) Binance daily archive files and return them as one frame.

    Parameters
    ----------
    kind
        ``"klines"`` (market frame with taker-buy volume), ``"markPriceKlines"`` (mark candles),
        ``"metrics"`` (5-minute open interest and long/short ratios, see :func:`read_binance_metrics`) or
        ``"liquidationSnapshot"`` (see :func:`read_binance_liquidations`).
    symbol
        ``"BTCUSDT"`` or the ccxt symbol ``"BTC/USDT:USDT"``.
    start, end
        Rows in ``[start, end)`` (``end=None``: now); whole UTC days are downloaded.
    interval
        Candle interval for the kline kinds (``"1m"``, ``"1h"``, ...).
    base_url
        Archive root; default ``$LIQTOOLS_BINANCE_ARCHIVE_URL`` or ``https://data.binance.vision``.
    cache_dir, progress, retries, backoff
        As for :func:`liqtools.data.fetch_market_data`; ``cache_dir=False`` keeps nothing on disk.
    verify
        Check each file against its ``.CHECKSUM`` (SHA-256) before using or caching it.

    Days the archive does not have are skipped (a warning-free empty result is possible: e.g.
    ``liquidationSnapshot`` exists only for some periods).
    """
    from liqtools.data.exchange import _to_ms

    if kind not in _KINDS:
        raise DataError(f"unknown archive kind {kind!r}; one of {list(_KINDS)}")
    if kind in ("klines", "markPriceKlines") and not interval:
        raise DataError(f"archive {kind} need interval= (e.g. '1m', '1h')")
    start_ms = _to_ms(start, "start")
    end_ms = _to_ms(end, "end") if end is not None else int(time.time() * 1000)
    if end_ms <= start_ms:
        raise DataError("end must be after start")
    base = base_url or os.environ.get("LIQTOOLS_BINANCE_ARCHIVE_URL") or ARCHIVE_URL
    files = _day_files(kind, symbol, _days(start_ms, end_ms), interval=interval, market=market, base_url=base,
                       cache_dir=cache_dir, progress=progress, retries=retries, backoff=backoff, verify=verify)
    lo, hi = pd.Timestamp(start_ms, unit="ms", tz="UTC"), pd.Timestamp(end_ms, unit="ms", tz="UTC")
    if kind == "liquidationSnapshot":
        df = read_binance_liquidations(*files)
    elif not files:
        if kind == "klines":
            raise DataError(f"the Binance archive has no {interval} klines for {symbol} between {lo} and {hi}")
        return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time"))
    elif kind == "klines":
        df = read_binance_klines(*files)
    elif kind == "markPriceKlines":
        df = _read_mark_klines(*files)
    else:
        df = read_binance_metrics(*files)
    return df[(df.index >= lo) & (df.index < hi)]


def fetch_binance_market(
    symbol: str,
    timeframe: str = "1h",
    *,
    start: Any,
    end: Any = None,
    include: Iterable[str] = ("ohlcv", "open_interest", "mark"),
    **options: Any,
) -> pd.DataFrame:
    """A market frame from the Binance archive alone: klines, ``metrics`` open interest, mark klines.

    Same alignment as :func:`liqtools.data.to_market_frame`; ``taker_buy_volume`` comes with the klines.
    ``options`` go to :func:`fetch_binance_archive` (``base_url``, ``cache_dir``, ``progress``, ...).
    """
    from liqtools.data.exchange import _epoch_ms, to_market_frame

    include = tuple(include)
    k = fetch_binance_archive("klines", symbol, start=start, end=end, interval=timeframe, **options)
    ts = _epoch_ms(k.index)
    ohlcv = pd.DataFrame({"timestamp": ts, **{c: k[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}})
    oi = mark = None
    if "open_interest" in include:
        m = fetch_binance_archive("metrics", symbol, start=start, end=end, **options)
        if len(m):
            oi = pd.DataFrame({"timestamp": _epoch_ms(m.index), "oi_amount": m["oi_contracts"].to_numpy(),
                               "oi_value": m["oi_usd"].to_numpy()})
    if "mark" in include:
        mk = fetch_binance_archive("markPriceKlines", symbol, start=start, end=end, interval=timeframe, **options)
        if len(mk):
            mark = pd.DataFrame({"timestamp": _epoch_ms(mk.index), **{c: mk[c].to_numpy() for c in ("open", "high", "low", "close")}})
    df = to_market_frame(ohlcv, timeframe=timeframe, open_interest=oi, mark=mark)
    if "taker_buy_volume" in k:
        df.insert(5, "taker_buy_volume", k["taker_buy_volume"].reindex(df.index).to_numpy())
    return validate_market(df)
