"""Demand points: the places whose access to services is measured.

Here every point weighs 1, so coverage is a share of area (grid cells) or of network nodes, not of
people; the label says so in every output. :mod:`access15.population` replaces the weights by residents.

Complexity: O(cells) vectorised (shapely.contains_xy over a regular grid), plus O(cells log V) for the
near-network test (see :func:`near_network`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from .network import WalkNetwork

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

    def cell_polygons(self, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
        """Square polygons for the given cell indices."""
        x = self.x0 + ix * self.cell
        y = self.y0 + iy * self.cell
        return shapely.box(x, y, x + self.cell, y + self.cell)


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


def near_network(net: WalkNetwork, x: np.ndarray, y: np.ndarray, dist_m: float) -> np.ndarray:
    """Whether each point (network CRS) lies within ``dist_m`` metres of a walkable edge.

    Exact, in two steps: a point with an edge vertex within ``dist_m`` is near (vertices lie on edges), found
    with a KD-tree over all vertices, O(n log V); only the rest go to the exact STRtree nearest-edge search.
    (A bulk ``dwithin`` query would list every edge within ``dist_m`` of every point: hundreds per point.)
    """
    near = np.zeros(len(x), dtype=bool)
    if len(x) == 0:
        return near
    verts = shapely.get_coordinates(net.edge_geometry)
    d, _ = cKDTree(verts).query(np.column_stack([x, y]), distance_upper_bound=dist_m, workers=-1)
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
