"""Root pytest configuration: applies to tests/, the doctests in liqtools/ and the notebooks (nbmake)."""

import os

# BokehJS inline: no CDN on CI machines or in offline classrooms (executed notebooks are never committed)
os.environ.setdefault("BOKEH_RESOURCES", "inline")
