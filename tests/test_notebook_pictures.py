"""Notebooks read without a kernel: every explorer cell has a picture of its initial state and a Binder link."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from make_notebook_pictures import CELLS, MARKER

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
EXPLORER = re.compile(r"^\w+ = (MapExplorer|HeatmapExplorer|CascadeExplorer|MomentumExplorer|Dashboard|LiveDashboard(?:\.replay)?)\(", re.MULTILINE)


def explorer_cells(path: Path) -> list[tuple[int, str]]:
    nb = nbformat.read(path, as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and EXPLORER.search(c.source)]


def test_the_script_knows_every_explorer_cell():
    found = {(p.name, EXPLORER.search(src).group(0)) for p in NOTEBOOKS for _, src in explorer_cells(p)}  # type: ignore[union-attr]
    known = {(nb, first) for nb, first in CELLS}
    assert found == known, "run scripts/make_notebook_pictures.py after adding an explorer to a notebook"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if explorer_cells(p)], ids=lambda p: p.name)
def test_each_explorer_cell_has_its_picture(path):
    nb = nbformat.read(path, as_version=4)
    for index, _source in explorer_cells(path):
        before = nb.cells[index - 1]
        assert before.cell_type == "markdown" and before.source.startswith(MARKER), (path.name, index)
        assert "Open on Binder" in before.source and "mybinder.org" in before.source
        match = re.search(r"!\[[^\]]+\]\(\.\./(docs/pictures/[\w-]+\.png)\)", before.source)
        assert match, before.source
        picture = ROOT / match.group(1)
        with Image.open(picture) as image:  # a real picture of plots, not a blank page
            assert image.width > 600 and image.height > 200, (picture, image.size)
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 8
