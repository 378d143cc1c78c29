"""Population sources: who lives where, read from a raster, polygons, points or estimated from OSM buildings.

Every form is read into a :class:`PopulationSource` (people on geometries in the network CRS);
:func:`access15.demand.apply_population` then gives them to the demand points (``weight`` = residents, plus
one column per age group), so the coverage code reports shares of residents instead of shares of grid cells.

* **Raster** (GeoTIFF, any CRS, read with rasterio): only the window over the study area is read; nodata
  and negative cells count as no one (negatives are reported). A cell belongs to the study area when its
  centre does, so the population read equals the raster's sum over those cells. Each cell's footprint is
  transformed corner by corner to the network CRS with pyproj (no coordinate swapping), then spread like a
  polygon (below).
* **Polygons** with a population column (census units, compounds, H3 hexagons): the part of each polygon
  inside the study area keeps its share of the people (uniform density inside a polygon); that share is
  spread over the demand cells it overlaps in proportion to the overlap area (grid demand) or equally over
  the demand points inside it (node demand). A polygon that touches no demand point gives its people to the
  nearest demand point, so the population of every polygon is conserved.
* **Points** with a population column become the demand points themselves (snapped like any demand point).
* **Buildings** (no population data at all): a dasymetric *estimate* -- residential building footprint area
  times ``building:levels`` (``default_levels`` where missing), scaled to a given total; labelled
  "estimated" wherever it is shown.

Complexity: one STRtree bulk query of population geometries against demand cells/points plus vectorised
intersection areas, O((P + D) log D + pairs); the raster read is O(cells in the study-area window).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyproj
import shapely

from ..config import PopulationConfig
from ..coords import WGS84, declared_crs, geometry_to
from ..errors import AccessWarning, InputError
from .osm import residential_buildings
from .tables import is_table, read_layer, read_table


@dataclass
class PopulationSource:
    """People placed on geometries in the network CRS, before they are given to demand points.

    ``geometry``: polygons (cell footprints, census units) or points; ``values``: (n, k) persons, one
    column per name in ``columns`` (the first is the total); ``clip``: whether a polygon straddling the study
    area keeps only its inside share; ``label``: what a weight of 1 means (shown in every output);
    ``estimated``: True for the dasymetric building estimate.
    """

    geometry: np.ndarray
    values: np.ndarray
    columns: list[str]
    kind: str
    label: str
    clip: bool = True
    estimated: bool = False
    outside: float = 0.0


# ----------------------------------------------------------------------------------------------- readers


def _values(df: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    """The population columns as floats; missing or negative values are refused with their row."""
    out = np.empty((len(df), len(columns)))
    for k, col in enumerate(columns):
        if col not in df.columns:
            raise InputError(path, f"no population column '{col}' (columns: {', '.join(map(str, df.columns))})",
                             "set column / columns in [population]", field=col)
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            raise InputError(path, f"missing or non-numeric population '{df[col].iloc[bad[0]]}'",
                             "fill in a number of persons (0 where no one lives)", row=int(bad[0]) + 1, field=col)
        neg = np.flatnonzero(v < 0)
        if len(neg):
            raise InputError(path, f"negative population {v[neg[0]]:g}", "population counts must be >= 0",
                             row=int(neg[0]) + 1, field=col)
        out[:, k] = v
    return out


def _read_layer(pc: PopulationConfig, path: Path) -> tuple[np.ndarray, pd.DataFrame, object]:
    """Geometries, attribute table and CRS of a vector population file (GIS layer, H3 CSV or lon/lat CSV)."""
    if not path.is_file():
        raise InputError(path, "population file not found", "check [population] path in the config")
    if is_table(path):
        df = read_table(path)[0]
        if pc.h3_column:
            return _h3_polygons(df, pc.h3_column, path), df, WGS84
        for col in (pc.lon, pc.lat):
            if col not in df.columns:
                raise InputError(path, f"no coordinate column '{col}'", "set lon/lat (or h3_column) in [population]",
                                 field=col)
        x = pd.to_numeric(df[pc.lon], errors="coerce").to_numpy(float)
        y = pd.to_numeric(df[pc.lat], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~(np.isfinite(x) & np.isfinite(y)))
        if len(bad):
            raise InputError(path, "missing or non-numeric coordinate", "fill in lon/lat", row=int(bad[0]) + 1,
                             field=pc.lon)
        crs = declared_crs(pc.crs, WGS84, path, "CSV")
        return shapely.points(x, y), df, crs
    gdf = read_layer(path, pc.layer, "population layer",
                     "use GeoJSON, GeoPackage, Shapefile, a GeoTIFF (kind = \"raster\") or a CSV")
    crs = declared_crs(pc.crs, gdf.crs, path, "population layer")
    return np.asarray(gdf.geometry.values), pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), crs


def _h3_polygons(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """Hexagon polygons (lon/lat) from H3 cell ids."""
    import h3  # only for H3 population tables (a cold path)

    if column not in df.columns:
        raise InputError(path, f"no H3 id column '{column}'", "set h3_column in [population]", field=column)
    ids = df[column].astype(str).str.strip().to_numpy()
    ok = np.fromiter((h3.is_valid_cell(c) for c in ids), bool, count=len(ids))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(path, f"'{ids[i]}' is not an H3 cell id", "use H3 ids such as 89a901291abffff",
                         row=i + 1, field=column)
    # h3 has no array API for boundaries: one C call per cell (about 2 microseconds each)
    rings = [np.asarray(h3.cell_to_boundary(c))[:, ::-1] for c in ids]
    return shapely.polygons(rings)


def _clean_polygons(geom: np.ndarray, path: Path) -> np.ndarray:
    """Refuse missing geometry; repair invalid polygons and say which rows were repaired."""
    missing = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
    if len(missing):
        raise InputError(path, "empty geometry", "give every population unit a geometry or delete the row",
                         row=int(missing[0]) + 1, field="geometry")
    kinds = shapely.get_type_id(geom)
    if not np.isin(kinds, [3, 6]).all():
        i = int(np.flatnonzero(~np.isin(kinds, [3, 6]))[0])
        raise InputError(path, "population polygons must be polygons", "use kind = \"points\" for points",
                         row=i + 1, field="geometry")
    invalid = np.flatnonzero(~shapely.is_valid(geom))
    if len(invalid):
        rows = ", ".join(str(i + 1) for i in invalid[:5]) + (", ..." if len(invalid) > 5 else "")
        warnings.warn(f"{path.name}: repaired {len(invalid)} invalid population polygon(s) (rows {rows})",
                      AccessWarning, stacklevel=3)
        geom = geom.copy()
        parts, owner = shapely.get_parts(shapely.make_valid(geom[invalid]), return_index=True)
        areal = shapely.get_type_id(parts) == 3  # make_valid may add stray lines or points: keep the areas
        fixed = np.full(len(invalid), None, dtype=object)
        if areal.any():
            grouped = shapely.multipolygons(parts[areal], indices=owner[areal])  # one per index up to the max
            have = np.unique(owner[areal])
            fixed[have] = grouped[have]
        lost = pd.isna(fixed)
        if lost.any():
            i = int(invalid[lost][0])
            raise InputError(path, "polygon cannot be repaired (it has no area)", "fix or delete it",
                             row=i + 1, field="geometry")
        geom[invalid] = fixed
    return geom


def _apply(t, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raster (col, row) positions to the raster CRS through the affine transform ``t`` (vectorised)."""
    return t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f


def read_raster(pc: PopulationConfig, path: Path, crs: pyproj.CRS, area: shapely.Geometry) -> PopulationSource:
    """Raster cells whose centre lies in ``area`` (network CRS) as footprint polygons with their persons."""
    import rasterio  # only for raster population (a cold path: GDAL's raster stack loads in ~0.3 s)
    from rasterio.windows import Window, from_bounds

    if not path.is_file():
        raise InputError(path, "population raster not found", "check [population] path in the config")
    try:
        ds = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(path, f"cannot read as a raster ({str(exc).splitlines()[0]})",
                         "use a GeoTIFF with persons per cell in band 1") from None
    with ds:
        rcrs = declared_crs(pc.crs, ds.crs, path, "raster")
        if isinstance(rcrs, str):
            raise InputError(path, f"crs = '{rcrs}' is not supported for rasters", "reproject the raster to an EPSG CRS")
        to_r = pyproj.Transformer.from_crs(crs, rcrs, always_xy=True)
        ring = shapely.segmentize(shapely.envelope(area), max(shapely.length(area) / 400.0, 1.0))
        rx, ry = to_r.transform(*shapely.get_coordinates(ring).T)
        full = Window(0, 0, ds.width, ds.height)
        try:
            w = from_bounds(rx.min(), ry.min(), rx.max(), ry.max(), transform=ds.transform)
            c0, r0 = int(np.floor(w.col_off)), int(np.floor(w.row_off))
            c1, r1 = int(np.ceil(w.col_off + w.width)), int(np.ceil(w.row_off + w.height))
            win = Window(c0, r0, c1 - c0, r1 - r0).intersection(full)
        except rasterio.errors.WindowError:
            win = None
        if win is None or win.width <= 0 or win.height <= 0:
            raise InputError(path, "the population raster does not overlap the study area",
                             "check the raster covers the network extract (and its CRS)")
        band = ds.read(1, window=win, masked=True).astype(np.float64)
        wt = ds.window_transform(win)
    vals = np.ma.filled(band, 0.0)
    vals[~np.isfinite(vals)] = 0.0
    neg = vals < 0
    if neg.any():
        warnings.warn(f"{path.name}: {int(neg.sum())} raster cells have negative population "
                      f"(sum {vals[neg].sum():,.0f}) and are counted as no one", AccessWarning, stacklevel=3)
        vals[neg] = 0.0
    rows, cols = np.nonzero(vals > 0)
    v = vals[rows, cols]
    to_n = pyproj.Transformer.from_crs(rcrs, crs, always_xy=True)
    cx, cy = _apply(wt, cols + 0.5, rows + 0.5)
    nx, ny = to_n.transform(np.asarray(cx), np.asarray(cy))
    inside = shapely.contains_xy(area, nx, ny)
    if not inside.any():
        raise InputError(path, "no populated raster cell lies inside the study area",
                         "check the raster covers the network extract (and its CRS)")
    rows, cols, v = rows[inside], cols[inside], v[inside]
    corner_c = np.stack([cols, cols + 1, cols + 1, cols, cols], axis=1).astype(np.float64)
    corner_r = np.stack([rows, rows, rows + 1, rows + 1, rows], axis=1).astype(np.float64)
    px, py = _apply(wt, corner_c, corner_r)
    qx, qy = to_n.transform(np.asarray(px).ravel(), np.asarray(py).ravel())
    polys = shapely.polygons(np.stack([qx, qy], axis=1).reshape(len(v), 5, 2))
    label = f"share of residents (population raster {path.name}, {v.sum():,.0f} persons in the study area)"
    return PopulationSource(polys, v[:, None], [pc.column], "raster", label, clip=False)


def read_vector(pc: PopulationConfig, path: Path, crs: pyproj.CRS) -> PopulationSource:
    """Population polygons or points, in the network CRS, with their total and age-group columns."""
    geom, df, src_crs = _read_layer(pc, path)
    columns = [pc.column, *pc.columns]
    vals = _values(df, columns, path)
    if pc.kind == "polygons":
        geom = _clean_polygons(np.asarray(geom, dtype=object), path)
    else:
        missing = np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))
        if len(missing):
            raise InputError(path, "empty geometry", "give every population point a location or delete the row",
                             row=int(missing[0]) + 1, field="geometry")
        polys = ~np.isin(shapely.get_type_id(geom), [0])
        if polys.any():
            geom = np.asarray(geom, dtype=object).copy()
            geom[polys] = shapely.point_on_surface(geom[polys])
    geom = geometry_to(np.asarray(geom, dtype=object), src_crs, crs)
    name = pc.name or path.name
    label = f"share of residents (population: {name}, {vals[:, 0].sum():,.0f} persons)"
    return PopulationSource(geom, vals, columns, pc.kind, label)


def read_buildings(pc: PopulationConfig, osm_path: Path, crs: pyproj.CRS) -> PopulationSource:
    """Dasymetric estimate: residential buildings' floor area (footprint x levels), scaled to ``pc.total``."""
    geom, floor = residential_buildings(osm_path, crs, pc.default_levels, pc.building_values)
    vals = (floor / floor.sum() * float(pc.total))[:, None]
    label = (f"ESTIMATED population: share of estimated residents (dasymetric from {len(geom):,} OSM residential "
             f"buildings: footprint x levels, {pc.default_levels:g} levels where untagged; scaled to "
             f"{pc.total:,.0f} persons)")
    return PopulationSource(geom, vals, [pc.column], "buildings", label, estimated=True)


def refine_by_buildings(pop: PopulationSource, geom: np.ndarray, floor: np.ndarray) -> PopulationSource:
    """Spread each population polygon's people over the residential buildings inside it, in proportion to
    floor area (each building becomes a point source); polygons without residential floor area keep
    the area rule. The population of every polygon is conserved."""
    pts = shapely.point_on_surface(geom)
    poly = np.flatnonzero(np.isin(shapely.get_type_id(pop.geometry), [3, 6]))
    pi, bi = shapely.STRtree(pts).query(pop.geometry[poly], predicate="contains")
    tot = np.bincount(pi, weights=floor[bi], minlength=len(poly))
    ok = tot[pi] > 0
    pi, bi = pi[ok], bi[ok]
    share = floor[bi] / tot[pi]
    keep = np.ones(len(pop.geometry), dtype=bool)
    keep[poly[tot > 0]] = False
    label = pop.label.rstrip(")") + f"; spread by the floor area of {len(np.unique(bi)):,} residential buildings)"
    return PopulationSource(np.concatenate([pts[bi], pop.geometry[keep]]),
                            np.concatenate([pop.values[poly[pi]] * share[:, None], pop.values[keep]]),
                            pop.columns, pop.kind, label, clip=pop.clip, estimated=pop.estimated)


def read_population(pc: PopulationConfig, resolve: Callable[[str], Path], crs: pyproj.CRS,
                    area: shapely.Geometry, network_path: Path | None = None) -> PopulationSource:
    """Read the configured population into the network CRS (``area``: the study area, network CRS)."""
    if pc.kind == "raster":
        return read_raster(pc, resolve(pc.path), crs, area)
    if pc.kind == "buildings":
        path = network_path if (not pc.path or pc.path == "osm") else resolve(pc.path)
        if path is None:
            raise InputError("[population]", "kind = \"buildings\" needs an OSM file", "set path to an .osm.pbf")
        return read_buildings(pc, path, crs)
    src = read_vector(pc, resolve(pc.path), crs)
    if pc.dasymetric == "buildings":
        if network_path is None:
            raise InputError("[population]", "dasymetric = \"buildings\" needs an OSM network file",
                             "point [network] path at an .osm.pbf, or drop dasymetric")
        src = refine_by_buildings(src, *residential_buildings(network_path, crs, pc.default_levels, pc.building_values))
    return src


# ------------------------------------------------------------------------------------------ distribution


