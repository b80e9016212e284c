"""liqtools' exceptions: one root, a few subclasses.

Every error a user can provoke with bad input is a :class:`DataError`, which is also a
``ValueError`` so that ``except ValueError`` keeps working. Failures to get data from an exchange or an
archive are :class:`FetchError` (a ``RuntimeError``); a request the venue cannot serve at all (no such
endpoint) is its subclass :class:`NotSupportedError`. Both name the exchange, the method, the symbol and
what to do, and chain the original exception (``raise ... from e``). A disk cache that cannot be used
(unwritable directory, lock held too long, unreadable file) is a :class:`CacheError`.
"""

from __future__ import annotations

__all__ = ["CacheError", "DataError", "FetchError", "LiqtoolsError", "NotSupportedError"]


class LiqtoolsError(Exception):
    """Root of every exception liqtools raises on purpose."""


class DataError(LiqtoolsError, ValueError):
    """Input data or parameters that liqtools refuses, with a message naming the problem."""


class FetchError(LiqtoolsError, RuntimeError):
    """Data could not be downloaded (after retries); pages already fetched stay in the cache.

    Attributes ``exchange``, ``method`` and ``symbol`` say what failed (``None`` where not applicable).
    """

    def __init__(self, message: str, *, exchange: str | None = None, method: str | None = None, symbol: str | None = None):
        super().__init__(message)
        self.exchange = exchange
        self.method = method
        self.symbol = symbol


class NotSupportedError(FetchError):
    """The exchange (or archive) does not offer this data; the message names the alternative."""


class CacheError(LiqtoolsError, OSError):
    """The disk cache cannot be used (unwritable directory, lock timeout)."""
