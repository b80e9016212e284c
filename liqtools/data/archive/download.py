"""The archive downloader: daily files into the liqtools cache, nothing cached that is not a whole, valid zip.

Each file is fetched with retries: network errors, HTTP 5xx and 429, a body cut short of its
``Content-Length``, a body that is not a valid zip (an HTML error page, half a file) and a body that
fails its published ``.CHECKSUM`` (SHA-256, where Binance publishes one) all count as transient faults:
retried with backoff, then reported, and never written to the cache. A cached file that is not a valid
zip (left by an older version) is dropped and downloaded again.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from liqtools._io import atomic_write
from liqtools.data.archive.readers import (
    _KINDS,
    ARCHIVE_URL,
    Kind,
    _read_mark_klines,
    read_binance_klines,
    read_binance_liquidations,
    read_binance_metrics,
)
from liqtools.errors import DataError, FetchError
from liqtools.schema import validate_market

_SETTLE_DAYS = 3  # a day missing from the archive this long after it ended is taken as never coming


class _Transient(Exception):
    """A fault worth another attempt (the message says what went wrong); ``offline``: no answer came back."""

    def __init__(self, message: str, *, offline: bool = False):
        super().__init__(message)
        self.offline = offline


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



def _get_once(url: str, what: str) -> bytes | None:
    """One GET: the whole body, ``None`` for 404; :class:`_Transient` for faults worth retrying."""
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read()
            length = resp.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        if exc.code < 500 and exc.code != 429:
            raise FetchError(f"binance archive {what}: HTTP {exc.code} for {url}; check the symbol and interval",
                             exchange="binance-archive", method=what) from exc
        raise _Transient(f"HTTP {exc.code}") from exc
    except http.client.IncompleteRead as exc:
        raise _Transient(f"body truncated after {len(exc.partial)} bytes (IncompleteRead)") from exc
    except http.client.HTTPException as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise _Transient(f"{type(exc).__name__}: {exc}", offline=True) from exc
    if length is not None and length.isdigit() and int(length) != len(data):
        raise _Transient(f"body truncated: {len(data)} of {length} bytes")
    return data


def _zip_problem(data: bytes) -> str | None:
    """Why ``data`` is not a whole archive zip with a CSV inside, or ``None`` if it is one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            bad = zf.testzip()
            if bad is not None:
                return f"not a valid zip (member {bad} fails its CRC)"
            if not any(m.lower().endswith(".csv") for m in zf.namelist()):
                return "not a valid archive zip (no CSV inside)"
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        start = data[:40].decode("ascii", "replace")
        return f"not a valid zip ({exc}; the body starts {start!r})"
    return None


def _download(url: str, *, retries: int, backoff: float, what: str, verify: bool, answered: list[bool]) -> bytes | None:
    """A checked archive file (``None`` if the archive has none): whole, a valid zip, matching its checksum.

    ``answered`` (one flag, shared by the files of one call): the archive has answered once. Until then a
    connection error or timeout fails at once ("no network connection"), without retries.
    """
    attempt = 0
    while True:
        try:
            try:
                data = _get_once(url, what)
            except _Transient as exc:
                if exc.offline and not answered[0]:
                    host = urllib.parse.urlsplit(url).netloc
                    raise FetchError(
                        f"no network connection to {host} (binance archive {what}, first request: {exc}); check the "
                        "internet connection or proxy and run again: nothing was downloaded",
                        exchange="binance-archive", method=what,
                    ) from exc.__cause__
                raise
            answered[0] = True
            if data is None:
                return None
            problem = _zip_problem(data)
            if problem is None and verify:
                check = _get_once(url + ".CHECKSUM", what)
                if check is not None:  # older files have no checksum
                    expected = check.decode("ascii", "replace").split()[0].strip().lower() if check.strip() else ""
                    actual = hashlib.sha256(data).hexdigest()
                    if expected != actual:
                        problem = f"the body does not match its .CHECKSUM (sha256 {actual} != {expected})"
            if problem is None:
                return data
            err: Exception = _Transient(problem)
        except _Transient as exc:
            err = exc
        if attempt >= retries:
            raise FetchError(
                f"binance archive {what}: {url} failed after {attempt + 1} attempts ({err}); nothing was cached for "
                "it (files already downloaded are), run the same call again later to resume",
                exchange="binance-archive", method=what,
            ) from (err.__cause__ or err)
        delay = min(60.0, backoff * 2**attempt) * random.uniform(0.5, 1.5)
        if delay > 0:
            sys.modules["liqtools.data.archive"]._sleep(delay)
        attempt += 1


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def _cached(local: Path | None) -> bytes | None:
    """A cached file's bytes; a file that is not a valid zip is removed (it is fetched again)."""
    if local is None or not local.exists():
        return None
    data = local.read_bytes()
    if _zip_problem(data) is not None:
        local.unlink(missing_ok=True)
        return None
    return data


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
    answered = [False]
    now = pd.Timestamp.now(tz="UTC")
    try:
        ctx = store.lock() if store is not None else _null()
        with ctx:
            for day in days:
                url = binance_archive_url(kind, symbol, day, interval=interval, market=market, base_url=base_url)
                name = url.rsplit("/", 1)[1]
                local = store.path / name if store is not None else None
                gone = store.path / (name + ".missing") if store is not None else None
                data = _cached(local)
                if data is not None:
                    out.append(data)
                elif gone is not None and gone.exists():
                    pass
                else:
                    data = _download(url, retries=retries, backoff=backoff, what=kind, verify=verify, answered=answered)
                    if data is None:
                        settled = now - (day + pd.Timedelta(days=1)) > pd.Timedelta(days=_SETTLE_DAYS)
                        if gone is not None and settled:
                            _atomic_write(gone, b"")
                    else:
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
