"""Replays: the monitor driven from stored candles, as if they arrived live (no network).

The classroom watches a crash unfold, alerts included: the bundled BTC sample's February 2026 fall, or the
2024-08-05 crash in the ETH and SOL samples. The heatmap is built on the candles before ``start``, then
every later candle is fed one at a time, ``speed`` times faster than real time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from liqtools.errors import DataError
from liqtools.schema import validate_market
from liqtools.watch.monitor import Monitor, Reading
from liqtools.watch.sinks import Sink, deliver

__all__ = ["parse_speed", "replay", "replay_cut"]


def parse_speed(text: str | float | None) -> float | None:
    """``"60x"`` (or 60) -> 60.0 times real time; ``"max"`` or None -> as fast as possible (None).

    >>> parse_speed("60x"), parse_speed("max"), parse_speed(3600)
    (60.0, None, 3600.0)
    """
    if text is None or text == "max":
        return None
    value = text
    if isinstance(text, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*x?\s*", text)
        if not m:
            raise DataError(f"speed must be like 60x (times real time) or max, got {text!r}")
        value = float(m.group(1))
    speed = float(value)
    if not (0 < speed < float("inf")):
        raise DataError(f"speed must be a positive multiple of real time (e.g. 60x) or max, got {text!r}")
    return speed


def replay_cut(df: pd.DataFrame, start: Any) -> int:
    """Where a replay of the validated frame ``df`` starts: the first candle at or after ``start`` (default:
    the middle), with at least 50 candles of history before it and one to watch."""
    if start is None:
        cut = len(df) // 2
    else:
        ts = pd.Timestamp(start)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        cut = int(df.index.searchsorted(ts, side="left"))
    if not 50 <= cut < len(df):
        raise DataError(
            f"replay start {df.index[min(cut, len(df) - 1)]} leaves {cut} candles of history and {len(df) - cut} to watch; "
            f"it needs at least 50 before it and one after (the data spans {df.index[0]} to {df.index[-1]})"
        )
    return cut


def replay(
    df: pd.DataFrame,
    *,
    start: Any = None,
    speed: str | float | None = None,
    sinks: Iterable[Sink] = (),
    show: Callable[[Reading], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monitor_options: Mapping[str, Any] | None = None,
) -> Monitor:
    """Feed stored candles to a :class:`Monitor` one at a time; returns the monitor (its ``alerts``).

    Parameters
    ----------
    df
        A market frame with ``oi_usd`` (a file, a bundled sample).
    start
        The first candle watched (a time); the heatmap is built on the candles before it. Default: the
        middle of the frame (the bundled samples' crashes lie after it).
    speed
        ``"60x"``: one candle every candle-length / 60 of wall time; None or ``"max"``: no waiting.
    sinks
        :class:`~liqtools.watch.sinks.AlertLog`, :class:`~liqtools.watch.sinks.Webhook`: each alert goes to each.
    show
        Called with every :class:`Reading` (the CLI prints its status line).
    monitor_options
        Keyword options of :class:`Monitor` (``rule``, ``leverage``, ...).

    Examples
    --------
    >>> from liqtools import load_sample
    >>> mon = replay(load_sample(), start="2026-02-05")
    >>> [f"{a.time:%m-%d %H:%M} {a.side}" for a in mon.alerts][:2]
    ['02-05 15:00 long', '02-07 07:00 long']
    """
    df = validate_market(df, require=("oi_usd",))
    speed_x = parse_speed(speed)
    cut = replay_cut(df, start)
    monitor = Monitor(df.iloc[:cut], **dict(monitor_options or {}))
    step = float(pd.Series(df.index).diff().median().total_seconds())
    sinks = list(sinks)
    for i in range(cut, len(df)):
        if speed_x is not None and i > cut:
            sleep(step / speed_x)
        deliver(monitor.step(df.iloc[i : i + 1]), show, sinks)
    return monitor
