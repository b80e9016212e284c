"""Offline ccxt: replace an exchange instance's HTTP ``fetch`` with recorded or simulated responses.

ccxt's own request building and response parsing run for real; only the network is replaced. A request
whose method and path are not known raises ``AssertionError`` (it is not a ccxt error, so liqtools does
not retry or translate it: the test fails).

Two kinds of venue:

* :class:`Replay` answers each (method, path) with one recorded response (fixtures in
  ``tests/fixtures/exchanges/``);
* :class:`SimVenue` holds a "true" history and answers each request the way the exchange documents it
  (which bound is inclusive, which end a page is anchored at, newest-first ordering, page limits), in
  the exchange's JSON shape; it can shuffle rows, repeat rows of the next page (overlap) and fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt
import numpy as np

FIXTURES = Path(__file__).parent / "fixtures" / "exchanges"
H = 3_600_000


def make_market(id: str, symbol: str, **kw: Any) -> dict:
    base, rest = symbol.split("/")
    quote, settle = rest.split(":")
    m = {"id": id, "symbol": symbol, "base": base, "quote": quote, "settle": settle, "baseId": base, "quoteId": quote, "settleId": settle,
             "type": "swap", "spot": False, "margin": False, "swap": True, "future": False, "option": False, "contract": True,
             "linear": True, "inverse": False, "contractSize": 1.0, "active": True, "precision": {}, "limits": {}, "info": {}}
    m.update(kw)
    return m


MARKETS = {
    "binanceusdm": make_market("BTCUSDT", "BTC/USDT:USDT"),
    "bybit": make_market("BTCUSDT", "BTC/USDT:USDT", info={"fundingInterval": 480}),
    "okx": make_market("BTC-USDT-SWAP", "BTC/USDT:USDT", contractSize=0.01, info={"instFamily": "BTC-USDT"}),
}


class Replay:
    """A ``fetch`` replacement answering (method, path) from a table of handlers or fixed responses."""

    def __init__(self, routes: dict[tuple[str, str], Any]):
        self.routes = routes
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if method == "POST" and body:  # a JSON body (Hyperliquid's /info): its fields are the query
            query = {**query, **json.loads(body)}
        self.calls.append((method, parts.path, query))
        key = (method, parts.path)
        if key not in self.routes:
            raise AssertionError(f"unexpected request {method} {url}")
        answer = self.routes[key]
        if callable(answer):
            answer = answer(query)
        if isinstance(answer, BaseException):
            raise answer
        return json.loads(json.dumps(answer))  # a fresh copy, as if parsed from the wire


def instance(exchange_id: str, fetch: Callable[..., Any], market: dict | None = None) -> Any:
    ex = getattr(ccxt, exchange_id)({"enableRateLimit": False})
    ex.set_markets([market or MARKETS[exchange_id]])
    ex.fetch = fetch
    return ex


def recorded(exchange_id: str) -> tuple[Any, Replay, dict]:
    fixture = json.loads((FIXTURES / f"{exchange_id}.json").read_text())
    replay = Replay({(r["method"], r["path"]): r["response"] for r in fixture["responses"]})
    return instance(exchange_id, replay, fixture["markets"][0]), replay, fixture


class HyperliquidInfo:
    """Hyperliquid's ``POST /info`` answering ``clearinghouseState`` per user from a table of accounts.

    ``fail(user, n)`` (``n``: the how-many-th query) may return an exception to raise instead; an unknown
    user gets an empty account, as the venue answers for an address that never traded. ``leaderboard``:
    the answer of ``GET /Mainnet/leaderboard`` (stats-data.hyperliquid.xyz), if any.
    """

    def __init__(self, accounts: dict[str, Any], leaderboard: Any = None):
        self.accounts = accounts
        self.fail: Callable[[str, int], BaseException | None] = lambda user, n: None
        self.asked: list[str] = []
        routes: dict[tuple[str, str], Any] = {("POST", "/info"): self._info}
        if leaderboard is not None:
            routes[("GET", "/Mainnet/leaderboard")] = leaderboard
        self.replay = Replay(routes)

    def _info(self, q: dict) -> Any:
        assert q.get("type") == "clearinghouseState", q
        user = q["user"]
        err = self.fail(user, len(self.asked))
        self.asked.append(user)
        if err is not None:
            return err
        empty = {"assetPositions": [], "crossMaintenanceMarginUsed": "0.0", "time": "1735689000000", "withdrawable": "0.0"}
        return self.accounts.get(user, empty)

    def ex(self, markets: list[dict]) -> Any:
        ex = ccxt.hyperliquid({"enableRateLimit": False})
        ex.set_markets(markets)
        ex.fetch = self.replay
        return ex


def hyperliquid_positions() -> tuple[HyperliquidInfo, dict]:
    """The recorded ``clearinghouseState`` answers (fixture) behind a :class:`HyperliquidInfo`, and the fixture;
    the leaderboard fixture is served too (``fixture["leaderboard"]``)."""
    fixture = json.loads((FIXTURES / "hyperliquid_positions.json").read_text())
    fixture["leaderboard"] = json.loads((FIXTURES / "hyperliquid_leaderboard.json").read_text())["response"]
    return HyperliquidInfo(fixture["accounts"], fixture["leaderboard"]), fixture


# -- simulated venues ------------------------------------------------------------------------------


class History:
    """A seeded "true" history: hourly candles, mark candles, hourly open interest, 8-hourly funding."""

    def __init__(self, start_ms: int, hours: int, seed: int = 1, gap: tuple[int, int] | None = None):
        rng = np.random.default_rng(seed)
        self.t = start_ms + H * np.arange(hours, dtype=np.int64)
        close = np.round(60000 * np.exp(np.cumsum(rng.normal(0, 0.004, hours))), 1)
        open_ = np.concatenate([[60000.0], close[:-1]])
        high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, hours))), 1)
        low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, hours))), 1)
        vol = np.round(rng.uniform(100, 2000, hours), 3)
        if gap is not None:  # candles the exchange does not have (maintenance)
            keep = (np.arange(hours) < gap[0]) | (np.arange(hours) >= gap[1])
        else:
            keep = np.ones(hours, dtype=bool)
        self.candles = np.column_stack([self.t, open_, high, low, close, vol])[keep]
        basis = 1 + rng.normal(0, 0.0002, hours)
        self.mark = np.column_stack([self.t, np.round(open_ * basis, 2), np.round(high * basis, 2),
                                     np.round(low * basis, 2), np.round(close * basis, 2)])
        self.mark[:, 2] = np.maximum(self.mark[:, 2], self.mark[:, 1:5].max(axis=1))
        self.mark[:, 3] = np.minimum(self.mark[:, 3], self.mark[:, 1:5].min(axis=1))
        self.mark = self.mark[keep]
        self.oi = np.column_stack([self.t, np.round(70000 + np.cumsum(rng.normal(0, 50, hours)), 3)])
        ft = self.t[(self.t % (8 * H)) == 0]
        self.funding = np.column_stack([ft, np.round(rng.normal(1e-4, 5e-5, len(ft)), 8)])


def _window(rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return rows[(rows[:, 0] >= lo) & (rows[:, 0] <= hi)]


def _s(x: float) -> str | None:
    return None if np.isnan(x) else repr(float(x))  # NaN stands for a value the exchange left out (null)


def _rate(x: float) -> str | None:
    return None if np.isnan(x) else f"{x:.8f}"


class SimVenue:
    """Answers requests from a :class:`History` like the real exchange would (see module docstring)."""

    def __init__(self, exchange_id: str, history: History, *, seed: int = 2, overlap: int = 3, shuffle: bool = True):
        self.id = exchange_id
        self.h = history
        self.rng = np.random.default_rng(seed)
        self.overlap = overlap
        self.shuffle = shuffle
        self.fail: Callable[[str, dict], BaseException | None] = lambda path, q: None
        # tamper(kind, query, page) -> the rows to answer (altered), or a str to answer instead of JSON (an HTML page)
        self.tamper: Callable[[str, dict, np.ndarray], np.ndarray | str] | None = None
        self.replay = Replay(self._routes())

    def ex(self) -> Any:
        return instance(self.id, self.replay)

    @property
    def calls(self) -> list:
        return self.replay.calls

    def _page(self, rows: np.ndarray, lo: int, hi: int, limit: int, *, newest_first: bool, anchor_end: bool,
              kind: str = "", q: dict | None = None) -> Any:
        page = self._true_page(rows, lo, hi, limit, newest_first=newest_first, anchor_end=anchor_end)
        if self.tamper is not None:
            page = self.tamper(kind, q or {}, page)
        return page

    def _true_page(self, rows: np.ndarray, lo: int, hi: int, limit: int, *, newest_first: bool, anchor_end: bool) -> np.ndarray:
        inside = _window(rows, lo, hi)
        inside = inside[-limit:] if anchor_end else inside[:limit]
        if self.overlap and len(inside):
            # a few rows beyond the window repeat in the next page: exchanges do this at the edges
            after = rows[rows[:, 0] > inside[-1, 0]][: self.overlap]
            before = rows[rows[:, 0] < inside[0, 0]][-self.overlap :]
            inside = np.concatenate([before, inside, after])
        if newest_first:
            inside = inside[::-1]
        if self.shuffle and len(inside) > 2:
            inside = inside[self.rng.permutation(len(inside))]
        return inside

    def _guard(self, path: str, q: dict) -> None:
        err = self.fail(path, q)
        if err is not None:
            raise err

    def _routes(self) -> dict:
        h = self.h
        if self.id == "binanceusdm":
            def klines(rows: np.ndarray, mark: bool) -> Callable[[dict], Any]:
                kind = "mark" if mark else "klines"

                def answer(q: dict) -> Any:
                    self._guard("klines", q)
                    lo, hi, limit = int(q["startTime"]), int(q.get("endTime", 10**15)), int(q.get("limit", 500))
                    page = self._page(rows, lo, hi, limit, newest_first=False, anchor_end=False, kind=kind, q=q)
                    if isinstance(page, str):
                        return page
                    return [[int(r[0]), _s(r[1]), _s(r[2]), _s(r[3]), _s(r[4]), "0" if mark else _s(r[5]),
                             int(r[0]) + H - 1, "0", 100, "0", "0", "0"] for r in page]
                return answer

            def oi(q: dict) -> Any:
                self._guard("oi", q)
                page = self._page(h.oi, int(q["startTime"]), int(q["endTime"]), int(q.get("limit", 30)),
                                  newest_first=False, anchor_end=True, kind="oi", q=q)
                if isinstance(page, str):
                    return page
                return [{"symbol": "BTCUSDT", "sumOpenInterest": _s(r[1]), "sumOpenInterestValue": _s(r[1] * 60000),
                         "timestamp": str(int(r[0]))} for r in page]

            def funding(q: dict) -> Any:
                self._guard("funding", q)
                page = self._page(h.funding, int(q["startTime"]), int(q["endTime"]), int(q.get("limit", 100)),
                                  newest_first=False, anchor_end=False, kind="funding", q=q)
                if isinstance(page, str):
                    return page
                return [{"symbol": "BTCUSDT", "fundingTime": int(r[0]), "fundingRate": _rate(r[1]), "markPrice": "60000"}
                        for r in page]

            return {("GET", "/fapi/v1/klines"): klines(h.candles, False),
                    ("GET", "/fapi/v1/markPriceKlines"): klines(h.mark, True),
                    ("GET", "/futures/data/openInterestHist"): oi,
                    ("GET", "/fapi/v1/fundingRate"): funding}
        if self.id == "bybit":
            def wrap(result: dict) -> dict:
                return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1730729903941}

            def kline(rows: np.ndarray, mark: bool) -> Callable[[dict], Any]:
                kind = "mark" if mark else "klines"

                def answer(q: dict) -> Any:
                    self._guard("klines", q)
                    page = self._page(rows, int(q["start"]), int(q["end"]), int(q.get("limit", 200)),
                                      newest_first=True, anchor_end=True, kind=kind, q=q)
                    if isinstance(page, str):
                        return page
                    lst = [[str(int(r[0])), *(_s(x) for x in r[1:5])] + ([] if mark else [_s(r[5]), _s(r[5] * r[4])])
                           for r in page]
                    return wrap({"category": "linear", "symbol": "BTCUSDT", "list": lst})
                return answer

            def oi(q: dict) -> Any:
                self._guard("oi", q)
                page = self._page(h.oi, int(q["startTime"]), int(q["endTime"]), int(q.get("limit", 50)),
                                  newest_first=True, anchor_end=True, kind="oi", q=q)
                if isinstance(page, str):
                    return page
                return wrap({"category": "linear", "symbol": "BTCUSDT", "nextPageCursor": "",
                             "list": [{"openInterest": _s(r[1]), "timestamp": str(int(r[0]))} for r in page]})

            def funding(q: dict) -> Any:
                self._guard("funding", q)
                page = self._page(h.funding, int(q["startTime"]), int(q["endTime"]), int(q.get("limit", 200)),
                                  newest_first=True, anchor_end=True, kind="funding", q=q)
                if isinstance(page, str):
                    return page
                return wrap({"category": "linear", "list": [
                    {"symbol": "BTCUSDT", "fundingRate": _rate(r[1]), "fundingRateTimestamp": str(int(r[0]))} for r in page]})

            return {("GET", "/v5/market/kline"): kline(h.candles, False),
                    ("GET", "/v5/market/mark-price-kline"): kline(h.mark, True),
                    ("GET", "/v5/market/open-interest"): oi,
                    ("GET", "/v5/market/funding/history"): funding}
        if self.id == "okx":
            def candles(rows: np.ndarray, mark: bool) -> Callable[[dict], Any]:
                kind = "mark" if mark else "klines"

                def answer(q: dict) -> Any:
                    self._guard("klines", q)
                    # okx: before/after are exclusive bounds; the newest rows come first
                    lo, hi = int(q.get("before", -1)) + 1, int(q.get("after", 10**15)) - 1
                    page = self._page(rows, lo, hi, int(q.get("limit", 100)), newest_first=True, anchor_end=True, kind=kind, q=q)
                    if isinstance(page, str):
                        return page
                    if mark:
                        data = [[str(int(r[0])), *(_s(x) for x in r[1:5]), "1"] for r in page]
                    else:
                        data = [[str(int(r[0])), *(_s(x) for x in r[1:5]), _s(r[5] * 100), _s(r[5]), _s(r[5] * r[4]), "1"]
                                for r in page]
                    return {"code": "0", "msg": "", "data": data}
                return answer

            def oi(q: dict) -> Any:
                self._guard("oi", q)
                lo, hi = int(q["begin"]) + 1, int(q["end"]) - 1
                page = self._page(h.oi, lo, hi, int(q.get("limit", 100)), newest_first=True, anchor_end=True, kind="oi", q=q)
                if isinstance(page, str):
                    return page
                return {"code": "0", "msg": "", "data": [
                    [str(int(r[0])), _s(r[1] * 100), _s(r[1]), _s(r[1] * 60000)] for r in page]}

            def funding(q: dict) -> Any:
                self._guard("funding", q)
                lo, hi = int(q.get("before", -1)) + 1, int(q.get("after", 10**15)) - 1
                page = self._page(h.funding, lo, hi, int(q.get("limit", 100)), newest_first=True, anchor_end=True, kind="funding", q=q)
                if isinstance(page, str):
                    return page
                return {"code": "0", "msg": "", "data": [
                    {"fundingRate": _rate(r[1]), "fundingTime": str(int(r[0])), "instId": "BTC-USDT-SWAP",
                     "instType": "SWAP", "method": "current_period", "realizedRate": _rate(r[1])} for r in page]}

            return {("GET", "/api/v5/market/history-candles"): candles(h.candles, False),
                    ("GET", "/api/v5/market/history-mark-price-candles"): candles(h.mark, True),
                    ("GET", "/api/v5/rubik/stat/contracts/open-interest-history"): oi,
                    ("GET", "/api/v5/public/funding-rate-history"): funding}
        raise ValueError(self.id)

    def expected(self, first: int, end: int) -> dict[str, np.ndarray]:
        """The true series restricted to [first, end)."""
        h = self.h
        c = h.candles[(h.candles[:, 0] >= first) & (h.candles[:, 0] < end)]
        return {"candles": c, "mark": h.mark[(h.mark[:, 0] >= first) & (h.mark[:, 0] < end)],
                "oi": h.oi[(h.oi[:, 0] >= first) & (h.oi[:, 0] <= end)],
                "funding": h.funding[(h.funding[:, 0] >= first - 24 * H) & (h.funding[:, 0] <= end)]}


# -- the test clock ----------------------------------------------------------------------------------

NOW = 1_735_689_600_000  # 2025-01-01 00:00 UTC: "now" in the exchange tests


def fast_exchange(monkeypatch: Any, *, real_oi_window: bool = False) -> None:
    """No real sleeping between retries; every page flushed to the cache at once; "now" fixed at :data:`NOW`.

    Binance's 30-day limit on open-interest history is lifted (the test data is from 2024) unless
    ``real_oi_window``.
    """
    import dataclasses

    import liqtools.data.exchange as exchange_mod

    monkeypatch.setattr(exchange_mod, "_sleep", lambda s: None)
    monkeypatch.setattr(exchange_mod, "FLUSH_SECONDS", 0.0)
    if not real_oi_window:
        monkeypatch.setattr(exchange_mod, "_now_ms", lambda: NOW)
        venues = dict(exchange_mod._VENUES)
        venues["binanceusdm"] = dataclasses.replace(venues["binanceusdm"], oi_history_days=None)
        monkeypatch.setattr(exchange_mod, "_VENUES", venues)
