"""Bokeh figure builders (imports bokeh; not imported by ``import liqtools``)."""

from liqtools.plotting.figures import clusters_table, heatmap_figure, map_figure
from liqtools.plotting.report import report_html, write_report

__all__ = ["clusters_table", "heatmap_figure", "map_figure", "report_html", "write_report"]
