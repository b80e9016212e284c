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


# ---------------------------------------------------------------------------- dependencies, licence, docs


def _pyproject_dependencies():
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_package_dependencies_are_ranges_with_exact_pins_kept_apart():
    from packaging.requirements import Requirement

    deps = {Requirement(d).name.lower().replace("-", "_"): Requirement(d) for d in _pyproject_dependencies()}
    assert str(deps["ccxt"].specifier) in ("<5,>=4.5", ">=4.5,<5")  # a range, so liqtools installs beside other software
    for name, req in deps.items():
        assert not any(spec.operator in ("==", "===") for spec in req.specifier), f"{name} is pinned in pyproject.toml"
        assert any(spec.operator in (">=", ">") for spec in req.specifier), f"{name} has no lower bound"
    pins = {ln.split("==")[0].lower().replace("-", "_"): ln.split("==")[1].strip() for ln in (ROOT / "constraints.txt").read_text().splitlines() if "==" in ln}
    binder = {
        ln.split("==")[0].lower().replace("-", "_"): ln.split("==")[1].strip()
        for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if "==" in ln and not ln.startswith("#")
    }
    for name, req in deps.items():
        assert name in pins, f"{name} has no exact pin in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt pins {name}=={pins[name]} outside {req.specifier}"
        if name in binder:
            assert req.specifier.contains(binder[name], prereleases=True), f"binder pins {name}=={binder[name]} outside {req.specifier}"
            assert binder[name] == pins[name], f"binder and constraints.txt disagree on {name}"


def test_licence_is_the_one_the_readme_names():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 liqtools developers" in text
    assert "[LICENSE](LICENSE)" in (ROOT / "README.md").read_text()


def test_the_model_contract_is_in_the_repository_and_matches_the_code():
    import liqtools as lt
    from liqtools.data.depth import market_depth

    doc = (ROOT / "docs" / "model.md").read_text()
    for n, title in enumerate(["one position", "leverage profile", "open-interest changes", "map", "Clusters", "cascade", "Momentum"], 1):
        assert re.search(rf"^## {n}\. .*{title}", doc, flags=re.MULTILINE | re.IGNORECASE), f"section {n}"
    assert "## Your data" in doc and "## Options beyond the contract" in doc
    for option in ("turnover", "half_life_mix", "near_cut", "crowding", "consume_margin", 'split="accounts"'):
        assert f"`{option}" in doc, f"docs/model.md does not explain the option {option}"
    # known answers quoted in the text are the library's
    assert f"{lt.liquidation_price(100_000, 10, 'long'):,.1f}" in doc and f"{lt.liquidation_price(100_000, 100, 'short'):,.1f}" in doc
    for coin in ("BTC", "ETH", "SOL"):
        d = market_depth(coin)
        row = f"| {coin} | ${d.bid_usd / 1e6:.1f}M | ${d.ask_usd / 1e6:.1f}M |"
        assert row in doc, row
    assert market_depth("BTC").date in doc and market_depth("ETH").date in doc
    # nothing users read points at a MODEL.md that is not in the repository
    assert not (ROOT / "MODEL.md").exists()
    assert "MODEL.md" not in (ROOT / "README.md").read_text().replace("docs/model.md", "")
    assert "MODEL.md" not in (lt.__doc__ or "")


def test_cli_help_points_at_docs_model_md(capsys):
    import pytest

    from liqtools.cli import main

    for command in ("cascade", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "docs/model.md" in out and "MODEL.md" not in out.replace("docs/model.md", ""), command


def test_no_reference_to_a_missing_model_md_in_the_package_or_notebooks():
    files = [*(ROOT / "liqtools").rglob("*.py"), *(ROOT / "notebooks").glob("*.ipynb")]
    stale = [str(p.relative_to(ROOT)) for p in files if "MODEL.md" in p.read_text()]
    assert not stale, stale


def test_layout_errors_point_at_the_documented_layout(tmp_path):
    import pytest

    import liqtools as lt
    from liqtools.errors import DataError
    from liqtools.schema import LAYOUT_DOC

    path, anchor = LAYOUT_DOC.split("#")
    heading = next(ln for ln in (ROOT / path).read_text().splitlines() if ln.startswith("## Your data"))
    assert re.sub(r"[^a-z0-9 -]", "", heading[3:].lower()).replace(" ", "-") == anchor  # GitHub's anchor rule
    bad = tmp_path / "m.csv"
    lt.load_sample().iloc[:30].drop(columns="volume").to_csv(bad)
    with pytest.raises(DataError, match=f"missing column.*volume.*{re.escape(LAYOUT_DOC)}"):
        lt.data.read_market(bad)
    (tmp_path / "t.csv").write_text("when,open,high,low,close,volume\n1,1,1,1,1,1\n")
    with pytest.raises(DataError, match=f"no time column.*{re.escape(LAYOUT_DOC)}"):
        lt.data.read_market(tmp_path / "t.csv")
    with pytest.raises(DataError, match=re.escape(LAYOUT_DOC)):
        lt.validate_market(lt.load_sample().tz_localize(None))
