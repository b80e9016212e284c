"""A standalone HTML report: heatmap with candles, map with cumulative curves, clusters table, cascade, momentum."""

from __future__ import annotations

import html
import os
from pathlib import Path

import pandas as pd
from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models import Div
from bokeh.resources import CDN, INLINE

from liqtools._io import atomic_write
from liqtools.analysis.cascade import Impact, asymmetry, simulate_cascade
from liqtools.analysis.moment import ClusterView
from liqtools.data.depth import Depth, market_depth
from liqtools.plotting.figures import cascade_figure, clusters_table, heatmap_figure, map_figure, momentum_figure
from liqtools.plotting.theme import CAVEAT, profile_text, usd

__all__ = ["report_html", "write_report"]


def report_html(
    view: ClusterView,
    df: pd.DataFrame,
    *,
    depth_usd: float | Depth | None = None,
    market: str = "BTC",
    shock: float = 0.01,
    impact: Impact = "sqrt",
    inline: bool = True,
    title: str = "liqtools report",
) -> str:
    """The report as one HTML string; ``inline=True`` embeds BokehJS so it opens offline (about 1 MB).

    Sections: header with sentences and caveats, heatmap with candles, map with clusters, clusters table,
    the cascade after a +/-``shock`` with ``depth_usd`` (default: the documented depth of ``market``,
    :func:`liqtools.data.depth.market_depth`, asks for the squeeze and bids for the flush) and ``impact``
    (default the square-root law), and the event study of entries into the clusters (momentum)."""
    hm = view.heatmap
    sentences = "".join(f"<li>{html.escape(s)}</li>" for s in view.sentences())
    header = Div(
        text=(
            f"<h2>{html.escape(title)}</h2>"
            f"<p><b>{html.escape(view.summary().splitlines()[0])}</b></p><ul>{sentences}</ul>"
            f"<p><i>{html.escape(CAVEAT)}</i> Model: {html.escape(profile_text(hm.profile))}; "
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
        *_cascade_section(view, market_depth(market) if depth_usd is None else depth_usd, shock, impact),
        *_momentum_section(view, df),
    ]
    return file_html(column(*parts), resources=INLINE if inline else CDN, title=title)


def _cascade_section(view: ClusterView, depth: float | Depth, shock: float, impact: Impact) -> list[object]:
    size = abs(shock) or 0.01
    up = simulate_cascade(view.levels, view.price, size, depth_usd=depth, impact=impact)
    down = simulate_cascade(view.levels, view.price, -size, depth_usd=depth, impact=impact)
    asym = asymmetry(view.levels, view.price, shocks=sorted({size / 2, size, 2 * size}), depth_usd=depth, impact=impact)
    rows = "".join(
        f"<tr><td>{r.shock:.2%}</td><td>{r.up_move_pct:+.2f}%</td><td>{usd(r.up_forced_usd)}</td><td>{r.up_steps}</td>"
        f"<td>{r.down_move_pct:+.2f}%</td><td>{usd(r.down_forced_usd)}</td><td>{r.down_steps}</td></tr>"
        for r in asym.itertuples()
    )
    text = (
        "<h3>Cascade</h3>"
        + "".join(f"<p>{html.escape(line)}</p>" for result in (up, down) for line in result.summary().splitlines())
        + "<table border='1' cellpadding='4' style='border-collapse:collapse'><tr><th>shock</th><th>up move</th>"
        "<th>up forced</th><th>up steps</th><th>down move</th><th>down forced</th><th>down steps</th></tr>"
        + rows
        + "</table>"
        + (f"<p><i>Depth: {html.escape(depth.describe(full=True))}</i></p>" if isinstance(depth, Depth) else "")
    )
    return [Div(text=text, width=900), cascade_figure(up, down)]


def _momentum_section(view: ClusterView, df: pd.DataFrame) -> list[object]:
    from liqtools.analysis.momentum import event_study

    if view.clusters.empty:
        return [Div(text="<h3>Momentum near clusters</h3><p>No clusters at this moment.</p>", width=900)]
    horizon = 12
    study = event_study(df, view.clusters, horizons=(1, 4, 12, 24), map_df=view.map)
    r = study.effect("return", horizon)
    text = (
        "<h3>Momentum near clusters</h3>"
        f"<p>Entries of the price into today's clusters ({len(study.events)} events) against entries into bands of "
        f"equal width where the map is thin ({len(study.controls)} control events). Return after {horizon} candles, "
        f"events minus controls: {r['effect']:+.4f} (95% CI {r['ci_low']:+.4f} to {r['ci_high']:+.4f}, "
        f"p = {r['pvalue']:.3f}). OLS with HAC errors by episode of overlapping windows.</p>"
        "<p><i>Hindsight: today's clusters did not all exist at the times of the earlier entries; read this as "
        "description, not as a tested trading rule.</i></p>"
    )
    return [Div(text=text, width=900), momentum_figure(study, horizon)]


def write_report(
    path: str | os.PathLike[str], view: ClusterView, df: pd.DataFrame, *, inline: bool = True, **options: object
) -> Path:
    """Write :func:`report_html` to ``path`` atomically (a temporary file renamed into place); ``options`` go
    to :func:`report_html`."""
    text = report_html(view, df, inline=inline, **options)  # type: ignore[arg-type]
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
