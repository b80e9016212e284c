"""Shared look: side colours (the same everywhere in liqtools) and number formats, in Python and in the page.

The page formats (axis ticks, tooltips) use the same unit style as :func:`liqtools._format.usd`: $950,
$12.3k, $341.4M, $1.93B, never e-notation or lowercase unit letters.
"""

from __future__ import annotations

from typing import Any

from liqtools._format import CAVEAT, price_text, profile_text, usd

__all__ = [
    "CAVEAT",
    "LONG_COLOR",
    "PRICE_COLOR",
    "PRICE_TICKS",
    "SHORT_COLOR",
    "USD_JS",
    "price_text",
    "profile_text",
    "usd",
    "usd_hover",
    "usd_ticks",
]

LONG_COLOR = "#d6404e"  # longs are liquidated on the way down: red
SHORT_COLOR = "#1a9c74"  # shorts are liquidated on the way up: green
PRICE_COLOR = "#2b2b2b"
#: Numeral format of prices on axes and in tooltips: thousands separators, decimals only where needed.
PRICE_TICKS = "$0,0.[00]"

#: ``usd(x, trim)`` in JavaScript: :func:`liqtools._format.usd`'s style; ``trim`` drops zero decimals (ticks).
USD_JS = """
function usd(x, trim) {
  if (x == null || !isFinite(x)) return "n/a";
  const s = x < 0 ? "-" : "";
  const a = Math.abs(x);
  let t;
  if (a >= 1e9) t = (a / 1e9).toFixed(2) + "B";
  else if (a >= 1e6) t = (a / 1e6).toFixed(1) + "M";
  else if (a >= 1e3) t = (a / 1e3).toFixed(1) + "k";
  else t = a.toFixed(0);
  if (trim) t = t.replace(/\\.0+(?=[kMB])/, "").replace(/(\\.\\d*[1-9])0+(?=[kMB])/, "$1");
  return s + "$" + t;
}
"""


def usd_ticks() -> Any:
    """A bokeh tick formatter for USD axes: $0, $250M, $1.5B."""
    from bokeh.models import CustomJSTickFormatter

    return CustomJSTickFormatter(code=USD_JS + "return usd(tick, true);")


def usd_hover() -> Any:
    """A bokeh ``CustomJSHover`` for USD tooltip fields (``"@long_usd{custom}"``): $341.4M."""
    from bokeh.models import CustomJSHover

    return CustomJSHover(code=USD_JS + "return usd(value, false);")

