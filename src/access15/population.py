"""Population: who lives where, read from a raster, polygons, points or estimated from OSM buildings.

Every form ends as weights on the demand points (``weight`` = residents, plus one column per age group),
so the coverage code reports shares of residents instead of shares of grid cells.

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

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .config import PopulationConfig
from .demand import Demand
from .errors import AccessWarning, InputError

KINDS = ("raster", "polygons", "points", "buildings")
RESERVED = {"demand_id", "ix", "iy", "node", "weight", "geometry", "unit", "on_network"}

#: OSM ``building`` values counted as homes by the dasymetric estimate.
RESIDENTIAL_BUILDINGS = frozenset({
    "residential", "apartments", "house", "detached", "semidetached_house", "terrace", "dormitory",
    "bungalow", "farm", "cabin", "static_caravan", "houseboat",
})


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


def check_population_config(pc: PopulationConfig, source: Path | str) -> None:
    """Refuse an unusable [population] table with a one-line error."""
    if pc.kind not in KINDS:
        raise InputError(source, f"[population] kind = '{pc.kind}'", "use one of " + ", ".join(KINDS))
    if pc.kind != "buildings" and not pc.path:
        raise InputError(source, "[population] has no path", "set path to a GeoTIFF, polygon, point or CSV file")
    if pc.kind == "buildings" and (pc.total is None or pc.total <= 0):
        raise InputError(source, "[population] kind = \"buildings\" needs total",
                         "give the known total population of the study area, e.g. total = 120000")
    if pc.dasymetric not in (None, "buildings") or (pc.dasymetric and pc.kind != "polygons"):
        raise InputError(source, f"[population] dasymetric = '{pc.dasymetric}' with kind = '{pc.kind}'",
                         "use dasymetric = \"buildings\" with kind = \"polygons\" (or leave it out)")
    if pc.default_levels <= 0:
        raise InputError(source, "[population] default_levels must be positive", "e.g. default_levels = 2")
    if pc.columns and pc.kind in ("raster", "buildings"):
        raise InputError(source, f"[population] columns (age groups) cannot come from kind = \"{pc.kind}\"",
                         "give age groups as columns of a polygon or point file, or drop columns")
    bad = [c for c in pc.columns if c in RESERVED or c == pc.column]
    if bad:
        raise InputError(source, f"[population] columns: '{bad[0]}' is reserved or repeats column",
                         "rename the age-group column")


# ----------------------------------------------------------------------------------------------- readers

def declared_crs(crs_text: str | None, fallback, path: Path, what: str, section: str = "[population]"):
    """The declared CRS (``crs_text``, see :func:`access15.lonlat.parse_crs`) or the file's (``fallback``);
    ``"gcj02"``/``"bd09"`` are returned as text for :func:`geometry_to`. A file without a CRS and without a
    declaration is an InputError."""
    from .lonlat import parse_crs

    if crs_text:
        declared = parse_crs(crs_text, path)
        return declared.system or declared.crs
    if fallback is None:
        raise InputError(path, f"{what} has no coordinate reference system",
                         f"declare it with crs = \"EPSG:4326\" (or the right code) in {section}")
    return fallback


def geometry_to(geom: np.ndarray, crs, dst: pyproj.CRS) -> np.ndarray:
    """Geometries from ``crs`` (a pyproj CRS, or "gcj02"/"bd09" degrees) to ``dst``, vertex by vertex."""
    from .lonlat import geometries_to_wgs84, parse_crs

    if isinstance(crs, str):
        geom = geometries_to_wgs84(geom, parse_crs(crs))
        crs = pyproj.CRS.from_epsg(4326)
    tr = pyproj.Transformer.from_crs(crs, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


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
    if path.suffix.lower() in (".csv", ".txt"):
        from .inputs import _read_table

        df = _read_table(path)
        if pc.h3_column:
            return _h3_polygons(df, pc.h3_column, path), df, pyproj.CRS.from_epsg(4326)
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
        crs = declared_crs(pc.crs, pyproj.CRS.from_epsg(4326), path, "CSV")
        return shapely.points(x, y), df, crs
    from .inputs import read_layer

    gdf = read_layer(path, pc.layer, "population layer",
                     "use GeoJSON, GeoPackage, Shapefile, a GeoTIFF (kind = \"raster\") or a CSV")
    crs = declared_crs(pc.crs, gdf.crs, path, "population layer")
    return np.asarray(gdf.geometry.values), pd.DataFrame(gdf.drop(columns=gdf.geometry.name)), crs


def _h3_polygons(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """Hexagon polygons (lon/lat) from H3 cell ids."""
    import h3

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
    import rasterio
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


def residential_buildings(osm_path: Path, crs: pyproj.CRS, default_levels: float,
                          values: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Residential building footprints (network CRS) and their floor area in m² (footprint x
    ``building:levels``, ``default_levels`` where the tag is missing or not a positive number)."""
    import osmium

    if not osm_path.is_file():
        raise InputError(osm_path, "OSM file for the building estimate not found", "check [population] path")
    homes = frozenset(values) if values else RESIDENTIAL_BUILDINGS
    wkb = osmium.geom.WKBFactory()
    geoms: list[bytes] = []
    levels: list[str | None] = []
    try:
        fp = osmium.FileProcessor(str(osm_path)).with_locations().with_areas().with_filter(
            osmium.filter.KeyFilter("building"))
        for obj in fp:
            if not obj.is_area() or obj.tags.get("building") not in homes:
                continue
            try:
                geoms.append(wkb.create_multipolygon(obj))
            except RuntimeError:
                continue  # broken geometry at the extract's edge
            levels.append(obj.tags.get("building:levels"))
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(osm_path, f"cannot read as an OSM file ({exc})", "check the extract") from None
    if not geoms:
        raise InputError(osm_path, f"no residential buildings (building={'/'.join(sorted(homes)[:4])}/...) in the "
                         "extract", "give real population data in [population] or set building_values")
    geom = geometry_to(shapely.from_wkb(np.asarray(geoms, dtype=object)), pyproj.CRS.from_epsg(4326), crs)
    lv = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce").to_numpy(float)
    lv = np.where(np.isfinite(lv) & (lv > 0), lv, default_levels)
    return geom, shapely.area(geom) * lv


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

def _nearest(targets: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``targets`` for each of ``geoms`` (STRtree bulk query)."""
    tree = shapely.STRtree(targets)
    (gi, ti) = tree.query_nearest(geoms, all_matches=False)
    out = np.empty(len(geoms), dtype=np.int64)
    out[gi] = ti
    return out


def distribute(pop: PopulationSource, demand: Demand, area: shapely.Geometry | None) -> tuple[np.ndarray, float]:
    """Persons per demand point (n_demand, k) and the persons left outside the study area.

    Polygons: the inside share (if ``pop.clip``) spread by overlap area over demand cells, or equally over the
    demand points inside; untouched polygons go to the nearest demand point. Points: to the demand cell that
    contains them (grid), else to the nearest demand point. The total of every column is conserved apart
    from the part outside ``area``.
    """
    pts = demand.points
    n = len(pts)
    k = pop.values.shape[1]
    out = np.zeros((n, k))
    geom, vals = pop.geometry, pop.values.copy()
    outside = 0.0
    is_poly = np.isin(shapely.get_type_id(geom), [3, 6])
    dem_pts = np.asarray(pts.geometry.values)
    if area is not None:
        shapely.prepare(area)
        if pop.clip and is_poly.any():
            a = shapely.area(geom[is_poly])
            inter = shapely.area(shapely.intersection(geom[is_poly], area))
            frac = np.where(a > 0, np.clip(inter / np.where(a > 0, a, 1.0), 0.0, 1.0), 1.0)
            outside += float((vals[is_poly, 0] * (1.0 - frac)).sum())
            vals[is_poly] *= frac[:, None]
        if (~is_poly).any():
            inside = shapely.contains_xy(area, *shapely.get_coordinates(geom[~is_poly]).T)
            idx = np.flatnonzero(~is_poly)
            outside += float(vals[idx[~inside], 0].sum())
            vals[idx[~inside]] = 0.0
    keep = vals[:, 0] > 0 if k == 1 else (vals > 0).any(axis=1)
    geom, vals, is_poly = geom[keep], vals[keep], is_poly[keep]
    if len(geom) == 0 or n == 0:
        return out, outside
    cells = demand.grid.cell_polygons(pts["ix"].to_numpy(), pts["iy"].to_numpy()) if demand.grid else None
    cell_tree = shapely.STRtree(cells) if cells is not None else None
    placed = np.zeros(len(geom), dtype=bool)
    pidx = np.flatnonzero(is_poly)
    if len(pidx):
        if cells is not None:
            gi, di = cell_tree.query(geom[pidx], predicate="intersects")
            w = shapely.area(shapely.intersection(geom[pidx][gi], cells[di]))
        else:
            gi, di = shapely.STRtree(dem_pts).query(geom[pidx], predicate="contains")
            w = np.ones(len(gi))
        pos = w > 0
        gi, di, w = gi[pos], di[pos], w[pos]
        tot = np.bincount(gi, weights=w, minlength=len(pidx))
        share = w / tot[gi]
        for c in range(k):
            out[:, c] += np.bincount(di, weights=share * vals[pidx[gi], c], minlength=n)
        placed[pidx[tot > 0]] = True
    qidx = np.flatnonzero(~is_poly)
    if len(qidx) and cells is not None:
        qi, di = cell_tree.query(geom[qidx], predicate="intersects")
        qi, first = np.unique(qi, return_index=True)  # a point on a shared cell edge goes to one cell
        di = di[first]
        for c in range(k):
            out[:, c] += np.bincount(di, weights=vals[qidx[qi], c], minlength=n)
        placed[qidx[qi]] = True
    rest = np.flatnonzero(~placed)
    if len(rest):
        near = _nearest(dem_pts, shapely.point_on_surface(geom[rest]))
        for c in range(k):
            out[:, c] += np.bincount(near, weights=vals[rest, c], minlength=n)
    return out, outside


def points_demand(pop: PopulationSource, crs: pyproj.CRS, area: shapely.Geometry | None) -> Demand:
    """Population points (inside ``area``) as the demand points, weighted by their persons."""
    geom, vals = pop.geometry, pop.values
    if area is not None:
        inside = shapely.contains_xy(area, *shapely.get_coordinates(geom).T)
        pop.outside = float(vals[~inside, 0].sum())
        geom, vals = geom[inside], vals[inside]
    df = {"demand_id": np.arange(len(geom)), "weight": vals[:, 0]}
    df.update({c: vals[:, j] for j, c in enumerate(pop.columns) if j > 0})
    return Demand(gpd.GeoDataFrame(df, geometry=geom, crs=crs), None, pop.label)


def apply_population(pop: PopulationSource, demand: Demand, area: shapely.Geometry | None) -> Demand:
    """Demand points weighted by residents: ``weight`` = the total column, one column per age group.

    Warns when residents fall outside the study area (they are not counted).
    """
    if pop.kind == "points":
        dem = points_demand(pop, demand.points.crs, area)
    else:
        per, outside = distribute(pop, demand, area)
        pts = demand.points.copy()
        pts["weight"] = per[:, 0]
        for j, c in enumerate(pop.columns[1:], start=1):
            pts[c] = per[:, j]
        pop.outside = outside
        dem = Demand(pts, demand.grid, pop.label)
    if pop.outside > 0.5:
        total = pop.outside + float(dem.points["weight"].sum())
        warnings.warn(f"{pop.outside:,.0f} of {total:,.0f} residents ({pop.outside / total:.1%}) live outside the "
                      "study area and are not counted", AccessWarning, stacklevel=2)
    return dem


def study_area(net_hull: shapely.Geometry, bounds_union: shapely.Geometry | None, max_snap_m: float) -> shapely.Geometry:
    """Where residents are counted: the boundaries' union, else the network's hull grown by the snap limit."""
    return bounds_union if bounds_union is not None else shapely.buffer(net_hull, max_snap_m)
