"""Watch the levels, watch the velocity: the monitor, its replays of stored candles and its live feed.

:class:`Monitor` is the model kept current candle by candle; :func:`replay` drives it from stored candles
(the classroom's crashes, no network); ``liqtools watch`` is the command line.
"""

from liqtools.watch.monitor import Monitor, Reading

__all__ = ["Monitor", "Reading"]
