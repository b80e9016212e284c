"""``fetch_positions``: the open positions of many accounts (Hyperliquid's public ``clearinghouseState``), one row each.

Hyperliquid publishes every account's perpetual positions, leverage and exchange-computed liquidation
price. ccxt's unified ``fetch_positions`` reads them when the account address is passed as
``params={"user": address}`` (it posts ``{"type": "clearinghouseState", "user": ...}`` to ``/info`` and
parses ``assetPositions``); this module calls it once per account through the one retry loop
(:func:`liqtools.data.exchange.retry._call`) and saves each answer at once
(:mod:`~liqtools.data.exchange.positions_sweep`).

Rate limit: Hyperliquid allows about 1,200 request weight a minute per IP, and a ``clearinghouseState``
query weighs 2. ccxt's hyperliquid class has ``rateLimit = 50`` ms per unit of cost and gives
``clearinghouseState`` a cost of 2, so its limiter (``enableRateLimit``, on in every instance liqtools
builds) spaces account queries 100 ms apart: 600 accounts, 1,200 weight a minute, at the venue's limit.
A sweep of 1,000 accounts therefore takes about 100 s over the network; ``rate_limit=False`` (CLI
``--no-rate-limit``) lifts the limiter for replays and private endpoints.
"""

from __future__ import annotations

import functools
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from liqtools.data.exchange.positions_sweep import AccountCache, sweep
from liqtools.data.exchange.retry import _call, _exchange_id, in_session
from liqtools.data.exchange.venues import _hooks
from liqtools.data.positions_sample import POSITION_COLUMNS
from liqtools.errors import DataError, FetchError

__all__ = ["POSITION_COLUMNS", "fetch_positions", "read_users"]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_FIELDS = ("symbol", "side", "contracts", "notional_usd", "entry_price", "leverage", "margin_mode", "liquidation_price")


def read_users(users: str | os.PathLike[str] | Sequence[str]) -> list[str]:
    """Account addresses from a list, one address, or a text file (one ``0x`` address a line).

    In a file, blank lines and ``#`` comments (whole lines or after an address) are ignored. Addresses
    are lower-cased and repeats dropped (first kept). A malformed address is a :class:`DataError` naming
    it (and its line, for a file).

    >>> read_users(["0x" + "AB" * 20, "0x" + "ab" * 20])
    ['0xabababababababababababababababababababab']
    >>> read_users(["0x12"])
    Traceback (most recent call last):
    ...
    liqtools.errors.DataError: users[0]: '0x12' is not an account address (0x and 40 hex digits)
    """
    if isinstance(users, str) and _ADDRESS.match(users.strip()):
        users = [users]
    if isinstance(users, (str, os.PathLike)):
        path = Path(users)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DataError(f"cannot read the users file {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"the users file {path} is not UTF-8 text (byte {exc.start}): one 0x address a line") from exc
        found: list[str] = []
        for n, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            if not _ADDRESS.match(text):
                raise DataError(f"{path} line {n}: {text!r} is not an account address (0x and 40 hex digits)")
            found.append(text.lower())
        if not found:
            raise DataError(f"{path} lists no account address (one 0x address a line)")
        return list(dict.fromkeys(found))
    if not isinstance(users, Sequence) or not users:
        raise DataError(f"users must be a non-empty list of 0x addresses or a path to a file of them, got {users!r}")
    for i, u in enumerate(users):
        if not isinstance(u, str) or not _ADDRESS.match(u.strip()):
            raise DataError(f"users[{i}]: {u!r} is not an account address (0x and 40 hex digits)")
    return list(dict.fromkeys(u.strip().lower() for u in users))


@functools.lru_cache(maxsize=8)
def _unlimited(exchange_id: str) -> Any:
    cls = type(_hooks()._resolve_exchange(exchange_id))  # validates the id
    return cls({"enableRateLimit": False})


def _instance(exchange: Any, rate_limit: bool) -> Any:
    """The ccxt instance for a name (rate-limited unless ``rate_limit=False``) or the given instance."""
    if isinstance(exchange, str):
        return _hooks()._resolve_exchange(exchange) if rate_limit else _unlimited(exchange)
    return _hooks()._resolve_exchange(exchange)


@in_session
def fetch_positions(
    exchange: Any,
    users: str | os.PathLike[str] | Sequence[str],
    *,
    symbol: str | None = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool = True,
    max_age: float | None = 3600.0,
    rate_limit: bool = True,
    on_error: Literal["raise", "skip"] = "raise",
    retries: int = 5,
    backoff: float = 1.0,
) -> pd.DataFrame:
    """Open positions of many accounts, one row per position (Hyperliquid through ccxt).

    Parameters
    ----------
    exchange
        ``"hyperliquid"`` or a ccxt instance of it (configured, or a test double whose ``fetch`` is replaced).
    users
        Account addresses: a list, or a path to a text file with one ``0x`` address a line (blank lines
        and ``#`` comments ignored; see :func:`read_users`). The largest accounts of the public leaderboard:
        ``hyperliquid_leaderboard(n)["user"].tolist()`` (:mod:`~liqtools.data.exchange.leaderboard`).
    symbol
        Keep only this market (ccxt unified symbol, e.g. ``"BTC/USDC:USDC"``); None keeps every market.
    cache_dir
        Cache root (default ``$LIQTOOLS_CACHE_DIR`` or the user cache directory); ``False`` disables it.
        Each account is saved atomically as it arrives, so a crash loses nothing and a rerun queries only
        the accounts not yet saved (an account with no position is saved too, as fetched-empty).
    progress
        A tqdm bar over the accounts.
    max_age
        Seconds a saved account stays valid (default an hour: positions move); older ones are queried
        again. None keeps every saved account (a fixed snapshot).
    rate_limit
        With an exchange *name*: False builds an instance without ccxt's limiter (replays only; the live
        venue allows about 1,200 weight a minute, see the module text). A given instance keeps its own setting.
    on_error
        A *permanent* failure for one account (the venue refuses the query: not a timeout or rate limit)
        raises by default, naming the account (accounts answered so far stay saved); ``"skip"`` leaves the
        account out, warns, and lists it in ``df.attrs["failed"]`` (not saved: the next run asks again).
        Transient failures are retried (``retries``, ``backoff`` as in
        :func:`~liqtools.data.exchange.fetch_market_data`) and raise when they persist, whatever ``on_error``.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (UTC time of the account's query), ``user``, ``symbol``, ``side`` (``long`` /
        ``short``), ``contracts`` (> 0), ``notional_usd`` (position value at the mark price),
        ``entry_price``, ``leverage``, ``margin_mode`` (``cross`` / ``isolated``), ``liquidation_price``
        (NaN where the venue gives none, e.g. a well-funded cross account). ``df.attrs`` holds
        ``accounts`` (queried or cached), ``no_liquidation_price`` (rows with NaN there) and ``failed``.

    Examples
    --------
    Offline, with ccxt's own parsing over an illustrative answer in the shape ccxt records in its tests:

    >>> import ccxt
    >>> ex = ccxt.hyperliquid({"enableRateLimit": False})
    >>> _ = ex.set_markets([{"id": "0", "symbol": "BTC/USDC:USDC", "base": "BTC", "quote": "USDC", "settle": "USDC",
    ...     "baseName": "BTC", "type": "swap", "spot": False, "swap": True, "future": False, "option": False,
    ...     "contract": True, "linear": True, "inverse": False, "contractSize": 1.0, "active": True,
    ...     "precision": {}, "limits": {}, "info": {}}])
    >>> pos = {"coin": "BTC", "szi": "-0.5", "entryPx": "60000.0", "positionValue": "30500.0",
    ...        "leverage": {"type": "isolated", "value": "10", "rawUsd": "33000.0"}, "liquidationPx": "65700.0",
    ...        "marginUsed": "2500.0", "unrealizedPnl": "-500.0"}
    >>> ex.fetch = lambda url, method="GET", headers=None, body=None: {"assetPositions": [{"type": "oneWay", "position": pos}]}
    >>> df = fetch_positions(ex, ["0x" + "1" * 40], cache_dir=False, progress=False)
    >>> df.drop(columns=["time", "user"]).to_dict("records")
    [{'symbol': 'BTC/USDC:USDC', 'side': 'short', 'contracts': 0.5, 'notional_usd': 30500.0, 'entry_price': 60000.0, \
'leverage': 10.0, 'margin_mode': 'isolated', 'liquidation_price': 65700.0}]
    """
    if on_error not in ("raise", "skip"):
        raise DataError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if max_age is not None and not (isinstance(max_age, (int, float)) and max_age >= 0):
        raise DataError(f"max_age must be seconds >= 0 or None, got {max_age!r}")
    accounts = read_users(users)
    ex_id = _exchange_id(exchange)
    ex = _instance(exchange, rate_limit)
    if symbol is not None:  # a bad symbol fails before the sweep (loading the markets if needed)
        _call(ex, "fetchPositions", symbol, lambda: ex.market(symbol), retries=retries, backoff=backoff)
    cache = None
    if cache_dir is not False:
        from liqtools.data.cache import cache_root

        cache = AccountCache(cache_root(cache_dir), ex_id)
    failed: dict[str, str] = {}

    def fetch_one(user: str) -> list[dict[str, Any]]:
        try:
            raw = _call(
                ex,
                "fetchPositions",
                None,
                lambda: ex.fetch_positions(None, {"user": user}),
                retries=retries,
                backoff=backoff,
            )
        except FetchError as exc:
            raise FetchError(f"account {user}: {exc}", exchange=ex_id, method="fetchPositions") from exc
        return [_row(ex_id, user, p) for p in raw]

    def fetch_or_skip(user: str) -> list[dict[str, Any]] | None:
        try:
            return fetch_one(user)
        except FetchError as exc:
            if on_error == "raise" or _transient(exc):
                raise
            failed[user] = str(exc)
            return None

    if cache is not None:
        with cache.lock():
            got = sweep(
                accounts, fetch_or_skip, cache=cache, max_age=max_age, progress=progress, desc=f"{ex_id} accounts"
            )
    else:
        got = sweep(accounts, fetch_or_skip, cache=None, max_age=max_age, progress=progress, desc=f"{ex_id} accounts")
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(accounts)} accounts failed and were left out (df.attrs['failed']): "
            + "; ".join(list(failed.values())[:2]),
            UserWarning,
            stacklevel=3,
        )
    df = _frame(got)
    if symbol is not None:
        df = df[df["symbol"] == ex.market(symbol)["symbol"]].reset_index(drop=True)
    df.attrs.update(
        {
            "accounts": len(accounts) - len(failed),
            "no_liquidation_price": int(df["liquidation_price"].isna().sum()),
            "failed": failed,
        }
    )
    return df


def _transient(exc: FetchError) -> bool:
    """Whether a failure was a timeout, rate limit or outage that outlasted the retries (not the account's fault)."""
    import ccxt

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ccxt.BaseError):
        cause = cause.__cause__
    return isinstance(cause, ccxt.NetworkError)


def _number(x: Any) -> float:
    return math.nan if x is None else float(x)


def _row(ex_id: str, user: str, p: dict[str, Any]) -> dict[str, Any]:
    """One ccxt position structure as the row's plain fields, checked."""
    contracts = _number(p.get("contracts"))
    row: dict[str, Any] = {
        "symbol": p.get("symbol"),
        "side": p.get("side"),
        "contracts": contracts,
        "notional_usd": abs(_number(p.get("notional"))),
        "entry_price": _number(p.get("entryPrice")),
        "leverage": _number(p.get("leverage")),
        "margin_mode": p.get("marginMode"),
        "liquidation_price": _number(p.get("liquidationPrice")),
    }
    where = f"{ex_id} account {user}, {row['symbol']}"
    if row["side"] not in ("long", "short"):
        raise FetchError(
            f"{where}: unknown side {row['side']!r} (expected long or short)", exchange=ex_id, method="fetchPositions"
        )
    if not contracts > 0:
        raise FetchError(f"{where}: size {row['contracts']!r} is not > 0", exchange=ex_id, method="fetchPositions")
    if row["margin_mode"] not in ("cross", "isolated"):
        raise FetchError(
            f"{where}: unknown margin mode {row['margin_mode']!r} (expected cross or isolated)",
            exchange=ex_id,
            method="fetchPositions",
        )
    return row


def _frame(accounts: dict[str, tuple[int, list[dict[str, Any]]]]) -> pd.DataFrame:
    times: list[int] = []
    users: list[str] = []
    cols: dict[str, list[Any]] = {f: [] for f in _FIELDS}
    for user, (time_ms, positions) in accounts.items():
        for p in positions:
            times.append(time_ms)
            users.append(user)
            for f in _FIELDS:
                cols[f].append(p[f])
    df = pd.DataFrame(
        {
            "time": pd.to_datetime(np.asarray(times, dtype=np.int64), unit="ms", utc=True),
            "user": pd.Series(users, dtype=object),
            **{
                f: pd.Series(cols[f], dtype=object if f in ("symbol", "side", "margin_mode") else np.float64)
                for f in _FIELDS
            },
        }
    )
    return df[list(POSITION_COLUMNS)]
