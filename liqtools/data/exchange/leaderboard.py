"""``hyperliquid_leaderboard``: account addresses from Hyperliquid's public leaderboard, to feed
:func:`~liqtools.data.exchange.positions.fetch_positions`.

The leaderboard is a plain JSON file (``GET https://stats-data.hyperliquid.xyz/Mainnet/leaderboard``,
about 25 MB, tens of thousands of accounts): ``{"leaderboardRows": [{"ethAddress", "accountValue",
"displayName", "prize", "windowPerformances": [["day", {"pnl", "roi", "vlm"}], ["week", ...],
["month", ...], ["allTime", ...]]}, ...]}``. It is not part of ccxt's unified API, but the request goes
through a ccxt instance's HTTP layer and the one retry loop (:func:`liqtools.data.exchange.retry._call`),
so timeouts and outages are retried like every other request. The parsed table is cached (one parquet
file, written atomically) for ``max_age`` seconds.

The leaderboard ranks accounts by performance and size: a sample of its top accounts is *not* the market
(it leans to large, active traders), which :func:`fetch_positions` users should keep in mind.
"""

from __future__ import annotations

import io
import os
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools._io import atomic_write
from liqtools.data.cache import SeriesCache, cache_root
from liqtools.data.exchange.retry import _call, in_session
from liqtools.data.exchange.venues import _hooks
from liqtools.errors import CacheError, DataError, FetchError

__all__ = ["LEADERBOARD_URL", "hyperliquid_leaderboard"]

LEADERBOARD_URL = "https://stats-data.hyperliquid.xyz/Mainnet/leaderboard"
_WINDOWS = ("day", "week", "month", "allTime")
_ORDER = ("account_value", "pnl", "roi", "volume")
COLUMNS = ("user", "display_name", "account_value", "pnl", "roi", "volume")


@in_session
def hyperliquid_leaderboard(
    top: int | None = 100,
    *,
    window: Literal["day", "week", "month", "allTime"] = "month",
    order_by: Literal["account_value", "pnl", "roi", "volume"] = "account_value",
    exchange: Any = "hyperliquid",
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    max_age: float | None = 86_400.0,
    retries: int = 5,
    backoff: float = 1.0,
) -> pd.DataFrame:
    """Hyperliquid's leaderboard: the ``top`` accounts by ``order_by`` (descending), one row each.

    Columns ``user`` (lower-case 0x address), ``display_name`` (None where unset), ``account_value`` (USD),
    and the ``window``'s ``pnl`` (USD), ``roi`` (fraction) and ``volume`` (USD). ``top=None`` keeps every
    account. ``df.attrs["time"]`` is when the leaderboard was downloaded. The download is cached for
    ``max_age`` seconds (a day; None: forever; ``cache_dir=False``: no cache). Pass
    ``df["user"].tolist()`` to :func:`~liqtools.data.exchange.positions.fetch_positions`.

    Examples
    --------
    Offline, with a recorded-shape answer in place of the network:

    >>> import ccxt
    >>> ex = ccxt.hyperliquid({"enableRateLimit": False})
    >>> _ = ex.set_markets([])  # no market list needed
    >>> row = {"ethAddress": "0x" + "AB" * 20, "accountValue": "1500.5", "displayName": None, "prize": 0,
    ...        "windowPerformances": [["month", {"pnl": "10.0", "roi": "0.01", "vlm": "2000.0"}]]}
    >>> ex.fetch = lambda url, method="GET", headers=None, body=None: {"leaderboardRows": [row]}
    >>> hyperliquid_leaderboard(exchange=ex, cache_dir=False).to_dict("records")
    [{'user': '0xabababababababababababababababababababab', 'display_name': None, 'account_value': 1500.5, 'pnl': 10.0, \
'roi': 0.01, 'volume': 2000.0}]
    """
    if window not in _WINDOWS:
        raise DataError(f"window must be one of {list(_WINDOWS)}, got {window!r}")
    if order_by not in _ORDER:
        raise DataError(f"order_by must be one of {list(_ORDER)}, got {order_by!r}")
    if top is not None and not (isinstance(top, (int, np.integer)) and top >= 1):
        raise DataError(f"top must be a whole number >= 1 or None, got {top!r}")
    ex = _hooks()._resolve_exchange(exchange)
    path = None
    if cache_dir is not False:
        store = SeriesCache(cache_root(cache_dir), str(ex.id), "_leaderboard", "stats", "leaderboard")
        path = store.path / "leaderboard.parquet"
    table = _cached(path, max_age)
    if table is None:
        answer = _call(
            ex, "leaderboard", None, lambda: ex.fetch(LEADERBOARD_URL, "GET"), retries=retries, backoff=backoff
        )
        table = _parse(answer, str(ex.id))
        if path is not None:
            buf = io.BytesIO()
            table.to_parquet(buf, index=False)
            try:
                atomic_write(path, lambda fh: fh.write(buf.getvalue()))
            except OSError as exc:
                raise CacheError(f"cannot write {path} ({exc}); set LIQTOOLS_CACHE_DIR or pass cache_dir=") from exc
    got = table[table["window"] == window]
    got = got.sort_values(order_by, ascending=False, kind="stable", na_position="last")
    if top is not None:
        got = got.head(int(top))
    out = got[list(COLUMNS)].reset_index(drop=True)
    out.attrs["time"] = pd.Timestamp(int(table["time_ms"].iloc[0]), unit="ms", tz="UTC") if len(table) else None
    return out


def _cached(path: Any, max_age: float | None) -> pd.DataFrame | None:
    if path is None or not path.is_file():
        return None
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # a file that cannot be read is not trusted
        raise CacheError(f"unreadable cache file {path} ({exc}); delete it and run again") from exc
    if len(table) and max_age is not None and _hooks()._now_ms() - int(table["time_ms"].iloc[0]) > max_age * 1000:
        return None
    return table


def _parse(answer: Any, ex_id: str) -> pd.DataFrame:
    """The leaderboard JSON as one row per (account, window)."""
    rows = answer.get("leaderboardRows") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise FetchError(
            f"{ex_id} leaderboard: the answer has no 'leaderboardRows' list ({type(answer).__name__} instead)",
            exchange=ex_id,
            method="leaderboard",
        )
    now = _hooks()._now_ms()
    out: dict[str, list[Any]] = {
        c: [] for c in ("user", "display_name", "account_value", "window", "pnl", "roi", "volume")
    }
    for i, r in enumerate(rows):
        try:
            user = str(r["ethAddress"]).lower()
            user = user if user.startswith("0x") else "0x" + user
            value = float(r["accountValue"])
            for window, perf in r.get("windowPerformances") or []:
                out["user"].append(user)
                out["display_name"].append(r.get("displayName"))
                out["account_value"].append(value)
                out["window"].append(str(window))
                out["pnl"].append(float(perf["pnl"]))
                out["roi"].append(float(perf["roi"]))
                out["volume"].append(float(perf["vlm"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise FetchError(
                f"{ex_id} leaderboard row {i}: unexpected shape ({type(exc).__name__}: {exc}): {str(r)[:200]}",
                exchange=ex_id,
                method="leaderboard",
            ) from exc
    df = pd.DataFrame(out)
    df["display_name"] = df["display_name"].astype(object)
    df["time_ms"] = np.int64(now)
    return df
