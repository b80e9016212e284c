"""The paginator: one series in windows of one page, each page checked, the grid completed, pages cached.

Every series is fetched in windows of one page (``since`` .. ``until``) so that each request has a
defined answer on every exchange, whether the venue anchors a page at its start (Binance) or at its end
(Bybit, OKX); a page shorter than the limit is not taken as the end: pagination stops at ``end``, or
when the exchange has nothing at all between the current position and ``end``.

Each page passes :func:`~liqtools.data.exchange.pages.check_page` before anything of it is kept. For
series on a grid (candles, open-interest and long/short snapshots) a window counts as complete only
when every slot has a row: slots missing from an answer are asked for once more, and those still
missing are recorded in the cache as a gap with its reason ("no rows here on two requests", or "before
the listing" where ccxt knows the listing time), except the latest slots, closed less than one slot (at
least 10 minutes) ago: those may not be published yet and are left uncovered for the next run. Gaps are cached only once the exchange has sent rows of
the series at all: a venue answering nothing anywhere leaves nothing cached, so the next run asks again.

Pages go to the disk cache as they arrive (written at most every ``FLUSH_SECONDS``, and always when the
download ends, by success, error or Ctrl-C), so a failure loses nothing and the next call resumes; only
a hard kill can lose the pages of the last second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from liqtools.data.cache import Gap, Range, merge_gaps
from liqtools.data.exchange.convert import _empty, _rows_frame
from liqtools.data.exchange.pages import Ask, capture, check_page, missing_slots, reask_spans
from liqtools.data.exchange.retry import _call, _exchange_id, _unsupported, in_session
from liqtools.data.exchange.venues import (
    _COLUMNS,
    _METHODS,
    GRID_SERIES,
    SERIES,
    _hooks,
    _IdOnly,
    _iso,
    _request,
    _series_plan,
    _settled_before,
    _to_ms,
)
from liqtools.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import os

TWICE = "the exchange returned no rows here on two requests"
_FRESH_MS = 10 * 60_000  # a slot missing within this long (or one slot) of closing is asked again next run


def _progress_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=max(total, 0), desc=desc, unit="row", leave=False)


@in_session
def fetch_series(
    exchange: Any,
    symbol: str,
    series: str,
    timeframe: str = "1h",
    *,
    start: Any,
    end: Any = None,
    cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
    progress: bool = True,
    retries: int = 5,
    backoff: float = 1.0,
) -> pd.DataFrame:
    """Rows of one series (``ohlcv``, ``mark``, ``open_interest``, ``funding``, ``long_short``) from cache and exchange.

    Returns a frame with an int64 ``timestamp`` column (epoch ms) and the series' value columns, for
    ``start <= timestamp < end``: ``open, high, low, close, volume`` (ohlcv), ``open, high, low, close``
    (mark), ``oi_amount`` (base units) and ``oi_value`` (USD, NaN where the exchange gives only
    contracts) for open interest, ``funding_rate``, ``long_short_ratio``. Only ranges the cache does not
    cover are requested. ``rows.attrs["gaps"]`` lists the gaps the exchange has in the range as
    ``(first_ms, last_ms, reason)``. See :func:`fetch_market_data` for the parameters.

    Raises
    ------
    PageError
        (a :class:`~liqtools.errors.FetchError`) a page failed the checks of
        :mod:`liqtools.data.exchange.pages`; the message names venue, series and time.
    """
    if series not in SERIES:
        raise DataError(f"unknown series {series!r}; one of {list(SERIES)}")
    first = _to_ms(start, "start")
    last = (_to_ms(end, "end") if end is not None else _hooks()._now_ms()) - 1
    if last < first:
        raise DataError(f"end must be after start, got start={_iso(first)}, end={_iso(last + 1)}")
    ex_id = _exchange_id(exchange)
    ex = exchange if not isinstance(exchange, str) else None
    period, spacing, limit = _series_plan(ex if ex is not None else _IdOnly(ex_id), series, timeframe)
    if series in ("ohlcv", "mark"):
        first = -(-first // spacing) * spacing  # candles opening at or after start
    # windows end just before a slot boundary, so that exchanges' inclusive/exclusive bounds agree
    last_slot = -(-(last + 1) // spacing) * spacing - 1
    settled = _settled_before(series, spacing, _hooks()._now_ms())
    last_final = min(last_slot, settled)
    plan = (symbol, series, period, spacing, limit)

    from liqtools.data.cache import SeriesCache, cache_root, missing_ranges

    cache = None if cache_dir is False else SeriesCache(cache_root(cache_dir), ex_id, symbol, period, series)
    if cache is None:
        rows, gaps = _download(exchange, *plan, [(first, last_final)], None, seen=False,
                               progress=progress, retries=retries, backoff=backoff)
    else:
        with cache.lock():
            cached, covered = cache.read()
            todo = missing_ranges(covered, first, last_final) if last_final >= first else []
            if todo:
                try:
                    _download(exchange, *plan, todo, cache, seen=len(cached) > 0,
                              progress=progress, retries=retries, backoff=backoff)
                finally:
                    cache.compact()
                cached, covered = cache.read()
            rows, gaps = cached, cache.read_gaps()
    hi = min(last, last_final)
    out = _empty(series) if len(rows) == 0 else rows[(rows["timestamp"] >= first) & (rows["timestamp"] <= hi)]
    out = out.reset_index(drop=True)
    out.attrs["gaps"] = [(max(a, first), min(b, hi), why) for a, b, why in gaps if b >= first and a <= hi]
    return out


@dataclass
class _State:
    seen: bool  # the exchange has sent rows of this series (here or in the cache)
    flushed: float  # time.monotonic() of the last write to the cache
    prev: tuple[Any, Range] | None = None  # signature and window of the previous page


def _listing(ex: Any, symbol: str) -> int | None:
    """The market's listing time in epoch ms, where ccxt knows it (``market["created"]``)."""
    try:
        created = ex.market(symbol).get("created")
        return int(created) if created else None
    except Exception:  # noqa: BLE001 - a test double or an exchange without the field
        return None


def _download(
    exchange: Any,
    symbol: str,
    series: str,
    period: str,
    spacing: int,
    limit: int,
    todo: list[Range],
    cache: Any,
    *,
    seen: bool,
    progress: bool,
    retries: int,
    backoff: float,
) -> tuple[pd.DataFrame, list[Gap]]:
    """Fetch the inclusive ranges ``todo`` page by page; persist pages and gaps to ``cache`` (if any).

    ``seen``: the cache already holds rows of this series (so the exchange is known to have some).
    Returns the rows fetched and the gaps found.
    """
    ex = _hooks()._resolve_exchange(exchange)
    method = _METHODS[series]
    if not ex.has.get(method if series != "mark" else "fetchMarkOHLCV") and not (
        series == "mark" and ex.has.get("fetchOHLCV")
    ):
        raise _unsupported(ex.id, method, symbol)
    ask = Ask(ex.id, method, symbol, series, period, spacing, limit)
    width = 1 + len(_COLUMNS[series])
    listed = _listing(ex, symbol) if series in GRID_SERIES else None
    fresh = _hooks()._now_ms() - max(spacing, _FRESH_MS)  # slots closing after this are not yet final if missing
    pending: list[np.ndarray] = []
    pending_cover: list[Range] = []
    pending_gaps: list[Gap] = []
    deferred: list[tuple[Range, list[Gap]]] = []  # covers with gaps, held until the exchange has sent a row
    collected: list[np.ndarray] = []
    found: list[Gap] = []
    state = _State(seen=seen, flushed=time.monotonic())
    total = sum((b - a) // spacing + 1 for a, b in todo)
    bar = _progress_bar(progress, total, f"{ex.id} {symbol} {series}")
    scale: list[tuple[float, bool]] = []

    def flush(force: bool = False) -> None:
        nonlocal pending, pending_cover, pending_gaps
        if cache is None or not (pending or pending_cover):
            return
        if not force and time.monotonic() - state.flushed < _hooks().FLUSH_SECONDS:
            return
        arr = np.concatenate(pending) if pending else np.empty((0, width))
        cache.append(_rows_frame(series, arr), pending_cover, pending_gaps)
        pending, pending_cover, pending_gaps = [], [], []
        state.flushed = time.monotonic()

    def request(a: int, b: int) -> tuple[Any, Any]:
        with capture(ex) as raw:
            page = _request(ex, series, symbol, period, a, b, limit)
        return page, (raw[0] if len(raw) == 1 else None)

    def fetch(a: int, b: int, *, main: bool = True) -> np.ndarray:
        page, raw = _call(ex, method, symbol, lambda: request(a, b), retries=retries, backoff=backoff)
        arr, sig = check_page(ask, a, b, page or [], raw, state.prev if main else None)
        if main:
            state.prev = (sig, (a, b))
        if series == "open_interest" and len(arr):
            if not scale:
                market = ex.market(symbol)
                scale.append((float(market.get("contractSize") or 1.0), bool(market.get("inverse"))))
            # cache open interest in base units (linear) or USD (inverse), whatever the contract size
            size, inverse = scale[0]
            arr[:, 1] *= size
            if inverse:
                arr[:, 2] = np.where(np.isnan(arr[:, 2]), arr[:, 1], arr[:, 2])
                arr[:, 1] = np.nan
        return arr

    def keep(arr: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Keep the rows inside [lo, hi] (rows outside the request window are valid data too)."""
        if len(arr) == 0:
            return arr
        arr = arr[(arr[:, 0] >= lo) & (arr[:, 0] <= hi)]
        if len(arr):
            pending.append(arr)
            collected.append(arr)
            if not state.seen:
                state.seen = True
                for cover, gaps in deferred:
                    pending_cover.append(cover)
                    pending_gaps.extend(gaps)
                deferred.clear()
        return arr

    def settle(lo: int, hi: int, ts: np.ndarray, bounds: Range) -> None:
        """Record [lo, hi] as answered: on a grid, ask missing slots again and record the rest as gaps."""
        gaps: list[Gap] = []
        if series in GRID_SERIES:
            missing = missing_slots(ts, lo, hi, spacing)
            before = [(a, b) for a, b in missing if listed is not None and b < listed]
            to_ask = [r for r in missing if r not in before]
            got = [ts]
            for a, b in reask_spans(to_ask, spacing, limit):
                again = keep(fetch(a, b, main=False), *bounds)
                inside = again[(again[:, 0] >= a) & (again[:, 0] <= b)] if len(again) else again
                if len(inside) >= limit and (b - a) // spacing + 1 > limit:  # the answer may be cut short
                    raise ask.error(a, b, "the exchange sent a full page on a second request where it first sent no rows "
                                          "(inconsistent answers)")
                got.append(again[:, 0] if len(again) else np.empty(0))
            still = missing_slots(np.concatenate(got), lo, hi, spacing) if to_ask else []
            if still and still[-1][1] == hi and still[-1][0] + spacing > fresh:
                # the latest slots, closed moments ago, may not be published yet: leave them for the next run
                hi = still.pop()[0] - 1
                if hi < lo:
                    return
            gaps = [(a, b, f"before the listing ({_iso(listed)})") for a, b in before if listed is not None]
            gaps += [(a, b, TWICE) for a, b in still if not (listed is not None and b < listed)]
        found.extend(gaps)
        only_listing = all(why != TWICE for _, _, why in gaps)
        if not state.seen and not only_listing:
            deferred.append(((lo, hi), gaps))
            return
        pending_cover.append((lo, hi))
        pending_gaps.extend(gaps)

    try:
        for g_first, g_last in todo:
            bounds = (g_first, g_last)
            a = g_first
            while a <= g_last:
                b = min(a + limit * spacing - 1, g_last)
                arr = fetch(a, b)
                t = arr[:, 0] if len(arr) else np.empty(0)
                inside = arr[(t >= a) & (t <= b)] if len(arr) else arr
                keep(arr, *bounds)
                if len(inside) >= limit:
                    # a full page may have been cut short: resume at the slot after its last row
                    nxt = (int(inside[:, 0].max()) // spacing + 1) * spacing
                    settle(a, nxt - 1, inside[:, 0], bounds)
                elif len(inside) > 0 or b >= g_last:
                    settle(a, b, inside[:, 0] if len(inside) else np.empty(0), bounds)
                    nxt = b + 1
                else:
                    # empty window: is there anything at all up to the end of the gap?
                    probe = keep(fetch(b + 1, g_last), b + 1, g_last)
                    if len(probe) < limit:
                        settle(a, g_last, probe[:, 0] if len(probe) else np.empty(0), bounds)
                        nxt = g_last + 1
                    else:
                        settle(a, b, np.empty(0), bounds)
                        nxt = b + 1
                if bar is not None:
                    bar.update(min(nxt, g_last + 1) // spacing - a // spacing)
                if nxt <= a:  # the exchange ignored 'since': stop instead of looping
                    raise ask.error(a, b, "the exchange did not advance past the start of the window (it ignored since)")
                a = nxt
                flush()
    finally:
        flush(force=True)
        if bar is not None:
            bar.close()
    arr = np.concatenate(collected) if collected else np.empty((0, width))
    from liqtools.data.cache import _normalise

    return _normalise(_rows_frame(series, arr)), merge_gaps(found)
