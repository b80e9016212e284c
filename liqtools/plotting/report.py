"""A standalone HTML report: heatmap with candles, map with cumulative curves, clusters table."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path

import pandas as pd
from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models import Div
from bokeh.resources import CDN, INLINE

from liqtools.analysis.moment import ClusterView
from liqtools.plotting.figures import clusters_table, heatmap_figure, map_figure
from liqtools.plotting.theme import CAVEAT

__all__ = ["report_html", "write_report"]


def report_html(view: ClusterView, df: pd.DataFrame, *, inline: bool = True, title: str = "liqtools report") -> str:
    """The report as one HTML string; ``inline=True`` embeds BokehJS so it opens offline (about 1 MB)."""
    hm = view.heatmap
    sentences = "".join(f"<li>{html.escape(s)}</li>" for s in view.sentences())
    header = Div(
        text=(
            f"<h2>{html.escape(title)}</h2>"
            f"<p><b>{html.escape(view.summary().splitlines()[0])}</b></p><ul>{sentences}</ul>"
            f"<p><i>{html.escape(CAVEAT)}</i> Leverage profile: {html.escape(repr(hm.profile))}; "
            f"split: {html.escape(str(hm.split))}; bins of ${hm.bin_size:,.6g}; data "
            f"{df.index[0]:%Y-%m-%d %H:%M} to {df.index[-1]:%Y-%m-%d %H:%M} UTC ({len(df):,} candles).</p>"
        ),
        width=900,
    )
    parts = [
        header,
        heatmap_figure(hm, df),
        map_figure(view.map, view.price, clusters=view.clusters),
        Div(text="<h3>Clusters</h3>", width=900),
        clusters_table(view.clusters),
    ]
    return file_html(column(*parts), resources=INLINE if inline else CDN, title=title)


def write_report(path: str | os.PathLike[str], view: ClusterView, df: pd.DataFrame, *, inline: bool = True) -> Path:
    """Write :func:`report_html` to ``path`` atomically (a temporary file renamed into place)."""
    target = Path(path)
    text = report_html(view, df, inline=inline)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
