"""Checks on every page an exchange sends, before anything of it is cached; the candle grid.

A page is refused (:class:`PageError`, nothing of it cached, so the next run asks again) when

* the exchange answered something that is not JSON rows (an HTML error or captcha page);
* a row lacks a value the series needs (``null`` or missing), or has an impossible one (a price <= 0,
  high below low, a negative volume or open interest);
* its timestamps are not epoch milliseconds (seconds, for example);
* the venue ignored ``since``: rows far before the asked start, only rows far after the asked window,
  the same page as for the previous window, or rows that ccxt dropped because all were before ``since``.

The raw answer is looked at where the exchange object has ccxt's ``fetch`` (the HTTP layer): ccxt
itself drops rows before ``since`` and reads a non-JSON body as "no rows", so without it those faults
would look like an empty window.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqtools.data.cache import Range
from liqtools.data.exchange.convert import _page_array
from liqtools.data.exchange.venues import _FUNDING_MAX_SPACING, _iso
from liqtools.errors import DataError, FetchError

_EDGE_ROWS = 5  # rows beyond the window a venue may repeat at the edges of a page
_MS_FLOOR = 10**11  # epoch milliseconds are above this since 1973; epoch seconds are far below
_TIME_KEYS = ("timestamp", "ts", "time", "t", "fundingTime", "fundingRateTimestamp", "create_time")


class PageError(FetchError):
    """A page that fails liqtools' checks: nothing of it was cached, so the next run asks again."""


@dataclass(frozen=True)
class Ask:
    """What is being fetched, for checks and messages."""

    exchange: str
    method: str
    symbol: str
    series: str
    period: str
    spacing: int
    limit: int

    def error(self, a: int, b: int, problem: str) -> PageError:
        return PageError(
            f"{self.exchange} {self.method} for {self.symbol}: the {self.series} page for {_iso(a)} to {_iso(b + 1)} "
            f"({self.period}) is invalid: {problem}; nothing of this page was cached, so the next run asks again",
            exchange=self.exchange, method=self.method, symbol=self.symbol,
        )

    @property
    def row_spacing(self) -> int:
        return _FUNDING_MAX_SPACING if self.series == "funding" else self.spacing


@contextmanager
def capture(ex: Any) -> Iterator[list[Any]]:
    """Collect the raw answers of ccxt's HTTP layer (``ex.fetch``) while the block runs."""
    got: list[Any] = []
    inner = getattr(ex, "fetch", None)
    own = "fetch" in getattr(ex, "__dict__", {})
    if not callable(inner) or not hasattr(ex, "__dict__"):
        yield got
        return

    def spy(*args: Any, **kwargs: Any) -> Any:
        answer = inner(*args, **kwargs)
        got.append(answer)
        return answer

    ex.fetch = spy
    try:
        yield got
    finally:
        if own:
            ex.fetch = inner
        else:
            del ex.fetch


def _raw_rows(raw: Any, depth: int = 0) -> list[Any] | None:
    """The list of rows inside a venue's JSON answer (top level, ``result.list``, ``data``, ...)."""
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict) and depth < 3:
        for value in raw.values():
            rows = _raw_rows(value, depth + 1)
            if rows:
                return rows
    return None


def _raw_times(rows: list[Any]) -> np.ndarray:
    out = []
    for r in rows[:1000]:
        v = r[0] if isinstance(r, list) and r else next((r[k] for k in _TIME_KEYS if isinstance(r, dict) and k in r), None)
        try:
            out.append(int(float(v)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return np.asarray(out, dtype=np.int64)


_NEEDS = {
    "ohlcv": ((1, "open"), (2, "high"), (3, "low"), (4, "close"), (5, "volume")),
    "mark": ((1, "open"), (2, "high"), (3, "low"), (4, "close")),
    "funding": ((1, "funding rate"),),
    "long_short": ((1, "long/short ratio"),),
}


def _values(ask: Ask, arr: np.ndarray, a: int, b: int) -> None:
    """Refuse rows with missing or impossible values, naming the row's time and the field."""
    t = arr[:, 0]

    def where(i: int) -> str:
        return f"the row at {_iso(int(t[i]))}" if np.isfinite(t[i]) and t[i] > 0 else f"row {i}"

    if np.isnan(t).any():
        raise ask.error(a, b, f"row {int(np.flatnonzero(np.isnan(t))[0])} has no timestamp")
    if ask.series == "open_interest":
        none = np.isnan(arr[:, 1]) & np.isnan(arr[:, 2])
        if none.any():
            raise ask.error(a, b, f"{where(int(np.flatnonzero(none)[0]))} has no open interest (null or missing)")
        neg = (arr[:, 1] < 0) | (arr[:, 2] < 0) | np.isinf(arr[:, 1:]).any(axis=1)
        if neg.any():
            raise ask.error(a, b, f"{where(int(np.flatnonzero(neg)[0]))} has an impossible open interest")
        return
    cols = [c for c, _ in _NEEDS[ask.series]]
    if not np.isfinite(arr[:, cols]).all():  # one pass over the page; locate the row only on failure
        for col, name in _NEEDS[ask.series]:
            bad = ~np.isfinite(arr[:, col])
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                if np.isnan(arr[i, col]):
                    raise ask.error(a, b, f"{where(i)} has no {name} (null or missing)")
                raise ask.error(a, b, f"{where(i)} has an infinite {name}")
    if ask.series in ("ohlcv", "mark"):
        o, h, lo, c = arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4]
        checks = [(arr[:, 1:5].min(axis=1) <= 0, "a price <= 0"), (h < lo, "high below low")]
        if ask.series == "ohlcv":
            checks += [(np.maximum(o, c) > h, "open or close above high"), (np.minimum(o, c) < lo, "open or close below low"),
                       (arr[:, 5] < 0, "a negative volume")]
        if np.logical_or.reduce([bad for bad, _ in checks]).any():
            for bad, what in checks:
                if bad.any():
                    raise ask.error(a, b, f"{where(int(np.flatnonzero(bad)[0]))} has {what}")
    if ask.series == "long_short" and (arr[:, 1] < 0).any():
        raise ask.error(a, b, f"{where(int(np.flatnonzero(arr[:, 1] < 0)[0]))} has a negative long/short ratio")


def check_page(ask: Ask, a: int, b: int, page: Any, raw: Any, previous: tuple[Any, Range] | None) -> tuple[np.ndarray, Any]:
    """The page's rows as an array, or :class:`PageError`; also the page's signature (for "same page again").

    ``a, b``: the asked window (inclusive ms); ``raw``: the venue's raw answer when known, else ``None``;
    ``previous``: (signature, window) of the previous window's page, to catch a venue repeating one page.
    """
    if isinstance(raw, (str, bytes)):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        raise ask.error(a, b, f"the exchange answered with a page that is not JSON ({text.strip()[:60]!r}...)")
    if not isinstance(page, list):
        raise ask.error(a, b, f"the exchange answered a {type(page).__name__} instead of a list of rows (not JSON rows)")
    try:
        arr = _page_array(ask.series, page)
    except (DataError, TypeError, ValueError, AttributeError) as exc:
        raise ask.error(a, b, f"its rows do not have the fields of {ask.series} rows ({exc})") from exc
    raw_rows = _raw_rows(raw) if raw is not None else None
    raw_t = _raw_times(raw_rows) if raw_rows else np.empty(0, dtype=np.int64)
    signature = np.sort(raw_t).tobytes() if len(raw_t) else (np.sort(arr[:, 0]).tobytes() if len(arr) else None)
    if previous is not None and signature and previous[0] == signature and previous[1][1] < a:
        raise ask.error(a, b, f"the exchange sent the same page as for the window before ({_iso(previous[1][0])} on): "
                              "it ignored since")
    if len(arr) == 0:
        if raw_rows:  # ccxt dropped every row of a non-empty answer
            if len(raw_t) and raw_t.max() < _MS_FLOOR:
                raise ask.error(a, b, f"its timestamps look like seconds, not milliseconds (e.g. {int(raw_t[0])})")
            if len(raw_t) and raw_t.max() < a:
                raise ask.error(a, b, f"the exchange ignored since: it sent {len(raw_rows)} rows from {_iso(int(raw_t.min()))} "
                                      f"to {_iso(int(raw_t.max()))}, all before the asked start")
            raise ask.error(a, b, f"none of the {len(raw_rows)} rows the exchange sent could be read as at or after since")
        return arr, signature
    _values(ask, arr, a, b)
    t = arr[:, 0]
    if a >= _MS_FLOOR and t.max() < _MS_FLOOR:
        raise ask.error(a, b, f"its timestamps look like seconds, not milliseconds (e.g. {int(t[0])})")
    tol = _EDGE_ROWS * ask.row_spacing
    if t.min() < a - tol:
        raise ask.error(a, b, f"the exchange ignored since: the page starts at {_iso(int(t.min()))}, before the asked start")
    if not ((t >= a) & (t <= b)).any() and t.min() > b + tol:
        raise ask.error(a, b, f"the exchange ignored since: it sent rows from {_iso(int(t.min()))} on, after the asked window")
    return arr, signature


# -- the grid ----------------------------------------------------------------------------------------


def missing_slots(ts: np.ndarray, lo: int, hi: int, spacing: int) -> list[Range]:
    """Slots of the grid in ``[lo, hi]`` without a row, as inclusive ms ranges (one slot = ``spacing`` ms).

    The grid's phase is that of most rows (epoch-aligned when there are none).

    Examples
    --------
    >>> missing_slots(np.array([0, 10, 40]), 0, 59, 10)
    [(20, 39), (50, 59)]
    """
    ts = np.asarray(ts, dtype=np.int64)
    ts = ts[(ts >= lo) & (ts <= hi)]
    phase = 0
    if len(ts):
        phases = ts % spacing
        phase = int(phases[0])
        if not (phases == phase).all():
            values, counts = np.unique(phases, return_counts=True)
            phase = int(values[np.argmax(counts)])
    first = lo + (phase - lo) % spacing
    if first > hi:
        return []
    n = (hi - first) // spacing + 1
    have = np.zeros(n, dtype=bool)
    k = (ts - first) // spacing
    have[k[(k >= 0) & (k < n)]] = True
    out: list[Range] = []
    miss = np.flatnonzero(~have)
    if len(miss) == 0:
        return out
    breaks = np.flatnonzero(np.diff(miss) > 1)
    starts = np.concatenate([[miss[0]], miss[breaks + 1]])
    ends = np.concatenate([miss[breaks], [miss[-1]]])
    for s, e in zip(starts, ends, strict=True):
        out.append((int(first + s * spacing), int(min(first + (e + 1) * spacing - 1, hi))))
    return out


def reask_spans(missing: list[Range], spacing: int, limit: int) -> list[Range]:
    """Requests that ask the missing ranges again: neighbours merged while a span holds at most ``limit`` slots.

    Examples
    --------
    >>> reask_spans([(0, 9), (30, 39), (500, 509)], 10, 10)
    [(0, 39), (500, 509)]
    """
    spans: list[list[int]] = []
    for lo, hi in missing:
        if spans and (hi - spans[-1][0]) // spacing + 1 <= limit:
            spans[-1][1] = hi
        else:
            spans.append([lo, hi])
    return [(a, b) for a, b in spans]
