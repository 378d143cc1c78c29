"""Candidate sites: read from files or coordinates, checked (outside the area, on water, off the network),
or generated from the street nodes inside a category's gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..config import FacilitySource
from ..coords import WGS84, transform_xy
from ..errors import InputError
from ..io.facilities import read_facility_file
from ..io.tables import GIS_FIX, is_table, number_error, parse_numbers, read_layer, read_table
from ..result import AnalysisResult
from ..snap import Snapped, snap_points
from ..text import t
from .context import SiteContext, check_category

#: Candidate status values; anything but ``ok`` gets a message instead of figures.
OK, OUTSIDE, ON_WATER, OFF_NETWORK = "ok", "outside_area", "on_water", "off_network"


def as_sites(sites: Any, source: str = "sites") -> gpd.GeoDataFrame:
    """Candidate sites as a GeoDataFrame of points in EPSG:4326 with a ``site`` name column.

    Accepts a GeoDataFrame/GeoSeries (with a CRS; polygons become their representative point), one
    ``(lon, lat)`` pair, a list of pairs or an (n, 2) array of WGS84 longitude/latitude. Columns
    ``name``, ``capacity`` and ``cost`` of a GeoDataFrame are kept.
    """
    if isinstance(sites, gpd.GeoSeries):
        sites = gpd.GeoDataFrame(geometry=sites)
    if isinstance(sites, gpd.GeoDataFrame):
        if sites.crs is None:
            raise InputError(source, "candidate sites have no CRS", "set one, e.g. gdf.set_crs(4326)")
        gdf = sites.to_crs(4326).reset_index(drop=True)
        geom = gdf.geometry.values
        if (shapely.is_missing(geom) | shapely.is_empty(geom)).any():
            i = int(np.flatnonzero(shapely.is_missing(geom) | shapely.is_empty(geom))[0])
            raise InputError(source, "empty geometry", "give every candidate a location", row=i + 1, field="geometry")
        if (shapely.get_type_id(geom) != 0).any():
            gdf = gdf.set_geometry(shapely.point_on_surface(geom), crs=4326)
    else:
        xy = np.asarray(sites, dtype=np.float64)
        xy = xy.reshape(1, 2) if xy.shape == (2,) else xy
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise InputError(source, "sites must be (lon, lat) pairs", "e.g. [(121.55, 29.87)]")
        bad = np.flatnonzero(~np.isfinite(xy).all(axis=1) | (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90))
        if len(bad):
            raise InputError(source, f"({xy[bad[0], 0]}, {xy[bad[0], 1]}) is not a longitude/latitude",
                             "give WGS84 degrees as lon,lat (longitude within ±180, latitude within ±90)",
                             row=int(bad[0]) + 1)
        gdf = gpd.GeoDataFrame(geometry=shapely.points(xy), crs=4326)
    if "name" in gdf.columns:
        names = gdf["name"].fillna("").astype(str)
        gdf["site"] = np.where(names.str.strip() != "", names, [f"site {i + 1}" for i in range(len(gdf))])
    elif "site" not in gdf.columns:
        gdf["site"] = [f"site {i + 1}" for i in range(len(gdf))]
    lonlat = shapely.get_coordinates(gdf.geometry.values)
    gdf["lon"], gdf["lat"] = lonlat[:, 0], lonlat[:, 1]
    return gdf


def read_sites(path: str | Path, category: str) -> gpd.GeoDataFrame:
    """Candidate sites from a file (CSV with lon/lat, GeoJSON, GeoPackage, Shapefile), read like a
    facility file (encodings, coordinate systems and errors as for facilities); optional ``name``,
    ``capacity`` (places) and ``cost`` (any unit, for a budget) columns are kept."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "candidates file not found" if not path.is_dir() else "this is a folder, not a "
                         "candidates file", "pass a CSV with lon/lat columns or a GIS file of candidate sites")
    table = is_table(path)
    raw = read_table(path)[0] if table else read_layer(path, None, "the candidates file", GIS_FIX)
    if len(raw) == 0:
        raise InputError(path, "the candidates file has no rows",
                         "add candidate sites, one row per site" + (" with lon and lat" if table else ""))
    src = FacilitySource(path=str(path), category=category)
    gdf = read_facility_file(src, path)  # validates the file and its coordinates
    if "capacity" in raw.columns:
        src.capacity_column = "capacity"
        gdf = read_facility_file(src, path)
    if "cost" in raw.columns:
        cost, bad = parse_numbers(raw["cost"].astype("string"))
        bad |= ~(cost >= 0)
        if bad.any():
            raise number_error(path, raw["cost"], bad, "cost", "a non-negative cost (any unit)")
        gdf["cost"] = cost
    return as_sites(gdf, str(path))


def validate_sites(ctx: SiteContext, sites: gpd.GeoDataFrame) -> tuple[Snapped, np.ndarray, np.ndarray]:
    """Snap candidate sites and say which cannot be checked.

    Returns the snapped sites (edge -1 where not ``ok``), a status per site (:data:`OK`,
    :data:`OUTSIDE`, :data:`ON_WATER`, :data:`OFF_NETWORK`) and a message per site ("" when ok).
    Complexity: O(n log E) (one STRtree query per test, in bulk).
    """
    net = ctx.result.network
    max_snap = ctx.result.config.network.max_snap_m
    xy = transform_xy(shapely.get_coordinates(sites.geometry.values), WGS84, net.crs)
    n = len(xy)
    status = np.full(n, OK, dtype=object)
    message = np.full(n, "", dtype=object)
    outside = ~shapely.intersects_xy(ctx.area, xy[:, 0], xy[:, 1])
    lang = ctx.result.config.output.lang
    where = t(lang, "where_bounds" if ctx.result.boundaries is not None else "where_network")
    status[outside] = OUTSIDE
    message[outside] = t(lang, "outside", where=where)
    lonlat = np.column_stack([sites["lon"].to_numpy(dtype=np.float64), sites["lat"].to_numpy(dtype=np.float64)]) \
        if {"lon", "lat"} <= set(sites.columns) else shapely.get_coordinates(sites.geometry.values)
    for i in np.flatnonzero(outside & (np.abs(lonlat[:, 0]) <= 90)):  # a lat,lon pair that would be inside
        sx, sy = transform_xy(lonlat[i:i + 1, ::-1], WGS84, net.crs)[0]
        if shapely.intersects_xy(ctx.area, sx, sy):
            message[i] = t(lang, "outside_swapped", where=where, lon=float(lonlat[i, 1]), lat=float(lonlat[i, 0]))
    pts = shapely.points(xy)
    if len(ctx.water):
        pi, wi = ctx.water_tree.query(pts, predicate="within")
        first = np.unique(pi, return_index=True)
        hit, wi = first[0], wi[first[1]]
        mask = status[hit] == OK
        hit, wi = hit[mask], wi[mask]
        names = ctx.water["name"].to_numpy()[wi]
        status[hit] = ON_WATER
        message[hit] = [t(lang, "water", name=nm or t(lang, "water_unnamed"), oid=oid)
                        for nm, oid in zip(names, ctx.water["osm_id"].to_numpy()[wi])]
    snap = snap_points(net, xy, max_snap)
    off = np.flatnonzero(~snap.ok & (status == OK))
    if len(off):
        (_, ei), d = net.tree.query_nearest(pts[off], return_distance=True, all_matches=False)
        status[off] = OFF_NETWORK
        message[off] = [t(lang, "off", d=v, limit=max_snap) for v in d]
    bad = status != OK
    snap.detach(bad)
    return snap, status, message


def gap_candidates(result: AnalysisResult | SiteContext, category: str, spacing_m: float | None = None) -> gpd.GeoDataFrame:
    """Candidate sites generated from the network: street nodes inside the category's gap (demand cells
    or nodes outside the circle), thinned to the node nearest the centre of each ``spacing_m`` square
    (default: a quarter of the circle's radius). EPSG:4326, with ``site`` = ``node <OSM id>``.

    Complexity: O(N log N) for N network nodes.
    """
    res = result.result if isinstance(result, SiteContext) else result
    check_category(res, category)
    net, dem, cfg = res.network, res.demand, res.config
    check_spacing(spacing_m)
    spacing = float(spacing_m) if spacing_m is not None else cfg.categories[category].minutes * cfg.speed_m_per_min / 4
    gap = ~dem[f"covered_{category}"].to_numpy(dtype=bool)
    if "on_network" in dem.columns:
        gap &= dem["on_network"].to_numpy(dtype=bool)
    xy = net.node_xy
    if res.grid is not None:
        g = res.grid
        lookup = np.full((g.ny, g.nx), -1, dtype=np.int64)
        lookup[dem["iy"].to_numpy(), dem["ix"].to_numpy()] = np.arange(len(dem))
        ix = np.floor((xy[:, 0] - g.x0) / g.cell).astype(np.int64)
        iy = np.floor((xy[:, 1] - g.y0) / g.cell).astype(np.int64)
        inside = (ix >= 0) & (ix < g.nx) & (iy >= 0) & (iy < g.ny)
        row = np.full(len(xy), -1, dtype=np.int64)
        row[inside] = lookup[iy[inside], ix[inside]]
        nodes = np.flatnonzero((row >= 0) & gap[np.maximum(row, 0)])
    else:
        nodes = dem["node"].to_numpy()[np.asarray(gap)]
    kx = np.floor(xy[nodes, 0] / spacing)
    ky = np.floor(xy[nodes, 1] / spacing)
    d = np.hypot(xy[nodes, 0] - (kx + 0.5) * spacing, xy[nodes, 1] - (ky + 0.5) * spacing)
    order = np.lexsort((nodes, d, ky, kx))
    kx, ky, nodes = kx[order], ky[order], nodes[order]
    first = np.r_[True, (kx[1:] != kx[:-1]) | (ky[1:] != ky[:-1])] if len(nodes) else np.zeros(0, bool)
    nodes = np.sort(nodes[first])
    lonlat = transform_xy(xy[nodes], net.crs, WGS84)
    gdf = gpd.GeoDataFrame({"site": [f"node {i}" for i in net.node_id[nodes]], "node": nodes},
                           geometry=shapely.points(lonlat), crs=4326)
    return as_sites(gdf)


def check_spacing(spacing_m: float | None) -> None:
    """Refuse a candidate spacing that is not a positive number of metres (None: the default)."""
    if spacing_m is not None and not float(spacing_m) > 0:
        raise InputError("--spacing", f"candidate spacing {spacing_m:g} m is not positive",
                         "give metres greater than 0, e.g. --spacing 250, or leave it out for a quarter of the circle")


def parse_lonlat(text: str) -> tuple[float, float]:
    """``"lon,lat"`` (WGS84 degrees) as a pair of floats; a clear error otherwise."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise InputError("--at", f"'{text}' is not lon,lat", "write e.g. --at 121.55,29.87 (longitude first)") from None
    if not (abs(lon) <= 180 and abs(lat) <= 90):
        if abs(lon) <= 90 and abs(lat) <= 180:
            raise InputError("--at", f"'{text}' is not a longitude,latitude: it looks like latitude,longitude",
                             f"write --at={lat},{lon} (longitude first)")
        raise InputError("--at", f"'{text}' is not a longitude,latitude",
                         "longitude within ±180, latitude within ±90 (longitude first)")
    return lon, lat
