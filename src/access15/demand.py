"""Demand points: the places whose access to services is measured, and the residents they stand for.

Grid cells (:func:`grid_demand`) or street nodes (:func:`node_demand`) each weigh 1, so coverage is a share
of area or of network nodes, not of people, and the label says so in every output. With a population
(:mod:`access15.io.population` reads it), :func:`apply_population` gives each point its residents:

* polygons (census units, raster cell footprints, H3 hexagons): the part of each polygon inside the study
  area keeps its share of the people (uniform density inside a polygon); that share is spread over the
  demand cells it overlaps in proportion to the overlap area (grid demand) or equally over the demand points
  inside it (node demand). A polygon that touches no demand point gives its people to the nearest demand
  point, so the population of every polygon is conserved;
* points (population points, buildings) go to the demand cell that contains them, else the nearest point;
  population points of ``kind = "points"`` become the demand points themselves.

Complexity: O(cells) vectorised (shapely.contains_xy over a regular grid), plus O(cells log V) for the
near-network test (see :func:`near_network`); distributing people is one STRtree bulk query of population
geometries against demand cells/points plus vectorised intersection areas, O((P + D) log D + pairs).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import rasterio.features
import rasterio.transform
import shapely
import shapely.geometry

from .coords import transform_xy
from .errors import AccessWarning, InputError
from .io.population import PopulationSource
from .network import WalkNetwork

#: Memory one grid cell takes through a whole run (the demand table with its per-category columns, the cell
#: polygons written to the GeoPackage, the map's rasters), bytes: about 3 KB measured on the 1M-edge benchmark
#: (2.1 GB peak for 404,512 cells, of which about 0.8 GB is the network).
BYTES_PER_CELL = 3_000
#: Share of the machine's memory a grid may take before it is refused.
MEMORY_SHARE = 0.5

GRID_LABEL = "area coverage: share of {cell:g} m grid cells, not population"
NODE_LABEL = "network coverage: share of street nodes, not population"


@dataclass
class Grid:
    """A regular square grid in the network CRS: cell (ix, iy) spans
    ``[x0 + ix*cell, x0 + (ix+1)*cell] x [y0 + iy*cell, y0 + (iy+1)*cell]`` (metres)."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    @property
    def transform(self) -> rasterio.Affine:
        """The affine transform of :meth:`raster` (north up, top-left corner at ``(x0, y0 + ny * cell)``)."""
        return rasterio.transform.from_origin(self.x0, self.y0 + self.ny * self.cell, self.cell, self.cell)

    def raster(self, ix: np.ndarray, iy: np.ndarray, values, fill=np.nan, dtype=np.float32) -> np.ndarray:
        """An (ny, nx) array of ``values`` at cells ``(ix, iy)`` and ``fill`` elsewhere, north up: cell
        ``(ix, iy)`` is row ``ny - 1 - iy``, column ``ix`` (see :attr:`transform`)."""
        arr = np.full((self.ny, self.nx), fill, dtype=dtype)
        arr[self.ny - 1 - np.asarray(iy), np.asarray(ix)] = values
        return arr

    def outline(self, ix: np.ndarray, iy: np.ndarray) -> shapely.Geometry:
        """The area of the given cells as one (multi)polygon in the grid's CRS: the union of their squares,
        traced from a cell mask by GDAL (``rasterio.features.shapes``, 4-connected) instead of unioning
        polygons. O(nx * ny) bytes and time."""
        if not len(ix):
            return shapely.Polygon()
        mask = self.raster(ix, iy, 1, fill=0, dtype=np.uint8)
        parts = [shapely.geometry.shape(g) for g, _ in rasterio.features.shapes(mask, mask=mask.astype(bool),
                                                                                transform=self.transform)]
        return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)

    def cell_polygons(self, ix: np.ndarray, iy: np.ndarray, crs: Any = None, to: Any = None) -> np.ndarray:
        """Square polygons for the given cell indices, in the grid's CRS; with ``crs`` (the grid's) and ``to``,
        their corners projected to ``to`` (the same vertices, in the same order, as ``shapely.box`` cells
        reprojected, without making the squares first). O(n)."""
        x = self.x0 + np.asarray(ix) * self.cell
        y = self.y0 + np.asarray(iy) * self.cell
        if to is None:
            return shapely.box(x, y, x + self.cell, y + self.cell)
        x1, y1 = x + self.cell, y + self.cell
        ring = np.stack([np.column_stack(c) for c in ((x1, y), (x1, y1), (x, y1), (x, y), (x1, y))], axis=1)
        return shapely.polygons(transform_xy(ring.reshape(-1, 2), crs, to).reshape(-1, 5, 2))


@dataclass
class Demand:
    """Demand points (GeoDataFrame in the network CRS with ``weight``; ``ix``/``iy`` for grid cells),
    the grid they come from (or None), and the label that says what a weight of 1 means."""

    points: gpd.GeoDataFrame
    grid: Grid | None
    label: str


def grid_demand(net: WalkNetwork, area: shapely.Geometry | None = None, cell_m: float = 100.0,
                near_network_m: float | None = 500.0) -> Demand:
    """Centres of ``cell_m`` square cells inside ``area`` (network CRS).

    Without an area, the grid covers the network's convex hull and keeps only cells whose centre lies
    within ``near_network_m`` of a walkable edge (so lakes and fields around a city are not counted).
    """
    region = area if area is not None else net.hull()
    check_grid_size(region, cell_m)
    minx, miny, maxx, maxy = shapely.bounds(region)
    x0 = np.floor(minx / cell_m) * cell_m
    y0 = np.floor(miny / cell_m) * cell_m
    nx = int(np.ceil((maxx - x0) / cell_m))
    ny = int(np.ceil((maxy - y0) / cell_m))
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    ix, iy = ix.ravel(), iy.ravel()
    cx = x0 + (ix + 0.5) * cell_m
    cy = y0 + (iy + 0.5) * cell_m
    shapely.prepare(region)
    inside = shapely.contains_xy(region, cx, cy)
    if area is None and near_network_m is not None:
        keep = near_network(net, cx[inside], cy[inside], near_network_m)
        inside[np.flatnonzero(inside)[~keep]] = False
    ix, iy, cx, cy = ix[inside], iy[inside], cx[inside], cy[inside]
    pts = gpd.GeoDataFrame({"demand_id": np.arange(len(ix)), "ix": ix, "iy": iy, "weight": 1.0},
                           geometry=shapely.points(cx, cy), crs=net.crs)
    return Demand(pts, Grid(float(x0), float(y0), float(cell_m), nx, ny), GRID_LABEL.format(cell=cell_m))


def _memory_bytes() -> int:
    """The machine's physical memory (bytes); 8 GiB where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 8 << 30


def check_grid_size(region: shapely.Geometry, cell_m: float) -> int:
    """The number of grid cells ``region`` (metric CRS) holds at ``cell_m`` metres, estimated before any cell is
    built; a grid whose run would take more than half the machine's memory is refused with the count and the
    memory (:data:`BYTES_PER_CELL` each), so a mistyped cell size never runs for minutes and dies. O(1)."""
    minx, miny, maxx, maxy = shapely.bounds(region)
    cells = int(shapely.area(region) / (cell_m * cell_m))
    boxed = float(np.ceil((maxx - minx) / cell_m + 1) * np.ceil((maxy - miny) / cell_m + 1))
    need = cells * BYTES_PER_CELL
    if need > MEMORY_SHARE * _memory_bytes() or boxed > 2e9:
        gib = need / (1 << 30)
        fit = float(np.sqrt(shapely.area(region) * BYTES_PER_CELL / (MEMORY_SHARE * _memory_bytes())))
        raise InputError("[demand]", f"cell_m = {cell_m:g} makes about {cells:,} grid cells, which would take about "
                         f"{gib:,.1f} GB of memory (this machine has {_memory_bytes() / (1 << 30):,.0f} GB)",
                         f"use larger cells: at least cell_m = {np.ceil(fit):g} here (100 m is usual)", field="cell_m")
    return cells


def near_network(net: WalkNetwork, x: np.ndarray, y: np.ndarray, dist_m: float) -> np.ndarray:
    """Whether each point (network CRS) lies within ``dist_m`` metres of a walkable edge.

    Exact, in two steps: a point with a network node within ``dist_m`` is near (nodes end edges), found with
    the network's KD-tree over its nodes (:attr:`~access15.network.WalkNetwork.node_tree`, which snapping uses
    next), O(n log N); only the rest go to the exact STRtree nearest-edge search. (A bulk ``dwithin`` query
    would list every edge within ``dist_m`` of every point: hundreds per point.)
    """
    near = np.zeros(len(x), dtype=bool)
    if len(x) == 0:
        return near
    d, _ = net.node_tree.query(np.column_stack([x, y]), distance_upper_bound=dist_m, workers=-1)
    near[d <= dist_m] = True
    rest = np.flatnonzero(~near)
    if len(rest):
        hit, _ = net.tree.query_nearest(shapely.points(x[rest], y[rest]), max_distance=dist_m,
                                        all_matches=False)
        near[rest[hit]] = True
    return near


def node_demand(net: WalkNetwork, area: shapely.Geometry | None = None) -> Demand:
    """The network's nodes (inside ``area`` when given) as demand points."""
    xy = net.node_xy
    keep = np.ones(len(xy), dtype=bool) if area is None else shapely.contains_xy(area, xy[:, 0], xy[:, 1])
    xy = xy[keep]
    pts = gpd.GeoDataFrame({"demand_id": np.arange(len(xy)), "node": np.flatnonzero(keep), "weight": 1.0},
                           geometry=shapely.points(xy), crs=net.crs)
    return Demand(pts, None, NODE_LABEL)


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
