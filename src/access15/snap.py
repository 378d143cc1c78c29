"""Snap points to the nearest point on the nearest walkable edge.

A point is attached where the perpendicular from it meets the closest edge (not merely the closest
node); the straight-line access leg is kept so it can be walked at the same speed. Points farther than
``max_snap_m`` from every edge are reported as unreachable (``edge == -1``), never silently attached.

Points snap to the largest connected piece of the network whenever it lies within ``max_snap_m``:
small disconnected pieces (a footway mapped without its junction, a private compound's internal paths)
would otherwise capture the points next to them and leave them "out of reach" of every facility.
Only points with no edge of the main piece within the limit snap to a smaller piece (an island's own
network), and the pipeline reports how much demand that concerns.

Complexity: one bulk STRtree nearest query, O(n log E) for n points and E edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from .network import WalkNetwork


@dataclass
class Snapped:
    """Where each of n points joins the network.

    ``edge``: edge index, or -1 when the point is farther than the snap limit from every edge.
    ``offset_m``: distance along that edge from its ``u`` end to the attachment point, metres.
    ``dist_m``: straight-line access leg from the point to the attachment point, metres (NaN if unsnapped).
    ``xy``: the attachment points (n, 2) in the network CRS.
    """

    edge: np.ndarray
    offset_m: np.ndarray
    dist_m: np.ndarray
    xy: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of snapped points."""
        return self.edge >= 0

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, idx: np.ndarray) -> "Snapped":
        """A subset of the points (by index or mask)."""
        return Snapped(self.edge[idx], self.offset_m[idx], self.dist_m[idx], self.xy[idx])


def snap_points(net: WalkNetwork, xy: np.ndarray, max_snap_m: float = 500.0,
                prefer_main: bool = True) -> Snapped:
    """Snap (n, 2) points given in the network CRS (metres) to the network's edges.

    With ``prefer_main`` (default) a point joins the largest connected component when an edge of it is
    within ``max_snap_m`` metres, and the nearest edge of any component otherwise.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    at = np.full((n, 2), np.nan)
    if n == 0:
        return Snapped(edge, offset, dist, at)
    pts = shapely.points(xy)
    split = prefer_main and len(net.main_edges) < net.n_edges
    if split:
        (pi, ei), d = net.main_tree.query_nearest(pts, max_distance=max_snap_m, return_distance=True,
                                                   all_matches=False)
        ei = net.main_edges[ei]
        rest = np.setdiff1d(np.arange(n), pi)
        (pj, ej), dj = net.tree.query_nearest(pts[rest], max_distance=max_snap_m, return_distance=True,
                                              all_matches=False)
        pi, ei, d = np.concatenate([pi, rest[pj]]), np.concatenate([ei, ej]), np.concatenate([d, dj])
    else:
        (pi, ei), d = net.tree.query_nearest(pts, max_distance=max_snap_m, return_distance=True, all_matches=False)
    edge[pi] = ei
    dist[pi] = d
    lines = net.edge_geometry[ei]
    off = shapely.line_locate_point(lines, pts[pi])
    offset[pi] = np.clip(off, 0.0, net.edge_length[ei])
    at[pi] = shapely.get_coordinates(shapely.line_interpolate_point(lines, off))
    return Snapped(edge, offset, dist, at)
