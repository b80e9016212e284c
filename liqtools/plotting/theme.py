"""Shared look: side colours (the same everywhere in liqtools) and number formats."""

from __future__ import annotations

from liqtools._format import CAVEAT, price_text, usd

__all__ = ["LONG_COLOR", "SHORT_COLOR", "PRICE_COLOR", "CAVEAT", "usd", "price_text"]

LONG_COLOR = "#d6404e"  # longs are liquidated on the way down: red
SHORT_COLOR = "#1a9c74"  # shorts are liquidated on the way up: green
PRICE_COLOR = "#2b2b2b"
