"""Snap points to the nearest point on the nearest walkable edge.

A point is attached where the perpendicular from it meets the closest edge (not merely the closest
node); the straight-line access leg is kept so it can be walked at the same speed. Points farther than
``max_snap_m`` from every edge are reported as unreachable (``edge == -1``), never silently attached.

A point uses the street it stands on: it joins its nearest edge, whatever network piece that edge is on.
When that edge is on a small disconnected piece (a footway mapped without its junction, a compound's internal
paths), the point is also joined to the nearest edge of the largest piece within ``max_snap_m`` (its
``alt_*`` attachment), and routing takes the shorter of the two ways. So a clinic 3 m from a compound path
is reached along that path by its neighbours, and the path's residents still reach everything on the main
network; neither is stranded. (Joining every point to the main piece alone, as before, moved such a clinic
188 m away and gave its neighbours 23 minutes instead of 3.)

Complexity: bulk KD-tree and STRtree queries (see :func:`nearest_edges`), O(n log E) for n points and E edges.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
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
    ``alt_edge``, ``alt_offset_m``, ``alt_dist_m``, ``alt_xy``: a second attachment, to the largest network
    piece, for points whose nearest edge is on a smaller piece (``alt_edge`` -1 elsewhere); None when no
    point has one.
    """

    edge: np.ndarray
    offset_m: np.ndarray
    dist_m: np.ndarray
    xy: np.ndarray
    alt_edge: np.ndarray | None = None
    alt_offset_m: np.ndarray | None = None
    alt_dist_m: np.ndarray | None = None
    alt_xy: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of snapped points."""
        return self.edge >= 0

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, idx: np.ndarray) -> Snapped:
        """A subset of the points (by index or mask)."""
        if self.alt_edge is None:
            return Snapped(self.edge[idx], self.offset_m[idx], self.dist_m[idx], self.xy[idx])
        return Snapped(self.edge[idx], self.offset_m[idx], self.dist_m[idx], self.xy[idx], self.alt_edge[idx],
                       self.alt_offset_m[idx], self.alt_dist_m[idx], self.alt_xy[idx])

    def concat(self, other: Snapped) -> Snapped:
        """These points followed by ``other``'s."""
        return Snapped.join([self, other])

    @staticmethod
    def join(parts: list[Snapped]) -> Snapped:
        """The points of ``parts`` in order (with ``alt_*`` arrays when any part has them)."""
        if all(p.alt_edge is None for p in parts):
            return Snapped(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("edge", "offset_m", "dist_m",
                                                                                     "xy")))
        parts = [p.with_alt() for p in parts]
        return Snapped(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                          for f in dataclasses.fields(Snapped)})

    def with_alt(self) -> Snapped:
        """The same points with the ``alt_*`` arrays filled (-1 / NaN) when they were None."""
        if self.alt_edge is not None:
            return self
        n = len(self)
        return dataclasses.replace(self, alt_edge=np.full(n, -1, dtype=np.int64), alt_offset_m=np.full(n, np.nan),
                                   alt_dist_m=np.full(n, np.nan), alt_xy=np.full((n, 2), np.nan))

    def detach(self, mask: np.ndarray) -> None:
        """Mark the points of ``mask`` as off the network (both attachments)."""
        self.edge[mask] = -1
        if self.alt_edge is not None:
            self.alt_edge[mask] = -1

    def attachments(self) -> tuple[Snapped, np.ndarray]:
        """Every attachment as a point of its own (the n primary ones first, then the second ones) and the index
        of the point each belongs to. A point's distance to anything is the shortest over its attachments."""
        n = len(self)
        if self.alt_edge is None:
            return self, np.arange(n)
        has = np.flatnonzero(self.alt_edge >= 0)
        both = Snapped(np.concatenate([self.edge, self.alt_edge[has]]),
                       np.concatenate([self.offset_m, self.alt_offset_m[has]]),
                       np.concatenate([self.dist_m, self.alt_dist_m[has]]), np.concatenate([self.xy, self.alt_xy[has]]))
        return both, np.concatenate([np.arange(n), has])

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields as named arrays (for storing); :meth:`from_arrays` reads them back."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Snapped:
        """The :class:`Snapped` of :meth:`arrays`."""
        return cls(**{f.name: arrays[f.name] for f in dataclasses.fields(cls) if f.name in arrays})


#: Points snapped at a time by :func:`snap_points`: the GEOS points of a block (about 200 bytes each, twice) exist
#: at once, not those of every demand cell (0.8 GB at 1.9 million cells).
SNAP_BLOCK = 1 << 16
#: Points snapped first, alone (they build the network's search trees and pieces before threads share them).
FIRST_BLOCK = 1 << 10
#: Threads snapping blocks at once (one block's points each): the KD-tree, STRtree and GEOS distance calls of
#: :func:`nearest_edges` release the GIL, so two cores snap about twice as fast.
SNAP_THREADS = max(1, min(4, os.cpu_count() or 1))


def nearest_edges(net: WalkNetwork, pts: np.ndarray, xy: np.ndarray,
                  max_snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nearest edge of each point within ``max_snap_m`` metres: (point indices, ascending; edge indices;
    distances in metres), points with no edge that near left out. ``pts`` are the GEOS points of ``xy``.

    Exact, and about twice as fast as GEOS's nearest-neighbour search on street networks, in three bulk steps:
    the distance to the nearest network node (:attr:`~access15.network.WalkNetwork.node_tree`, a KD-tree)
    bounds the distance to the nearest edge, since every node ends an edge; the edges within that bound (an
    STRtree ``dwithin`` query, a few per point) are the only candidates; their exact distances decide. Among
    edges at the same distance (a point nearest to a junction is as near to every street meeting there) the
    lowest edge index wins, so the choice does not depend on the tree's layout. O(n log E).
    """
    bound, _ = net.node_tree.query(xy, distance_upper_bound=max_snap_m)
    # a hair more than the node's distance (GEOS and the KD-tree may round it differently), at most the limit
    bound = np.minimum(bound * (1 + 1e-9) + 1e-6, max_snap_m)
    pi, ei = net.tree.query(pts, predicate="dwithin", distance=bound)
    d = shapely.distance(pts[pi], net.edge_geometry[ei])
    best = np.lexsort((ei, d, pi))  # per point, nearest first, then lowest edge index
    best = best[np.r_[True, pi[best][1:] != pi[best][:-1]]] if len(best) else best
    return pi[best], ei[best], d[best]


def _attach(net: WalkNetwork, pts: np.ndarray, which: np.ndarray, edges: np.ndarray,
            dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (along ``edges`` from their u end), access legs and attachment points of points ``which``."""
    lines = net.edge_geometry[edges]
    off = shapely.line_locate_point(lines, pts[which])
    at = shapely.get_coordinates(shapely.line_interpolate_point(lines, off))
    return np.clip(off, 0.0, net.edge_length[edges]), dist, at


def snap_points(net: WalkNetwork, xy: np.ndarray, max_snap_m: float = 500.0,
                prefer_main: bool = True) -> Snapped:
    """Snap (n, 2) points given in the network CRS (metres) to the network's edges.

    Each point joins its nearest edge within ``max_snap_m`` metres. With ``prefer_main`` (default), a point
    whose nearest edge is on a smaller piece of the network also joins the nearest edge of the largest piece
    when one is within ``max_snap_m`` (``alt_*``); without it, only the nearest edge counts.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    if n > SNAP_BLOCK:  # a block at a time: each point's attachment depends on that point and the network only
        # the first few points here, which builds the network's lazy indexes once; then the blocks in threads
        # (the searches release the GIL), joined in order: the same result as one by one
        head = min(FIRST_BLOCK, SNAP_BLOCK)
        first = snap_points(net, xy[:head], max_snap_m, prefer_main)
        with ThreadPoolExecutor(SNAP_THREADS) as pool:
            rest = pool.map(lambda i: snap_points(net, xy[i:i + SNAP_BLOCK], max_snap_m, prefer_main),
                            range(head, n, SNAP_BLOCK))
            return Snapped.join([first, *rest])
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    at = np.full((n, 2), np.nan)
    if n == 0:
        return Snapped(edge, offset, dist, at)
    pts = shapely.points(xy)
    pi, ei, d = nearest_edges(net, pts, xy, max_snap_m)
    edge[pi] = ei
    offset[pi], dist[pi], at[pi] = _attach(net, pts, pi, ei, d)
    if not prefer_main or len(net.main_edges) == net.n_edges:
        return Snapped(edge, offset, dist, at)
    minor = pi[net.component[net.edge_u[ei]] != 0]
    alt_edge = np.full(n, -1, dtype=np.int64)
    alt_off, alt_dist, alt_at = np.full(n, np.nan), np.full(n, np.nan), np.full((n, 2), np.nan)
    if len(minor):
        (qi, mi), dm = net.main_tree.query_nearest(pts[minor], max_distance=max_snap_m, return_distance=True,
                                                    all_matches=False)
        who, me = minor[qi], net.main_edges[mi]
        alt_edge[who] = me
        alt_off[who], alt_dist[who], alt_at[who] = _attach(net, pts, who, me, dm)
    return Snapped(edge, offset, dist, at, alt_edge, alt_off, alt_dist, alt_at)
