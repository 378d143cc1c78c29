"""Administrative units: districts, streets (街道) and communities (社区) with optional urban/rural classes.

Units come from a polygon file (GeoJSON/GeoPackage/Shapefile, any CRS including GCJ-02/BD-09, converted to
WGS84) or from the ``boundary=administrative`` relations of the network's OSM extract. Every unit has a
``unit`` name, a ``level`` (e.g. "district", "street", or "admin_level 8") and an optional ``class``
("urban", "rural", "remote", ...). Each demand point is assigned to at most one unit per level; points in
two units of a level (overlapping boundaries: residents counted twice) or in none (gaps: residents not
counted) are reported per level.

Complexity: one STRtree bulk ``within`` query per analysis, O(n log U) for n points and U units.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .config import BoundaryConfig
from .errors import AccessWarning, InputError

WGS84 = pyproj.CRS.from_epsg(4326)


def read_osm_admin(path: Path, levels: list[int] | None = None) -> gpd.GeoDataFrame:
    """``boundary=administrative`` areas of an OSM file (EPSG:4326): ``unit`` (name), ``level``
    ("admin_level N"), ``admin_level`` (int), ``osm_id``. Relations whose ring is cut by the extract's edge
    cannot be assembled and are left out (with a warning when none is left)."""
    import osmium

    wkb = osmium.geom.WKBFactory()
    rows: list[tuple] = []
    geoms: list[bytes] = []
    try:
        fp = (osmium.FileProcessor(str(path)).with_locations().with_areas()
              .with_filter(osmium.filter.TagFilter(("boundary", "administrative"))))
        for obj in fp:
            if not obj.is_area():
                continue
            lvl = obj.tags.get("admin_level")
            if lvl is None or not lvl.isdigit() or (levels and int(lvl) not in levels):
                continue
            try:
                geoms.append(wkb.create_multipolygon(obj))
            except RuntimeError:
                continue
            name = obj.tags.get("name") or obj.tags.get("name:en") or f"relation {obj.orig_id()}"
            rows.append((name, f"admin_level {lvl}", int(lvl), obj.orig_id()))
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(path, f"cannot read as an OSM file ({exc})", "check the extract") from None
    if not rows:
        raise InputError(path, "no complete boundary=administrative areas"
                         + (f" at admin_level {', '.join(map(str, levels))}" if levels else ""),
                         "choose other admin_levels or give a boundary file")
    geom = shapely.from_wkb(np.asarray(geoms, dtype=object))
    gdf = gpd.GeoDataFrame(rows, columns=["unit", "level", "admin_level", "osm_id"], geometry=geom, crs=WGS84)
    return gdf.sort_values(["admin_level", "unit"], kind="stable").reset_index(drop=True)


def load_units(bc: BoundaryConfig, resolve: Callable[[str], Path], network_path: Path | None) -> gpd.GeoDataFrame:
    """The configured units in EPSG:4326 with ``unit``, ``level`` and ``class`` (None where not given)."""
    if bc.path.lower() == "osm":
        if network_path is None:
            raise InputError("[boundaries]", "path = \"osm\" needs an OSM network file",
                             "point [network] path at an .osm.pbf, or give a boundary file")
        gdf = read_osm_admin(network_path, bc.admin_levels)
        gdf["class"] = None
        return gdf
    from .inputs import BOUNDARY_FIX, read_layer, require_geometry
    from .population import declared_crs, geometry_to

    path = resolve(bc.path)
    if not path.is_file():
        raise InputError(path, "boundary file not found", "check [boundaries] path in the config")
    raw = require_geometry(read_layer(path, bc.layer, "boundaries", BOUNDARY_FIX), path, "polygons")
    for col in (bc.name_column, bc.level_column, bc.class_column):
        if col and col not in raw.columns:
            raise InputError(path, f"no column '{col}' (columns: {', '.join(map(str, raw.columns))})",
                             "set name_column / level_column / class_column in [boundaries]", field=col)
    geom = np.asarray(raw.geometry.values, dtype=object)
    empty = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
    if len(empty):
        raise InputError(path, "empty geometry", "give every unit a polygon or delete it", row=int(empty[0]) + 1,
                         field="geometry")
    if not np.isin(shapely.get_type_id(geom), [3, 6]).all():
        raise InputError(path, "boundaries must be polygons", "export the administrative areas as polygons")
    crs = declared_crs(bc.crs, raw.crs, path, "boundary file", "[boundaries]")
    if not isinstance(crs, str) and crs.is_geographic:
        x0, y0, x1, y1 = shapely.total_bounds(geom)
        if min(x0, y0) < -180 or x1 > 180 or y1 > 90 or y0 < -90:
            raise InputError(path, f"coordinates ({x0:.0f}, {y0:.0f}) are not longitude/latitude but the CRS is "
                             f"{crs.to_string()}", "declare the file's real CRS with crs = \"EPSG:...\" in [boundaries]")
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


@dataclass
class UnitAssignment:
    """Which unit each demand point belongs to, per level.

    ``unit``: DataFrame (n points x levels) of unit names (None outside every unit of the level);
    ``cls``: each point's unit class (None when its units carry none); ``check``: per level, the residents
    in overlapping units (counted twice) and in gaps (counted in no unit).
    """

    unit: pd.DataFrame
    cls: np.ndarray
    check: pd.DataFrame


def assign_units(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame, weight: np.ndarray,
                 warn: bool = True, what: str = "residents") -> UnitAssignment:
    """Assign demand points (same CRS as ``units``) to units per level and check overlaps and gaps.

    ``what`` names the weights in warnings ("residents", or "grid cells" without population).

    A point in several units of one level goes to the first in file order, and its residents are reported
    as counted twice; a point in no unit of a level is a gap at that level.
    """
    n = len(points)
    w = np.asarray(weight, dtype=np.float64)
    pi, ui = shapely.STRtree(units.geometry.values).query(points.geometry.values, predicate="within")
    levels = list(dict.fromkeys(units["level"].tolist()))
    lvl_of = units["level"].to_numpy()
    names = units["unit"].to_numpy()
    cls_of = units["class"].to_numpy(dtype=object)
    out = pd.DataFrame(index=points.index)
    cls = np.full(n, None, dtype=object)
    rows = []
    for lvl in levels:  # a handful of levels, each vectorised over points
        m = lvl_of[ui] == lvl
        p, u = pi[m], ui[m]
        order = np.lexsort((u, p))
        p, u = p[order], u[order]
        count = np.bincount(p, minlength=n)
        first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, bool)
        col = np.full(n, None, dtype=object)
        col[p[first]] = names[u[first]]
        out[lvl] = col
        has = pd.notna(cls_of[u[first]])
        cls[p[first][has]] = cls_of[u[first][has]]
        lw = units.loc[units["level"] == lvl]
        rows.append({"level": lvl, "units": int(len(lw)), "residents": float(w[count > 0].sum()),
                     "residents_in_overlaps": float(w[count > 1].sum()),
                     "overlap_points": int((count > 1).sum()),
                     "residents_in_gaps": float(w[count == 0].sum()),
                     "gap_points": int((count == 0).sum())})
    check = pd.DataFrame(rows)
    for r in (check.itertuples() if warn else ()):
        if r.overlap_points:
            warnings.warn(f"boundaries at level '{r.level}' overlap: {r.residents_in_overlaps:,.0f} {what} "
                          f"({r.overlap_points} points) lie in two or more units and would be counted twice; each "
                          "is counted in the first unit only", AccessWarning, stacklevel=2)
        if r.gap_points:
            warnings.warn(f"boundaries at level '{r.level}' leave gaps: {r.residents_in_gaps:,.0f} {what} "
                          f"({r.gap_points} points) lie in no unit of this level", AccessWarning, stacklevel=2)
    return UnitAssignment(out, cls, check)


def class_thresholds(categories: dict, cls: np.ndarray) -> dict[str, np.ndarray]:
    """Per category with per-class circles, each point's circle in minutes (its class's, else the default)."""
    s = pd.Series(cls, dtype=object)
    present = set(s.dropna())
    out = {}
    for name, cat in categories.items():
        unknown = sorted((set(cat.minutes_by_class) | set(cat.profile_by_class)) - present)
        if unknown:
            warnings.warn(f"[categories.{name}] names unit classes {', '.join(unknown)} that no demand point has "
                          f"(classes present: {', '.join(sorted(present)) or 'none; set class_column in [boundaries]'})",
                          AccessWarning, stacklevel=2)
        if cat.minutes_by_class:
            out[name] = s.map(cat.minutes_by_class).astype(float).fillna(cat.minutes).to_numpy()
    return out


def level_column(level: str) -> str:
    """The demand column holding each point's unit at ``level`` (e.g. ``unit_street``)."""
    import re

    return "unit_" + re.sub(r"\W+", "_", str(level)).strip("_")


def facility_counts(fac_units: pd.DataFrame, categories: pd.Series, level: str) -> dict[str, dict[str, int]]:
    """{unit: {category: number of facilities}} at ``level`` (``fac_units``: facility x level unit names)."""
    df = pd.DataFrame({"unit": fac_units[level].to_numpy(), "category": categories.to_numpy()}).dropna()
    sizes = df.groupby(["unit", "category"]).size()
    out: dict[str, dict[str, int]] = {}
    for (u, c), k in sizes.items():  # one entry per (unit, category) pair, not per facility
        out.setdefault(u, {})[c] = int(k)
    return out


def unit_tables(times: pd.DataFrame, weight: np.ndarray, assign: UnitAssignment, categories: dict,
                category_weights: dict[str, np.ndarray], thresholds: dict[str, np.ndarray],
                fac_units: pd.DataFrame | None = None, fac_category: pd.Series | None = None) -> pd.DataFrame:
    """The per-unit coverage table of every level (column ``level``), each level sorted worst first;
    ``facilities`` counts the facilities inside each unit (when ``fac_units`` is given)."""
    from .coverage import unit_coverage_table

    frames = []
    for lvl in assign.unit.columns:
        counts = facility_counts(fac_units, fac_category, lvl) if fac_units is not None else None
        t = unit_coverage_table(times, weight, assign.unit[lvl].to_numpy(), categories, counts,
                                category_weights=category_weights, thresholds=thresholds)
        if len(t):
            t.insert(0, "level", lvl)
            frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
