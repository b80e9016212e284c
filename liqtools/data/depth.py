"""Order-book depth per market: the documented default ``D`` of the cascade (docs/model.md section 6).

The cascade needs the USD of market orders that move the price by 1% (``D``). Which side of the book
absorbs the forced flow depends on the direction: a **long flush** sells into the **bids**, a **short
squeeze** buys the **asks**, so every market has a bid and an ask figure, each with the band it was
measured over, the venues, the date and the source.

How a published figure becomes ``D``: the figures below are the USD resting within **2% of the mid-price,
on one side**, summed over the centralized exchanges the data provider tracks. ``D`` is half of that: the
book read as evenly filled inside the band. Real books are concave (Amberdata's 2025 study of Binance
BTC/FDUSD found 4.7 times the depth at 100 bp as at 10 bp, not 10 times), so the USD within 1% is more than
half the USD within 2%: the halved figure is on the thin side and the simulated moves lean large.
These are **spot** books; perpetual-futures books add depth of their own, so as a stand-in for the whole
market's depth they are again on the thin side. The bundled sample's open interest is one venue's
(Hyperliquid), so the model's forced flow is one venue's positions pushing against the whole market's depth
(arbitrage carries a move from venue to venue within seconds); a single venue's own book is much thinner.

The old default, the bundled ``orderbook_depth.parquet`` snapshot (:func:`liqtools.data.sample.sample_depth_usd`,
$4.2M for BTC on Hyperliquid), states no band at all and is no longer used as a default.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from liqtools._format import usd as _money
from liqtools.errors import DataError

__all__ = ["Depth", "DepthSide", "depth_table", "market_depth", "side_for"]

DepthSide = Literal["bid", "ask"]

_HALVED = "book within 2% of mid, one side, halved"


@dataclass(frozen=True)
class Depth:
    """A documented depth assumption for one market: USD per 1% on each side of the book.

    Attributes
    ----------
    coin
        The market's base coin (``"BTC"``).
    bid_usd, ask_usd
        USD of market orders that move the price by 1%: bids absorb a long flush (forced sells), asks a
        short squeeze (forced buys).
    band
        The price band and sides the published figure was measured over, and how it became ``D``.
    venue
        Where the book was measured.
    date
        When (ISO date), or ``"undated"``.
    source
        Who published the figure.
    url
        Where it was read.
    note
        What the figure is not; how far to trust it.
    """

    coin: str
    bid_usd: float
    ask_usd: float
    band: str
    venue: str
    date: str
    source: str
    url: str = ""
    note: str = ""

    def usd(self, side: DepthSide) -> float:
        """The side's depth: ``"bid"`` for a long flush, ``"ask"`` for a short squeeze."""
        if side not in ("bid", "ask"):
            raise DataError(f"side must be 'bid' (long flush) or 'ask' (short squeeze), got {side!r}")
        return self.bid_usd if side == "bid" else self.ask_usd

    def for_shock(self, shock: float) -> float:
        """The depth a cascade after ``shock`` meets: the asks for an up shock, the bids for a down one."""
        return self.usd(side_for(shock))

    def describe(self, side: DepthSide | None = None, *, full: bool = False) -> str:
        """One line for readouts: the figure(s), band, venue, date and source (``full``: also the address and note).

        Examples
        --------
        >>> print(market_depth("BTC").describe("ask"))
        BTC asks $104.7M per 1% (book within 2% of mid, one side, halved; Kaiko aggregate of centralized spot exchanges, 2024-06-02; Kaiko data reported by CryptoSlate)
        >>> print(market_depth("BTC").describe())
        BTC bids $101.2M, asks $104.7M per 1% (book within 2% of mid, one side, halved; Kaiko aggregate of centralized spot exchanges, 2024-06-02; Kaiko data reported by CryptoSlate)
        """
        if side is None:
            figures = f"{self.coin} bids {_money(self.bid_usd)}, asks {_money(self.ask_usd)} per 1%"
        else:
            word = "bids" if side == "bid" else "asks"
            figures = f"{self.coin} {word} {_money(self.usd(side))} per 1%"
        text = f"{figures} ({self.band}; {self.venue}, {self.date}; {self.source})"
        if full:
            text += (f", read at {self.url}" if self.url else "") + (f". {self.note}" if self.note else "")
        return text


def side_for(shock: float) -> DepthSide:
    """``"ask"`` for an up shock (forced buys lift the asks), ``"bid"`` for a down one (forced sells hit the bids).

    >>> side_for(0.01), side_for(-0.01)
    ('ask', 'bid')
    """
    return "ask" if shock >= 0 else "bid"


# Published 2%-band figures (USD, one side) -> D = half of them. Keep the raw figures here so the
# conversion stays visible and testable.
_RAW: dict[str, dict[str, object]] = {
    "BTC": {
        "bid_2pct": 202.40e6,
        "ask_2pct": 209.44e6,
        "venue": "Kaiko aggregate of centralized spot exchanges",
        "date": "2024-06-02",
        "source": "Kaiko data reported by CryptoSlate",
        "url": (
            "vcpcrypto.com/market-depth-reveals-bitcoins-underlying-strength-at-70k/ (CryptoSlate's 'Market depth "
            "reveals Bitcoin's underlying strength at $70k', reposted)"
        ),
        "note": "BTC near $67.8k-$70.6k at the time; two days later the same series read $219.06M bids / $254.91M asks.",
    },
    "ETH": {
        "bid_2pct": 183.5e6,
        "ask_2pct": 209.99e6,
        "venue": "aggregate of centralized spot exchanges (Binance 44.53%)",
        "date": "2025-07-21",
        "source": "market-depth report reposted without its data provider's name",
        "url": "btcpizza.com/ethereum-order-book-liquidity-has-increased-by-41-since-april",
        "note": (
            "The repost ('Ethereum order book liquidity has increased by 41% since April') gives a $393.34M total, "
            "$0.15M off the sum of its sides; the sides are used."
        ),
    },
    "SOL": {
        "bid_2pct": 14.5e6 / 0.4453,
        "ask_2pct": 10.8e6 / 0.4453,
        "venue": "Binance spot, scaled to all exchanges by ETH's Binance share (rough scale)",
        "date": "undated",
        "source": "an undated market-structure article (Binance SOL: $14.5M bids, $10.8M asks within 2%)",
        "url": "thecryptogrid.com/?p=2051",
        "note": (
            "A rough scale, not a measurement: no dated aggregate SOL figure was found, so one venue's depth is "
            "divided by 0.4453, Binance's share of ETH's aggregated 2% depth on 2025-07-21 (the ETH source). "
            "Give your own depth_usd for anything beyond illustration."
        ),
    },
}


def depth_table() -> pd.DataFrame:
    """Every documented market: ``market, side, depth_usd`` (per 1%), ``band, venue, date, source, url, note``.

    Examples
    --------
    >>> t = depth_table()
    >>> sorted(set(t["market"]))
    ['BTC', 'ETH', 'SOL']
    >>> t[t.market == "BTC"][["side", "depth_usd"]].to_dict("list")
    {'side': ['bid', 'ask'], 'depth_usd': [101200000.0, 104720000.0]}
    """
    rows = []
    for coin in _RAW:
        d = market_depth(coin)
        for side in ("bid", "ask"):
            rows.append(
                {
                    "market": coin,
                    "side": side,
                    "depth_usd": d.usd(side),  # type: ignore[arg-type]
                    "band": d.band,
                    "venue": d.venue,
                    "date": d.date,
                    "source": d.source,
                    "url": d.url,
                    "note": d.note,
                }
            )
    return pd.DataFrame(rows)


_SUFFIX = re.compile(r"(USDT|USDC|USD|PERP)$")


def _coin(market: str) -> str:
    """'BTC', 'btc', 'BTCUSDT', 'BTC/USDT:USDT', 'eth-2024' (a sample name) -> the base coin."""
    text = str(market).strip().upper()
    text = re.split(r"[/:\-_ ]", text, maxsplit=1)[0]
    return _SUFFIX.sub("", text) or text


def market_depth(coin: str = "BTC") -> Depth:
    """The documented depth for a market: bids (long flush) and asks (short squeeze), USD per 1%.

    ``coin`` is a coin (``"BTC"``), a symbol (``"BTCUSDT"``, ``"BTC/USDT:USDT"``) or a bundled sample's name
    (``"eth-2024"``). See the module docstring for how the published figures become ``D`` and why they are on
    the thin side.

    Raises
    ------
    DataError
        for a market with no documented figure, listing the ones there are.

    Examples
    --------
    >>> d = market_depth("BTC")
    >>> d.bid_usd, d.ask_usd, d.date
    (101200000.0, 104720000.0, '2024-06-02')
    >>> round(market_depth("eth-2024").ask_usd / 1e6, 2)
    105.0
    >>> market_depth("SOL").date
    'undated'
    """
    key = _coin(coin)
    raw = _RAW.get(key)
    if raw is None:
        raise DataError(
            f"no documented order-book depth for {coin!r}; documented: {sorted(_RAW)}. Pass depth_usd "
            "(USD of market orders that move the price by 1%) from a source you can name."
        )
    bid, ask = float(raw["bid_2pct"]) / 2.0, float(raw["ask_2pct"]) / 2.0  # type: ignore[arg-type]
    assert math.isfinite(bid) and math.isfinite(ask)
    return Depth(
        coin=key,
        bid_usd=round(bid, 2),
        ask_usd=round(ask, 2),
        band=_HALVED,
        venue=str(raw["venue"]),
        date=str(raw["date"]),
        source=str(raw["source"]),
        url=str(raw["url"]),
        note=str(raw["note"]),
    )
