"""``liqtools dashboard`` (liqtools/app.py): local only, a token, a Host check, a kernel cap, a clean stop."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from liqtools import app
from liqtools.errors import DataError


def test_voila_command_is_local_without_fallback_ports(tmp_path):
    cmd = app.voila_command(tmp_path / "d.ipynb", 8123, token="s3cret", max_kernels=3)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8123" in cmd and "--no-browser" in cmd
    assert "--Voila.port_retries=0" in cmd  # a busy port is an error, never another port
    assert "--token=s3cret" in cmd and "--LocalVoila.max_kernels=3" in cmd
    assert cmd[1:3] == ["-m", "liqtools._voila_server"]


@pytest.mark.parametrize("port", [0, -1, 65536, 99999999])
def test_bad_ports_are_refused(port):
    with pytest.raises(DataError, match="port"):
        app.check_port(port)


def test_a_busy_port_is_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(DataError, match="in use"):
            app.check_port(s.getsockname()[1])


def test_the_readiness_probe_sends_no_request():
    """Probing by HTTP would render the notebook and start a kernel; the probe only connects."""
    received = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def accept():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(1.0)
                try:
                    received.append(conn.recv(100))
                except OSError:
                    received.append(b"")

        t = threading.Thread(target=accept)
        t.start()
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert app._wait_until_serving(port, proc, timeout=10)
        finally:
            proc.kill()
            proc.wait()
        t.join(5)
    assert received == [b""]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect to the login page is an answer, not something to follow


def _get(url, host=None):
    """HTTP status of GET ``url`` (redirects not followed)."""
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=180) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_served_dashboard_is_guarded_and_stops_cleanly(tmp_path):
    """One real Voila: token in the URL, Host check, kernel cap, SIGTERM stops Voila and removes the folder."""
    pytest.importorskip("voila")
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "liqtools", "dashboard", "--max-kernels", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "liqtools dashboard: http" in line or not line:
                break
        m = re.search(r"(http://127\.0\.0\.1:(\d+)/)\?token=([\w-]{20,})", line)
        assert m, line
        base, port, token = m.group(1), int(m.group(2)), m.group(3)
        assert list(tmp_path.glob("liqtools-dashboard-*"))
        assert _get(base) in (302, 403)  # no token: the login page at most
        assert _get(f"{base}?token=wrong") in (302, 403)
        assert _get(f"{base}?token={token}", host="evil.example:80") == 403  # DNS rebinding
        assert _get(f"{base}?token={token}") == 200  # the one kernel the cap allows
        assert _get(f"{base}?token={token}") == 503  # a second one is refused before it starts
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0  # Voila is gone
        assert not list(tmp_path.glob("liqtools-dashboard-*"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_no_token_is_explicit(tmp_path):
    cmd = app.voila_command(tmp_path / "d.ipynb", 8123, token="")
    assert "--token=" in cmd
