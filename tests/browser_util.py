"""Helpers for the real-browser tests and the latency benchmark: servers on 127.0.0.1, Chromium via Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LIQTOOLS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser_parts() -> list[str]:
    """What the browser tests need and this machine lacks (empty when all is there)."""
    missing = []
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"chromium at {CHROMIUM} (scripts/install-system-deps installs it)")
    for module in ("playwright", "voila", "jupyterlab"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the {module} package (pip install -e '.[test]')")
    return missing


def free_port() -> int:
    from liqtools.app import free_port as _free

    return _free()


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f} s")


@contextlib.contextmanager
def server(cmd: list[str], url: str, log: Path, *, ready: str | None = None) -> Iterator[str]:
    """Run ``cmd`` until the block ends; yields ``url`` once ``ready`` (default ``url``) answers."""
    # a private Jupyter config, settings and workspace: the user's ~/.jupyter never leaks into a test
    home = Path(tempfile.mkdtemp(prefix="liqtools-jupyter-"))
    env = {
        **os.environ,
        "BOKEH_RESOURCES": "inline",
        "PYTHONUNBUFFERED": "1",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_http(ready or url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(home, ignore_errors=True)


def voila_server(notebook: Path, log: Path, *, extra_args: tuple[str, ...] = ()) -> contextlib.AbstractContextManager[str]:
    """Voila serving ``notebook`` as ``liqtools dashboard`` does (``extra_args`` appended to its command)."""
    from liqtools.app import voila_command

    port = free_port()
    # readiness from a static file: requesting the page itself would start a kernel and run the notebook
    base = f"http://127.0.0.1:{port}/"
    return server([*voila_command(notebook, port), *extra_args], base, log, ready=f"{base}voila/templates/lab/static/voila.js")


def lab_server(root: Path, log: Path) -> contextlib.AbstractContextManager[str]:
    """JupyterLab on ``root`` (a scratch copy: Lab autosaves, and notebooks here stay output-free)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    return server(cmd, f"http://127.0.0.1:{port}/lab", log)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# JavaScript run in the page --------------------------------------------------------------------------

READ_SOURCE = """([name, column]) => {
  if (!window.Bokeh || !Bokeh.documents) return null;
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name(name);
    if (m && m.data && column in m.data) return Array.from(m.data[column]);
  }
  return null;
}"""

# Dispatch a key on a slider handle and time it until the named source's column changes, and until the frame
# after that change is done (in-page clock).
KEY_LATENCY = """async ([handle, key, name, column]) => {
  // [data, painted]: ms from the key event to the column changing in BokehJS (a listener on the source, so
  // the moment the patch is applied), and to the end of the first frame after it (the plots' repaint done)
  let source = null;
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name(name);
    if (m && m.data && column in m.data) { source = m; break; }
  }
  if (source == null) return [-1, -1];
  const read = () => JSON.stringify(Array.from(source.data[column]));
  const before = read();
  let data = -1, changed = null;
  const painted = new Promise((resolve) => {
    changed = () => {
      if (data < 0 && read() !== before) {
        data = performance.now();
        // the repaint runs in an animation frame (BokehJS throttles it so); a task queued from that frame runs after it
        requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0));
      }
    };
    source.change.connect(changed);
    setTimeout(() => resolve(-1), 10000);
  });
  handle.focus();
  const t0 = performance.now();
  handle.dispatchEvent(new KeyboardEvent('keydown', {key: key, bubbles: true}));
  handle.dispatchEvent(new KeyboardEvent('keyup', {key: key, bubbles: true}));
  const end = await painted;
  source.change.disconnect(changed);
  return data < 0 || end < 0 ? [-1, -1] : [data - t0, end - t0];
}"""


ARRAY_SUM = """([name, column]) => {  // [length, sum] of the first array of a named source's column (an image)
  for (const doc of [...Bokeh.documents].reverse()) {
    const m = doc.get_model_by_name(name);
    if (m && m.data[column]) { const a = m.data[column][0]; let s = 0; for (const v of a) s += v; return [a.length, s]; }
  }
  return null;
}"""


RECORD_SENT = """() => {  // every text message the page sends to the kernel from now on (binary frames decoded)
  window.__liqtools_sent = [];
  if (window.__liqtools_send_hooked) return;
  window.__liqtools_send_hooked = true;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__liqtools_sent.push(typeof data === 'string' ? data : new TextDecoder().decode(data));
    return send.call(this, data);
  };
}"""


def record_sent(page) -> None:  # type: ignore[no-untyped-def]
    """Start recording what the page sends to the kernel (:func:`sent_messages` reads it)."""
    page.evaluate(RECORD_SENT)


def sent_messages(page) -> list[str]:  # type: ignore[no-untyped-def]
    return list(page.evaluate("() => window.__liqtools_sent"))


WAIT_EQUAL = """([name, column, expected]) => {
  for (const doc of [...Bokeh.documents].reverse()) {  // newest first: a rebuilt tab's document
    const m = doc.get_model_by_name(name);
    if (m && m.data && column in m.data) {
      const got = Array.from(m.data[column]);
      return got.length === expected.length && got.every((v, i) => v === expected[i] || Math.abs(v - expected[i]) <= 1e-9 * Math.abs(expected[i]));
    }
  }
  return false;
}"""


def wait_equal(page, name: str, column: str, expected, timeout_ms: int = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's source ``name`` shows ``expected`` in ``column`` (patches arrive one source at a time)."""
    values = [float(v) if isinstance(v, (int, float)) else v for v in list(expected)]
    page.wait_for_function(WAIT_EQUAL, arg=[name, column, values], timeout=timeout_ms)


def slider_handle(page, label: str, nth: int = 0):  # type: ignore[no-untyped-def]
    """The handle element of the ``nth`` slider whose description is ``label``."""
    sliders = page.locator(".widget-slider", has=page.locator(".widget-label", has_text=label))
    return sliders.nth(nth).locator(".noUi-handle").element_handle(timeout=60_000)


def key_latency_ms(page, label: str, key: str, name: str, column: str, nth: int = 0) -> float:  # type: ignore[no-untyped-def]
    """Milliseconds from a key press on the slider to the named source's column changing in the page (-1: not within 10 s)."""
    return float(page.evaluate(KEY_LATENCY, [slider_handle(page, label, nth), key, name, column])[0])


FIRST_PLOT = """() => {
  if (!window.Bokeh || !Bokeh.documents) return false;
  const has_data = Bokeh.documents.some(doc => {
    const m = doc.get_model_by_name('map_bars');
    return m && m.data && m.data.price && m.data.price.length > 0;
  });
  if (!has_data) return false;
  // a drawn canvas inside a bokeh plot (open shadow roots), visible on the page
  const stack = [document];
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.tagName === 'CANVAS' && el.width > 50 && el.height > 50) {
        const r = el.getBoundingClientRect();
        if (r.width > 50 && r.height > 50 && r.bottom > 0 && r.top < window.innerHeight) return true;
      }
    }
  }
  return false;
}"""


def first_plot_visible(page, timeout_ms: int = 120_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until the dashboard's first plot (the map) is drawn on a visible canvas with its data in BokehJS."""
    page.wait_for_function(FIRST_PLOT, timeout=timeout_ms, polling=50)


def open_leverage(page) -> None:  # type: ignore[no-untyped-def]
    """Unfold the open tab's leverage sliders (an accordion, closed at first)."""
    title = page.get_by_text("Leverage profile:").locator("visible=true").first
    title.click()
    page.locator(".widget-slider:visible", has=page.locator(".widget-label", has_text="100x weight %")).first.wait_for(timeout=30_000)


def visible_slider_handle(page, label: str):  # type: ignore[no-untyped-def]
    """The handle of the slider labelled ``label`` in the open tab (a shared slider shows once per built tab;
    the leverage sliders are unfolded first)."""
    sliders = page.locator(".widget-slider:visible", has=page.locator(".widget-label", has_text=label))
    if " weight %" in label and sliders.count() == 0:
        open_leverage(page)
    return sliders.first.locator(".noUi-handle").element_handle(timeout=60_000)


def visible_key_latency_ms(page, label: str, key: str, name: str, column: str) -> float:  # type: ignore[no-untyped-def]
    """:func:`key_latency_ms` on the visible slider with that label."""
    return visible_key_timing(page, label, key, name, column)[0]


def visible_key_timing(page, label: str, key: str, name: str, column: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Milliseconds from a key press on the visible slider with that label to the named source's column changing
    in the page, and to the end of the first frame after that change (the plots repainted); -1 for both when the
    column did not change within 10 s."""
    data, painted = page.evaluate(KEY_LATENCY, [visible_slider_handle(page, label), key, name, column])
    return float(data), float(painted)


# -- what the browser test modules share ----------------------------------------------------------------

ARTIFACTS = ROOT / "test-artifacts"


def browser_marks() -> list[Any]:
    """``pytestmark`` of a browser test module: marked ``browser``; in CI (``CI`` set) a missing browser part is an
    error at collection, never a skip."""
    import pytest

    missing = missing_browser_parts()
    if missing and os.environ.get("CI"):
        raise RuntimeError(f"browser tests cannot run in CI: missing {missing}")
    return [pytest.mark.browser, pytest.mark.skipif(bool(missing), reason=f"missing {missing}")]


def real_errors(errors: list[str]) -> list[str]:
    # the machine has no internet: Chromium's own lookups of outside hosts fail; nothing of ours may
    return [e for e in errors if "ERR_NAME_NOT_RESOLVED" not in e and "ERR_INTERNET_DISCONNECTED" not in e]


def open_page(b, url: str, errors: list[str]):  # type: ignore[no-untyped-def]
    """A 1400x1200 page at ``url`` whose console errors and page errors go to ``errors``."""
    page = b.new_page(viewport={"width": 1400, "height": 1200})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, timeout=120_000)
    return page


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save a screenshot for a human to look at (test-artifacts/, not committed) and check it is a real picture."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, name


def open_tab(page, name: str, control_label: str, source: str) -> None:  # type: ignore[no-untyped-def]
    """Click a dashboard tab and wait for its explorer: built in the kernel when first opened ("building..." until then)."""
    page.get_by_role("tab", name=name, exact=True).click()
    page.locator(".widget-label:visible", has_text=control_label).first.wait_for(timeout=120_000)
    page.wait_for_function("(name) => Bokeh.documents.some(d => d.get_model_by_name(name))", arg=source, timeout=60_000)


# the named model's attributes, from the newest document that has it
MODEL = """([name, attrs]) => {
  for (const doc of [...Bokeh.documents].reverse()) {
    const m = doc.get_model_by_name(name);
    if (m) return attrs.map(a => m[a]);
  }
  return null;
}"""

# every visible canvas of the page (bokeh's shadow DOM included): its box
CANVASES = """() => {
  const stack = [document]; const boxes = [];
  while (stack.length) {
    const root = stack.pop();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) stack.push(el.shadowRoot);
      if (el.tagName === 'CANVAS') {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) boxes.push({x: r.x, y: r.y, w: r.width, h: r.height, right: r.right});
      }
    }
  }
  return boxes;
}"""


def biggest_canvas(page):  # type: ignore[no-untyped-def]
    """The box (x, y, w, h) of the largest visible canvas (a tab's main plot), None without one."""
    boxes = page.evaluate(CANVASES)
    return max(boxes, key=lambda b: b["w"] * b["h"], default=None)


def rightmost_canvas_edge(page) -> float:  # type: ignore[no-untyped-def]
    """The right edge of the rightmost plot-sized canvas (over 50 px each way), 0 without one."""
    return max((b["right"] for b in page.evaluate(CANVASES) if b["w"] > 50 and b["h"] > 50), default=0)
