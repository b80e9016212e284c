"""The live feed: poll an exchange for closed candles and open interest, give them to the monitor.

Each poll asks :func:`~liqtools.data.exchange.fetch_market_data` for the candles after the last one seen
(through the disk cache, so a restart resumes where it stopped, and ccxt's rate limiter). A poll that
fails (the venue pauses, the network drops) prints one line and the next poll asks again; nothing already
read is lost. A poll with no new closed candle says so. The newest candles wait a few polls for their open
interest (venues publish it after the candle closes) before they go in without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import pandas as pd

from liqtools.errors import DataError, FetchError
from liqtools.watch.monitor import Monitor, Reading
from liqtools.watch.sinks import Sink, deliver

__all__ = ["watch_live"]


#: A closed candle whose open interest the venue has not published yet waits this many candles for it
#: (the next poll asks again); after that it goes in without (the model carries open interest forward).
OI_WAIT = 3


def _ready(new: pd.DataFrame, now: pd.Timestamp, step: pd.Timedelta) -> pd.DataFrame:
    """The candles to give the monitor now: the newest ones without open interest wait a little for it."""
    if len(new) == 0:
        return new
    if "oi_usd" not in new.columns:
        new = new.assign(oi_usd=float("nan"))
    known = new["oi_usd"].notna().to_numpy()
    young = (now - new.index) < OI_WAIT * step
    waiting = young & ~known
    tail = len(new)
    while tail > 0 and waiting[tail - 1]:  # only the newest candles wait (an older gap is a real gap)
        tail -= 1
    return new.iloc[:tail]


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def watch_live(
    exchange: Any,
    symbol: str,
    *,
    timeframe: str = "1m",
    every: float = 60.0,
    history: str | pd.Timedelta = "2D",
    polls: int | None = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    sinks: Iterable[Sink] = (),
    show: Callable[[Reading], None] | None = None,
    say: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], pd.Timestamp] = _now,
    monitor_options: Mapping[str, Any] | None = None,
) -> Monitor:
    """Watch a market live: build the map on ``history``, then poll every ``every`` seconds.

    Parameters
    ----------
    exchange, symbol, timeframe
        As for :func:`~liqtools.data.exchange.fetch_market_data` (a ccxt id or instance, a unified symbol).
    every
        Seconds between polls.
    history
        How far back the first map reaches (a time span such as ``"2D"``).
    polls
        Stop after this many polls (None: until interrupted).
    sinks, show
        Where alerts go (:mod:`liqtools.watch.sinks`); ``show`` gets every reading (the CLI prints it).
    say
        Gets the lines about polls (none new, a failed poll).
    sleep, now
        The clock (tests replace them).
    """
    from liqtools.data.exchange import fetch_market_data, timeframe_ms

    if not (isinstance(every, (int, float)) and every > 0):
        raise DataError(f"every must be a positive number of seconds, got {every!r}")
    if polls is not None and not (isinstance(polls, int) and polls >= 0):
        raise DataError(f"polls must be a whole number >= 0 or None, got {polls!r}")
    try:
        span = pd.Timedelta(history)
    except (TypeError, ValueError):
        span = pd.NaT
    candle = pd.Timedelta(timeframe_ms(timeframe), "ms")
    if not (isinstance(history, (str, pd.Timedelta)) and span >= candle):
        raise DataError(f"history must be a time span of at least one {timeframe} candle, such as '2D', got {history!r}")
    include = ("ohlcv", "open_interest")

    def fetch(start: pd.Timestamp) -> pd.DataFrame:
        return fetch_market_data(exchange, symbol, timeframe, start=start, end=None, cache_dir=cache_dir,
                                 progress=False, include=include)

    step = candle
    monitor = Monitor(_ready(fetch(now() - span), now(), step), **dict(monitor_options or {}))
    say(f"watching {symbol} ({timeframe}) from {monitor.last_time:%Y-%m-%d %H:%M} UTC; {monitor.rule.describe()}")
    sinks = list(sinks)
    done = 0
    while polls is None or done < polls:
        sleep(float(every))
        done += 1
        try:
            new = fetch(monitor.last_time + pd.Timedelta(1, "ms"))
        except FetchError as exc:
            say(f"{now():%Y-%m-%d %H:%M:%S} UTC  poll failed ({exc}); asking again in {every:g} s")
            continue
        except DataError as exc:  # no candle yet in the asked span
            if not str(exc).startswith("no candles"):
                raise
            new = pd.DataFrame()
        new = _ready(new, now(), step)
        readings = monitor.step(new) if len(new) else []
        if not readings:
            say(f"{now():%Y-%m-%d %H:%M:%S} UTC  no new closed candle since {monitor.last_time:%Y-%m-%d %H:%M} UTC")
        deliver(readings, show, sinks)
    return monitor
