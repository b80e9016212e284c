"""Where alerts go besides the screen: a log file (one JSON line each) and a webhook the user names.

A sink never stops the watch: a webhook that does not answer costs one warning line, and the alert stays
in the log file and on the screen.
"""

from __future__ import annotations

import json
import math
import os
import stat
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from liqtools.analysis._engage_core import Alert
from liqtools.errors import DataError

__all__ = ["AlertLog", "Sink", "Webhook", "alert_record", "deliver"]


class Sink(Protocol):
    def send(self, alert: Alert) -> None: ...


def deliver(readings: Iterable[Any], show: Callable[[Any], None] | None, sinks: Iterable[Sink]) -> None:
    """Each reading to ``show`` (the screen), and each alert among them to every sink."""
    sinks = list(sinks)
    for reading in readings:
        if show is not None:
            show(reading)
        if reading.alert is not None:
            for sink in sinks:
                sink.send(reading.alert)


def alert_record(alert: Alert) -> dict[str, Any]:
    """The alert as plain JSON values (time in ISO 8601 UTC; non-finite numbers as null)."""
    out: dict[str, Any] = {}
    for name in Alert.__dataclass_fields__:
        value = getattr(alert, name)
        if name == "time":
            value = value.isoformat()
        elif isinstance(value, float) and not math.isfinite(value):
            value = None
        out[name] = value
    return out


class AlertLog:
    """Append each alert to ``path`` as one JSON line, flushed to disk at once (a crash loses none).

    >>> import tempfile, pandas as pd
    >>> from liqtools.analysis._engage_core import Alert
    >>> a = Alert(pd.Timestamp("2026-02-05 15:00", tz="UTC"), "long", 67_000.0, 67_200.0, 67_452.0, 0.004,
    ...           -0.45, 5.9, 1.98e7, 3.0, "price entered the band")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = AlertLog(f"{d}/alerts.jsonl"); log.send(a); log.send(a)
    ...     lines = open(f"{d}/alerts.jsonl").read().splitlines()
    >>> len(lines), json.loads(lines[0])["time"]
    (2, '2026-02-05T15:00:00+00:00')
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise DataError(f"--log {self.path} is a directory; give a file to append the alerts to")
        if not self.path.parent.is_dir():
            raise DataError(f"--log {self.path}: the folder {self.path.parent} does not exist")

    def send(self, alert: Alert) -> None:
        line = json.dumps(alert_record(alert), ensure_ascii=False) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # a pipe or /dev/null has nothing to sync
                    os.fsync(fh.fileno())
        except OSError as exc:
            warnings.warn(f"--log {self.path} did not take the alert ({exc}); it is on screen", stacklevel=2)


class Webhook:
    """POST each alert as JSON (``{"text": ..., "alert": {...}}``: Slack- and Discord-style ``text``) to a URL."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        parts = urlparse(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DataError(f"--webhook must be an http(s) URL, got {url!r}")
        self.url, self.timeout = url, float(timeout)

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": str(alert), "alert": alert_record(alert)}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            warnings.warn(f"webhook {self.url} did not take the alert ({exc}); it is in the log and on screen", stacklevel=2)
