"""Static pictures of every explorer's initial state, for readers of the notebooks without a kernel.

On GitHub or nbviewer a widget cell is empty: nothing runs. Above each such cell the notebooks carry a
short markdown cell with a picture of the explorer's plots as the cell first draws them (bundled sample,
default controls) and a link to Binder, where the sliders move. This script draws the pictures (each
explorer's bokeh layout, standalone, in headless Chromium through Playwright) into docs/pictures/ and
writes or refreshes those markdown cells. Run from the project root after changing an explorer:

    .venv/bin/python scripts/make_notebook_pictures.py

tests/test_notebook_pictures.py checks that every widget cell has its picture cell and the file exists.
The dashboard notebook has none: it is the Voila app, which would show the picture above the live page
(the README's picture stands for it).
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat
from bokeh.embed import file_html
from bokeh.resources import INLINE
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[1]
PICTURES = ROOT / "docs" / "pictures"
BINDER = "https://mybinder.org/v2/gh/liqtools/liqtools/main?urlpath=lab%2Ftree%2Fnotebooks%2F{name}"
#: the first line of every picture cell (how the script and the test find them)
MARKER = "*Reading without a kernel?*"


def _explorers() -> dict[str, Callable[[], object]]:
    import liqtools as lt
    from liqtools.data import sample_positions
    from liqtools.widgets import CascadeExplorer, HeatmapExplorer, LiveDashboard, MapExplorer, MomentumExplorer

    df = lt.load_sample()
    return {
        "map-teaching": lambda: MapExplorer(price=100_000, open_interest_usd=2e9),
        "map-data": lambda: MapExplorer(df),
        "heatmap": lambda: HeatmapExplorer(df, realized=lt.load_sample_liquidations()),
        "cascade": lambda: CascadeExplorer(df=df, market="BTC"),
        "momentum": lambda: MomentumExplorer(df),
        "map-positions": lambda: MapExplorer(df, positions=sample_positions()),
        "live": lambda: LiveDashboard.replay(df, start="2026-02-04 00:00", window=96),
    }


#: (notebook, the code cell's first line that builds the explorer) -> picture
CELLS = {
    ("02_liquidation_map.ipynb", "teach = MapExplorer("): "map-teaching",
    ("02_liquidation_map.ipynb", "data = MapExplorer("): "map-data",
    ("03_heatmap.ipynb", "explorer = HeatmapExplorer("): "heatmap",
    ("04_cascade.ipynb", "explorer = CascadeExplorer("): "cascade",
    ("05_momentum.ipynb", "explorer = MomentumExplorer("): "momentum",
    ("08_measured_positions.ipynb", "explorer = MapExplorer("): "map-positions",
    ("10_watch.ipynb", "dash = LiveDashboard.replay("): "live",
}


def picture_cell(notebook: str, picture: str) -> str:
    link = BINDER.format(name=notebook)
    return (
        f"{MARKER} The cell below shows live sliders when it runs; here is what its plots look like at first "
        f"(bundled BTC sample, default controls). [Open on Binder]({link}) to move the sliders.\n\n"
        f"![{picture}: the explorer's initial state](../docs/pictures/{picture}.png)"
    )


def draw(pictures: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    makers = _explorers()
    PICTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        for name in pictures:
            explorer = makers[name]()
            html = Path(tmp) / f"{name}.html"
            html.write_text(file_html(explorer.figure, INLINE, title=name))  # type: ignore[attr-defined]
            page.goto(html.as_uri())
            page.wait_for_selector("canvas", timeout=30_000)
            page.wait_for_timeout(1500)
            shot = Path(tmp) / f"{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            image = Image.open(shot).convert("RGB")
            blank = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
            box = ImageChops.difference(image, blank).getbbox()  # the plots, without the empty page around them
            image = image.crop(box) if box else image
            image.convert("P", palette=Image.ADAPTIVE, colors=128).save(PICTURES / f"{name}.png", optimize=True)
            print(f"wrote docs/pictures/{name}.png")
        browser.close()


def write_cells(pictures: list[str] | None = None) -> None:
    """Write or refresh the picture cells (only those of ``pictures`` when given: other notebooks stay untouched)."""
    for (notebook, first_line), picture in CELLS.items():
        if pictures and picture not in pictures:
            continue
        path = ROOT / "notebooks" / notebook
        nb = nbformat.read(path, as_version=4)
        index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and first_line in c.source)
        cell = nbformat.v4.new_markdown_cell(picture_cell(notebook, picture))
        before = nb.cells[index - 1] if index > 0 else None
        if before is not None and before.cell_type == "markdown" and before.source.startswith(MARKER):
            before.source = cell.source
        else:
            nb.cells.insert(index, cell)
        nbformat.write(nb, path)
        print(f"picture cell for {picture} in notebooks/{notebook}")


def main() -> None:
    only = [a for a in sys.argv[1:] if re.fullmatch(r"[a-z-]+", a)]
    draw(only or sorted(set(CELLS.values())))
    write_cells(only)


if __name__ == "__main__":
    main()
