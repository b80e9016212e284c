"""Project files that users and CI meet: notebooks without outputs, Binder pins, the dashboard app."""

import json
import re
from pathlib import Path

import nbformat

from liqtools.app import DASHBOARD_CELLS, dashboard_notebook, voila_command

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    assert len(NOTEBOOKS) >= 5
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{path.name} has outputs"
        assert path.stat().st_size < 50_000, path.name


def test_teaching_notebooks_end_with_exercises():
    for path in NOTEBOOKS:
        if path.stem[:2].isdigit():
            nb = nbformat.read(path, as_version=4)
            assert "## Exercises" in nb.cells[-1].source, path.name


def test_dashboard_notebook_matches_the_app():
    nb = nbformat.read(ROOT / "notebooks" / "dashboard.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == DASHBOARD_CELLS
    generated = dashboard_notebook()
    assert [(c.cell_type, c.source) for c in generated.cells] == DASHBOARD_CELLS
    cmd = voila_command(ROOT / "notebooks" / "dashboard.ipynb", 8123)
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8123" in cmd and "--no-browser" in cmd


def test_binder_environment_is_pinned_and_installs_liqtools():
    lines = [ln.strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert "." in lines  # liqtools itself
    pins = [ln for ln in lines if ln != "."]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", ln) for ln in pins), pins
    names = {ln.split("==")[0].lower().replace("-", "_") for ln in pins}
    assert {"voila", "jupyterlab", "jupyter_bokeh", "ipywidgets", "bokeh", "ccxt", "statsmodels"} <= names
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_readme_has_binder_badges():
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/badge_logo.svg" in readme
    assert "urlpath=voila%2Frender%2Fnotebooks%2Fdashboard.ipynb" in readme or "urlpath=voila/render/notebooks/dashboard.ipynb" in readme
    assert "urlpath=lab" in readme


def test_ci_installs_from_pinned_constraints():
    pins = {ln.split("==")[0].lower().replace("-", "_"): ln.split("==")[1] for ln in (ROOT / "constraints.txt").read_text().splitlines() if "==" in ln}
    for name in ("numpy", "pandas", "bokeh", "ipywidgets", "jupyter_bokeh", "ccxt", "statsmodels", "voila", "jupyterlab", "playwright", "pytest"):
        assert name in pins, name
    assert pins["ccxt"] == "4.5.90"
    assert "-c constraints.txt" in (ROOT / ".ci" / "run").read_text()
