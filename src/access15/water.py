"""Water areas from a local OSM extract, so a proposed site in a lake or a river is refused.

Areas (closed ways and multipolygon relations, assembled by pyosmium) tagged ``natural=water``,
``water=*``, ``waterway=riverbank|dock|canal`` (as areas) or ``landuse=reservoir|basin`` count as water.
An extract cut at its edge may hold incomplete multipolygons: those are skipped (pyosmium cannot
assemble them), so "not on water" means "not on a water area complete in the extract".

Complexity: one streaming pass over the file, pre-filtered in C++ by key.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import shapely

from .osm import _check_file, _osm_failure

WATERWAY_AREAS = frozenset({"riverbank", "dock", "canal"})
WATER_LANDUSE = frozenset({"reservoir", "basin"})


def is_water(tags) -> bool:
    """Whether an OSM area with these tags is water."""
    return (tags.get("natural") == "water" or tags.get("water") is not None
            or tags.get("waterway") in WATERWAY_AREAS or tags.get("landuse") in WATER_LANDUSE)


def read_water_areas(path: str | Path) -> gpd.GeoDataFrame:
    """Water polygons of an OSM file (EPSG:4326), with ``name`` and ``osm_id`` columns."""
    path = Path(path)
    _check_file(path)
    wkb = osmium.geom.WKBFactory()
    geoms: list[bytes] = []
    names: list[str] = []
    ids: list[int] = []
    try:
        fp = (osmium.FileProcessor(str(path)).with_locations().with_areas()
              .with_filter(osmium.filter.KeyFilter("natural", "water", "waterway", "landuse")))
        for obj in fp:
            if not obj.is_area() or not is_water(obj.tags):
                continue
            try:
                geoms.append(wkb.create_multipolygon(obj))
            except RuntimeError:
                continue  # incomplete at the extract's edge
            names.append(obj.tags.get("name") or obj.tags.get("name:en") or "")
            ids.append(obj.orig_id())
    except (RuntimeError, ValueError, OSError) as exc:
        raise _osm_failure(path, exc) from None
    geom = shapely.from_wkb(np.asarray(geoms, dtype=object)) if geoms else np.empty(0, dtype=object)
    return gpd.GeoDataFrame({"name": names, "osm_id": np.asarray(ids, dtype=np.int64)}, geometry=geom,
                            crs="EPSG:4326")
