"""liqtools' exceptions: one root, a few subclasses.

Every error a user can provoke with bad input is a :class:`DataError`, which is also a
``ValueError`` so that ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["LiqtoolsError", "DataError"]


class LiqtoolsError(Exception):
    """Root of every exception liqtools raises on purpose."""


class DataError(LiqtoolsError, ValueError):
    """Input data or parameters that liqtools refuses, with a message naming the problem."""
