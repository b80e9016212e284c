"""The account sweep behind :func:`~liqtools.data.exchange.positions.fetch_positions`: one query per account,
each answer saved on disk the moment it arrives.

Layout under the cache root (see :mod:`liqtools.data.cache`)::

    <root>/hyperliquid/_positions/clearinghouseState/accounts/
        0x<address>.json      one fetched account: query time (ms) and its parsed positions ([] = fetched, empty)
        .lock                 the sweep's cross-process lock (the one SeriesCache lock)

Each file is written with :func:`liqtools._io.atomic_write` (temporary file, fsync, rename), so a crash,
``kill -9`` or Ctrl-C mid-sweep loses no account already answered, and the next run asks only for the
accounts without a file (or whose file is older than ``max_age``). An account is saved with *all* its
positions, whatever ``symbol`` filters the result, so one sweep serves every market.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from liqtools._io import atomic_write
from liqtools.data.cache import SeriesCache
from liqtools.data.exchange.venues import _hooks
from liqtools.errors import CacheError

__all__ = ["Account", "AccountCache"]

#: One fetched account: (query time in epoch ms, its positions as plain dicts).
Account = tuple[int, list[dict[str, Any]]]


class AccountCache:
    """Fetched accounts of one exchange, one small JSON file each.

    Examples
    --------
    >>> import tempfile
    >>> c = AccountCache(tempfile.mkdtemp(), "hyperliquid")
    >>> c.put("0x" + "a" * 40, 1_700_000_000_000, [])
    >>> c.get("0x" + "a" * 40)
    (1700000000000, [])
    >>> c.get("0x" + "b" * 40) is None
    True
    """

    def __init__(self, root: str | os.PathLike[str], exchange: str):
        self._series = SeriesCache(root, exchange, "_positions", "clearinghouseState", "accounts")
        self.path: Path = self._series.path
        self.lock = self._series.lock

    def _file(self, user: str) -> Path:
        return self.path / f"{user}.json"

    def get(self, user: str) -> Account | None:
        """The cached account, or None when it was never fetched (a torn file cannot exist)."""
        p = self._file(user)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            return int(data["time_ms"]), list(data["positions"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CacheError(
                f"unreadable cache file {p} ({exc}); delete it and run again (that account is fetched again)"
            ) from exc

    def put(self, user: str, time_ms: int, positions: Sequence[dict[str, Any]]) -> None:
        """Save one account atomically (``positions`` may be empty: fetched, no open position)."""
        text = json.dumps({"user": user, "time_ms": int(time_ms), "positions": list(positions)}, allow_nan=True)
        try:
            atomic_write(self._file(user), lambda fh: fh.write(text.encode("utf-8")))
        except OSError as exc:
            raise CacheError(
                f"cannot write {self._file(user)} ({exc}); set LIQTOOLS_CACHE_DIR or pass cache_dir="
            ) from exc


def sweep(
    users: Sequence[str],
    fetch_one: Callable[[str], list[dict[str, Any]] | None],
    *,
    cache: AccountCache | None,
    max_age: float | None,
    progress: bool,
    desc: str,
) -> dict[str, Account]:
    """Every user's account: from the cache where fresh, else ``fetch_one(user)`` (saved at once).

    ``fetch_one`` returns None for an account to leave out (not saved; the next run asks again).

    ``max_age`` (seconds): cached accounts older than this are fetched again; None keeps every cached one.
    """
    out: dict[str, Account] = {}
    now = _hooks()._now_ms()
    todo: list[str] = []
    for user in users:
        hit = cache.get(user) if cache is not None else None
        if hit is not None and (max_age is None or now - hit[0] <= max_age * 1000):
            out[user] = hit
        else:
            todo.append(user)
    bar = _bar(progress, len(users), len(out), desc)
    try:
        for user in todo:
            positions = fetch_one(user)
            if positions is not None:
                account = (_hooks()._now_ms(), positions)
                if cache is not None:
                    cache.put(user, *account)
                out[user] = account
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return {u: out[u] for u in users if u in out}


def _bar(enabled: bool, total: int, done: int, desc: str) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=desc, unit="account", leave=False)
