"""Administrative units from a polygon file or from the network's OSM extract.

Units come from a polygon file (GeoJSON/GeoPackage/Shapefile, any CRS including GCJ-02/BD-09, converted to
WGS84) or from the ``boundary=administrative`` relations of the network's OSM extract. Every unit has a
``unit`` name, a ``level`` (e.g. "district", "street", or "admin_level 8") and an optional ``class``
("urban", "rural", "remote", ...) used by per-class circles. Assignment of demand points to units is
:mod:`access15.units`' job.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import shapely

from ..config import BoundaryConfig
from ..coords import WGS84, declared_crs, geometry_to
from ..errors import AccessWarning, InputError
from .osm import read_osm_admin
from .tables import BOUNDARY_FIX, read_layer, require_geometry


@dataclass(frozen=True)
class UnitOptions:
    """How messages about a units file name the file and the options that set it, so that the user is told
    the option they can actually change (``[boundaries]`` keys of a config, or ``batch``'s command-line
    options).

    ``what``: the file in words; ``path``: where its path is set; ``columns``: advice for a missing column
    (``{columns}`` lists the file's columns); ``crs``: how to declare the file's CRS.
    """

    what: str
    path: str
    columns: str
    crs: str


#: Messages for ``[boundaries]`` of a config.
BOUNDARIES = UnitOptions("boundary file", "check [boundaries] path in the config",
                         "set name_column / level_column / class_column in [boundaries] to one of the columns",
                         "declare the file's real CRS with crs = \"EPSG:...\" in [boundaries]")

#: Messages for ``access15 batch --regions`` (see :func:`access15.batch.load_regions`).
REGIONS = UnitOptions("regions file", "check the path given to --regions",
                      "name the column that names each region with --by, e.g. --by {first}",
                      "declare the file's real CRS with --regions-crs, e.g. --regions-crs EPSG:3857")


def load_units(bc: BoundaryConfig, resolve: Callable[[str], Path], network_path: Path | None,
               options: UnitOptions = BOUNDARIES) -> gpd.GeoDataFrame:
    """The configured units in EPSG:4326 with ``unit``, ``level`` and ``class`` (None where not given).

    ``options`` words the messages for where the file was named (:data:`BOUNDARIES` or :data:`REGIONS`).
    """
    if bc.path.lower() == "osm":
        if network_path is None:
            raise InputError("[boundaries]", "path = \"osm\" needs an OSM network file",
                             "point [network] path at an .osm.pbf, or give a boundary file")
        gdf = read_osm_admin(network_path, bc.admin_levels)
        gdf["class"] = None
        return gdf
    path = resolve(bc.path)
    if not path.is_file():
        raise InputError(path, f"{options.what} not found" if not path.is_dir() else
                         f"this is a folder, not a {options.what}", options.path)
    raw = require_geometry(read_layer(path, bc.layer, "boundaries", BOUNDARY_FIX), path, "polygons")
    for col in (bc.name_column, bc.level_column, bc.class_column):
        if col and col not in raw.columns:
            cols = [str(c) for c in raw.columns if c != raw.geometry.name]
            raise InputError(path, f"no column '{col}' (columns: {', '.join(cols) or 'none'})",
                             options.columns.format(first=cols[0] if cols else "NAME"), field=col)
    geom = np.asarray(raw.geometry.values, dtype=object)
    empty = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
    if len(empty):
        raise InputError(path, "empty geometry", "give every unit a polygon or delete it", row=int(empty[0]) + 1,
                         field="geometry")
    if not np.isin(shapely.get_type_id(geom), [3, 6]).all():
        raise InputError(path, "boundaries must be polygons", "export the administrative areas as polygons")
    if not bc.crs and raw.crs is None:
        raise InputError(path, f"the {options.what} has no coordinate reference system", options.crs)
    crs = declared_crs(bc.crs, raw.crs, path, options.what, "[boundaries]")
    if "gcj02" in path.name.lower() and crs != "gcj02":
        warnings.warn(f"{path.name}: the file name says GCJ-02 but [boundaries] does not declare it; add "
                      "crs = \"gcj02\" to [boundaries] if the coordinates come from AMap", AccessWarning, stacklevel=2)
    unnamed = np.flatnonzero(raw[bc.name_column].astype("string").str.strip().fillna("").eq("").to_numpy())
    if len(unnamed):
        warnings.warn(f"{path.name}: {len(unnamed)} units have no name in '{bc.name_column}' (rows "
                      f"{', '.join(str(i + 1) for i in unnamed[:5])}{', ...' if len(unnamed) > 5 else ''}); fill them "
                      "in, or their rows of the unit tables read '<NA>'", AccessWarning, stacklevel=2)
    if not isinstance(crs, str) and crs.is_geographic:
        x0, y0, x1, y1 = shapely.total_bounds(geom)
        if min(x0, y0) < -180 or x1 > 180 or y1 > 90 or y0 < -90:
            raise InputError(path, f"coordinates ({x0:.0f}, {y0:.0f}) are not longitude/latitude but the CRS is "
                             f"{crs.to_string()}", options.crs)
    invalid = np.flatnonzero(~shapely.is_valid(geom))
    if len(invalid):
        names = ", ".join(raw[bc.name_column].astype(str).iloc[invalid[:5]])
        warnings.warn(f"{path.name}: repaired {len(invalid)} invalid boundary polygon(s) ({names})", AccessWarning,
                      stacklevel=2)
        geom = shapely.make_valid(geom)
    geom = geometry_to(geom, crs, WGS84)
    level = (raw[bc.level_column].astype(str).to_numpy() if bc.level_column else bc.level or "unit")
    cls = (raw[bc.class_column].astype("string").str.strip().to_numpy(dtype=object, na_value=None)
           if bc.class_column else None)
    return gpd.GeoDataFrame({"unit": raw[bc.name_column].astype(str).to_numpy(), "level": level, "class": cls},
                            geometry=geom, crs=WGS84)


