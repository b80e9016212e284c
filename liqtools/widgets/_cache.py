"""One heatmap per market frame and model options per process: tabs and market switches share them.

The key is a content hash of the frame (values and index) with the options, so two copies of the same
sample (``load_sample`` returns a fresh copy each call) hit the same entry and an edited frame never does.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import pandas as pd

from liqtools.analysis.heatmap import Heatmap, liquidation_heatmap

__all__ = ["cached_heatmap", "frame_key"]

_MAX = 24
_HEATMAPS: OrderedDict[tuple, Heatmap] = OrderedDict()


def frame_key(df: pd.DataFrame) -> str:
    """A content hash of ``df`` (index, column names and values).

    Examples
    --------
    >>> from liqtools import load_sample
    >>> frame_key(load_sample()) == frame_key(load_sample())
    True
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    h.update(repr(list(df.columns)).encode())
    return h.hexdigest()


def _freeze(value: Any) -> Any:
    if hasattr(value, "leverages"):  # a LeverageProfile: its tiers, weights and margins
        return ("profile", tuple(value.leverages), tuple(value.weights_array), tuple(value.mmrs))
    return value


def cached_heatmap(df: pd.DataFrame, **options: Any) -> Heatmap:
    """:func:`liqtools.analysis.heatmap.liquidation_heatmap` of ``df`` with ``options``, computed once per process
    for the same frame contents and options (the last few dozen are kept). Treat the result as read-only.

    Examples
    --------
    >>> from liqtools import load_sample
    >>> cached_heatmap(load_sample(), every=24) is cached_heatmap(load_sample(), every=24)
    True
    """
    key = (frame_key(df), tuple(sorted((k, _freeze(v)) for k, v in options.items())))
    if key in _HEATMAPS:
        _HEATMAPS.move_to_end(key)
        return _HEATMAPS[key]
    hm = liquidation_heatmap(df, **options)
    _HEATMAPS[key] = hm
    if len(_HEATMAPS) > _MAX:
        _HEATMAPS.popitem(last=False)
    return hm
