"""The maps of an analysis: the self-contained HTML gap map and the print maps (PNG / PDF).

Both render a :class:`~access15.maps.mapdata.MapData`, built from a live analysis or read back from its
GeoPackage, so a map from a run and a map from its stored outputs are drawn by the same code.
"""

from .html import build_map, render_map, write_map
from .mapdata import MapData

__all__ = ["MapData", "build_map", "render_map", "write_map"]
