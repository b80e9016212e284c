"""Offline exchanges for scans, in this process and inside Dask workers (tests/test_scan.py).

:func:`offline_hooks` gives the switches of ``liqtools.data.exchange`` that make every ccxt id answer from a
simulated venue (:class:`exchange_replay.SimVenue`, seeded, so every process sees the same history): no
sleeping between retries, every page flushed at once, a fixed "now". Each request is appended to a log
file as one line ``pid path`` (appends of short lines are atomic), so a test counts the requests of all
workers together. ``kill_marker``: the first process to have made ``kill_after`` candle requests creates
that file and dies at once (``os._exit``), as a worker killed mid-fetch would.

:class:`OfflineExchanges` installs the same switches on every worker of a cluster (a Dask worker plugin,
re-installed on workers the nanny restarts) and restores them when unregistered.
"""

from __future__ import annotations

import os
import time
from typing import Any

from dask.distributed import WorkerPlugin
from exchange_replay import NOW, H, History, SimVenue

T0 = 1_709_251_200_000  # 2024-03-01 00:00 UTC
HOURS = 1500


def offline_hooks(log: str, *, kill_marker: str | None = None, kill_after: int = 1, delay: float = 0.0) -> dict[str, Any]:
    """Replacement values for the switches of ``liqtools.data.exchange`` (see the module docstring)."""
    import dataclasses

    import liqtools.data.exchange as m

    venues: dict[str, Any] = {}
    candle_requests = [0]

    def resolve(exchange: Any) -> Any:
        if not isinstance(exchange, str):
            return exchange
        if exchange not in venues:
            if exchange not in ("binanceusdm", "bybit", "okx"):
                return m._new_exchange(exchange)  # an unknown id: liqtools' own error
            venue = SimVenue(exchange, History(T0, HOURS + 48, seed=11), seed=12)
            ex = venue.ex()
            replay = ex.fetch

            def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
                path = url.split("?")[0]
                with open(log, "a") as fh:
                    fh.write(f"{os.getpid()} {path}\n")
                if "kline" in path or "candles" in path:
                    candle_requests[0] += 1
                    if kill_marker and candle_requests[0] > kill_after and not os.path.exists(kill_marker):
                        open(kill_marker, "w").close()
                        os._exit(1)
                if delay:
                    time.sleep(delay)
                return replay(url, method, headers, body)

            ex.fetch = fetch
            venues[exchange] = ex
        return venues[exchange]

    table = dict(m._VENUES)
    table["binanceusdm"] = dataclasses.replace(table["binanceusdm"], oi_history_days=None)
    return {"_resolve_exchange": resolve, "_now_ms": lambda: NOW, "_sleep": lambda s: None, "FLUSH_SECONDS": 0.0, "_VENUES": table}


class OfflineExchanges(WorkerPlugin):
    """:func:`offline_hooks` on every worker; ``teardown`` puts the real switches back."""

    name = "liqtools-offline-exchanges"

    def __init__(self, log: str, **options: Any):
        self.log = log
        self.options = options
        self.saved: dict[str, Any] = {}

    def setup(self, worker: Any) -> None:
        import liqtools.data.exchange as m

        for key, value in offline_hooks(self.log, **self.options).items():
            self.saved[key] = getattr(m, key)
            setattr(m, key, value)

    def teardown(self, worker: Any) -> None:
        import liqtools.data.exchange as m

        for key, value in self.saved.items():
            setattr(m, key, value)


def requests(log: str) -> list[tuple[int, str]]:
    """The logged requests: (pid, path) in order."""
    if not os.path.exists(log):
        return []
    with open(log) as fh:
        return [(int(pid), path) for pid, path in (line.split() for line in fh if line.strip())]


def exchange_job(end_hours: int = HOURS, **extra: Any) -> dict[str, Any]:
    return {"exchange": "bybit", "symbol": "BTC/USDT:USDT", "timeframe": "1h", "start": T0, "end": T0 + end_hours * H, **extra}
