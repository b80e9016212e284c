"""The Voila dashboard app: its notebook and ``liqtools dashboard`` to serve it locally."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["DASHBOARD_CELLS", "dashboard_notebook", "serve_dashboard", "free_port"]

#: The cells of notebooks/dashboard.ipynb (a test keeps the two identical).
DASHBOARD_CELLS: list[tuple[str, str]] = [
    (
        "markdown",
        "# liqtools dashboard\n\n"
        "Estimated liquidation levels for BTC (bundled sample: Binance perpetual candles with Hyperliquid open\n"
        "interest, Dec 2025 to Mar 2026). Move the time slider, the leverage mix, the split and the shock; every\n"
        "number is a model estimate, not an observed position.",
    ),
    ("code", "from liqtools.widgets import Dashboard\n\ndashboard = Dashboard()\ndashboard"),
]


def dashboard_notebook() -> dict:
    """The dashboard notebook as nbformat v4 JSON."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source in DASHBOARD_CELLS:
        nb.cells.append(nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source))
    return nb


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def voila_command(notebook: Path, port: int) -> list[str]:
    """The command that serves ``notebook`` with Voila on 127.0.0.1 (no browser, no token: local only)."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
    ]


def serve_dashboard(port: int | None = None, *, open_browser: bool = False) -> int:
    """Serve the dashboard with Voila at http://127.0.0.1:PORT/ until interrupted; returns Voila's exit code.

    BokehJS is embedded in the page (``BOKEH_RESOURCES=inline`` unless set), so it works offline.
    """
    if not (_has_module("voila") and _has_module("ipykernel")):
        from liqtools.errors import LiqtoolsError

        raise LiqtoolsError("the dashboard needs Voila and ipykernel: pip install 'liqtools[app]'")
    import nbformat

    port = port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="liqtools-dashboard-"))
    notebook = folder / "dashboard.ipynb"
    nbformat.write(dashboard_notebook(), notebook)  # type: ignore[arg-type]
    env = {**os.environ, "BOKEH_RESOURCES": os.environ.get("BOKEH_RESOURCES", "inline")}
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(voila_command(notebook, port), env=env, cwd=folder)
    try:
        if _wait_until_serving(url, proc):
            print(f"liqtools dashboard: {url}  (Ctrl-C to stop)", flush=True)
            if open_browser:
                import webbrowser

                webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_serving(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    """True once ``url`` answers; False if the server exits first."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
