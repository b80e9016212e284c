"""Interactive explorers for notebooks and Voila: ipywidgets controls driving bokeh plots (jupyter_bokeh).

Importing this module loads ipywidgets and bokeh; ``import liqtools`` does not.
"""

from liqtools.widgets.cascade_explorer import CascadeExplorer
from liqtools.widgets.dashboard import Dashboard
from liqtools.widgets.heatmap_explorer import HeatmapExplorer
from liqtools.widgets.live_dashboard import LiveDashboard
from liqtools.widgets.map_explorer import MapExplorer
from liqtools.widgets.momentum_explorer import MomentumExplorer

__all__ = ["CascadeExplorer", "Dashboard", "HeatmapExplorer", "LiveDashboard", "MapExplorer", "MomentumExplorer"]
