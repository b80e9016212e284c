"""The Voila dashboard app: its notebook and ``liqtools dashboard`` to serve it locally."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

__all__ = ["DASHBOARD_CELLS", "check_port", "dashboard_notebook", "free_port", "serve_dashboard", "voila_command"]

#: The cells of notebooks/dashboard.ipynb (a test keeps the two identical).
DASHBOARD_CELLS: list[tuple[str, str]] = [
    (
        "markdown",
        (
            "## liqtools dashboard\n\n"
            "Estimated liquidation levels for the bundled markets (choose one above the tabs): every number is a model estimate, not an observed position.\n"
            "Move the time slider or type a date, the leverage mix, the split and the shock; each tab is built when first opened."
        ),
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


def check_port(port: int) -> int:
    """``port`` if it is a TCP port number that is free on 127.0.0.1 now; a DataError otherwise (never another port)."""
    from liqtools.errors import DataError

    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise DataError(f"port must be an integer in 1..65535, got {port!r}")
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except PermissionError:
            raise DataError(f"port {port} needs privileges on this machine: choose one above 1023") from None
        except OSError:
            raise DataError(f"port {port} is in use on 127.0.0.1: choose another or leave --port out for a free one") from None
    return port


def voila_command(notebook: Path, port: int, *, token: str = "", max_kernels: int = 8) -> list[str]:
    """The command that serves ``notebook`` with Voila on 127.0.0.1 only, on exactly ``port``.

    ``token``: the secret a browser needs in the URL (``?token=...``); ``""`` for none (tests and classrooms;
    :func:`serve_dashboard` makes a random one). The server checks the Host header (loopback names only) and
    runs at most ``max_kernels`` kernels at once (see ``liqtools._voila_server``).
    """
    return [
        sys.executable,
        "-m",
        "liqtools._voila_server",
        str(notebook),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        f"--token={token}",
        f"--LocalVoila.max_kernels={max_kernels}",
    ]


def serve_dashboard(
    port: int | None = None, *, open_browser: bool = False, token: bool = True, max_kernels: int = 8
) -> int:
    """Serve the dashboard with Voila at http://127.0.0.1:PORT/?token=... until interrupted; returns Voila's exit code.

    ``token=False`` serves without a token (a classroom on one machine: anyone who can reach 127.0.0.1 can
    open it). The readiness check only connects to the port (no page request, so no kernel starts for it).
    Ctrl-C or SIGTERM stops Voila (and its kernels) and removes the temporary folder. BokehJS is embedded in
    the page (``BOKEH_RESOURCES=inline`` unless set), so it works offline.
    """
    from liqtools.errors import LiqtoolsError

    if not (_has_module("voila") and _has_module("ipykernel")):
        raise LiqtoolsError("the dashboard needs Voila and ipykernel: pip install 'liqtools[app]'")
    if isinstance(max_kernels, bool) or not isinstance(max_kernels, int) or max_kernels < 1:
        raise LiqtoolsError(f"max_kernels must be an integer >= 1, got {max_kernels!r}")
    port = free_port() if port is None else check_port(port)
    import nbformat

    secret = secrets.token_urlsafe(24) if token else ""
    folder = Path(tempfile.mkdtemp(prefix="liqtools-dashboard-"))
    main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be handled
    previous = signal.getsignal(signal.SIGTERM)
    proc: subprocess.Popen | None = None
    try:
        if main_thread:
            signal.signal(signal.SIGTERM, _interrupt)
        notebook = folder / "dashboard.ipynb"
        nbformat.write(dashboard_notebook(), notebook)  # type: ignore[arg-type]
        env = {**os.environ, "BOKEH_RESOURCES": os.environ.get("BOKEH_RESOURCES", "inline")}
        url = f"http://127.0.0.1:{port}/" + (f"?token={secret}" if secret else "")
        proc = _start_voila(voila_command(notebook, port, token=secret, max_kernels=max_kernels), env=env, cwd=folder)
        if not _wait_until_serving(port, proc):
            code = proc.wait()
            raise LiqtoolsError(f"Voila stopped (exit status {code}) before serving on port {port}")
        print(f"liqtools dashboard: {url}  (Ctrl-C to stop)", flush=True)
        if not secret:
            print("liqtools dashboard: no token: anyone who can reach 127.0.0.1 on this machine can open it", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc is not None:
            _stop(proc)
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(folder, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_voila(cmd: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, cwd=cwd)


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop Voila: SIGTERM (it shuts its kernels down), then SIGKILL if it does not exit in ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    """True once 127.0.0.1:``port`` accepts a connection; False if the server exits first or ``timeout`` passes.

    Only connects: a page request would render the notebook and start a kernel just to probe.
    """
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            s.settimeout(2.0)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
