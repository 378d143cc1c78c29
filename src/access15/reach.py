"""Bounded searches from many candidate sites at once: a sparse candidate x demand distance matrix.

Every candidate site becomes a virtual source node of its own (linked to both ends of its snapped edge
with its access leg plus the exact distance along the edge, as in :mod:`access15.routing`). Virtual
nodes have outgoing links only, so no path runs through another candidate, and one
``scipy.sparse.csgraph.dijkstra`` call with many ``indices`` and ``limit`` = the circle's radius (metres)
searches from all of them. Demand points are then reached through their two edge ends (or directly
along the edge when a candidate sits on the same edge), with the same floating-point operations as
:func:`access15.routing.nearest_facility`, so a distance here equals the one a full re-routing with the
candidate added would give.

Complexity: for K candidates each reaching r nodes within the limit, O(K (r log r + N)) time (csgraph
initialises a dense row of N distances per source; the rows are processed in chunks so memory stays
O(chunk x N)), and O(m log m) to gather the m (candidate, demand) pairs found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from .network import WalkNetwork
from .snap import Snapped

#: Distance-matrix elements per csgraph call (each is a float64): bounds a chunk to ~128 MB.
CHUNK_ELEMENTS = 16_000_000


@dataclass
class Reach:
    """The (candidate, demand point) pairs within a search limit, as sparse triplets.

    ``cand``, ``dem``: indices into the candidate and demand arrays given; ``dist_m``: walking distance
    in metres (both access legs included), one entry per pair, sorted by candidate then demand point.
    ``shape`` = (candidates, demand points).
    """

    cand: np.ndarray
    dem: np.ndarray
    dist_m: np.ndarray
    shape: tuple[int, int]

    def __len__(self) -> int:
        return len(self.cand)

    def select(self, mask: np.ndarray) -> "Reach":
        """The pairs where ``mask`` (one boolean per pair) is true."""
        return Reach(self.cand[mask], self.dem[mask], self.dist_m[mask], self.shape)

    def matrix(self) -> sparse.csr_matrix:
        """Boolean CSR matrix (candidates x demand points) of the pairs."""
        return sparse.csr_matrix((np.ones(len(self.cand), dtype=bool), (self.cand, self.dem)), shape=self.shape)


def demand_attachments(net: WalkNetwork, dem: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Demand points grouped by network node: CSR ``indptr`` over nodes, the demand index and the cost
    (metres along the edge from the node to the attachment point) of each attachment."""
    ok = np.flatnonzero(dem.ok)
    e = dem.edge[ok]
    node = np.concatenate([net.edge_u[e], net.edge_v[e]])
    who = np.concatenate([ok, ok])
    cost = np.concatenate([dem.offset_m[ok], net.edge_length[e] - dem.offset_m[ok]])
    order = np.argsort(node, kind="stable")
    indptr = np.searchsorted(node[order], np.arange(net.n_nodes + 1))
    return indptr, who[order], cost[order]


def _virtual_graph(net: WalkNetwork, cand: Snapped) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The network plus one source node per snapped candidate (rows N..N+K-1, outgoing links only).

    Returns the graph and, per candidate, its source row (-1 for candidates off the network).
    """
    n = net.n_nodes
    ok = np.flatnonzero(cand.ok)
    e = cand.edge[ok]
    src = np.full(len(cand), -1, dtype=np.int64)
    src[ok] = n + np.arange(len(ok))
    rows = np.concatenate([np.arange(len(ok)), np.arange(len(ok))])
    nodes = np.concatenate([net.edge_u[e], net.edge_v[e]])
    # the same operations as routing._source_row, so distances match a full re-routing bit for bit
    cost = np.concatenate([cand.dist_m[ok] + cand.offset_m[ok],
                           cand.dist_m[ok] + net.edge_length[e] - cand.offset_m[ok]])
    order = np.lexsort((cost, nodes, rows))
    rows, nodes, cost = rows[order], nodes[order], cost[order]
    first = np.r_[True, (rows[1:] != rows[:-1]) | (nodes[1:] != nodes[:-1])]  # a loop edge links one node once
    rows, nodes, cost = rows[first], nodes[first], np.maximum(cost[first], 1e-9)
    g = net.graph
    counts = np.bincount(rows, minlength=len(ok))
    indptr = np.concatenate([g.indptr, g.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([g.indices, nodes]).astype(g.indices.dtype, copy=False)
    data = np.concatenate([g.data, cost])
    total = n + len(ok)
    return sparse.csr_matrix((data, indices, indptr), shape=(total, total)), src


def candidate_reach(net: WalkNetwork, cand: Snapped, dem: Snapped, limit_m: float,
                    chunk_elements: int = CHUNK_ELEMENTS, attachments: tuple | None = None) -> Reach:
    """Walking distances (metres) from each candidate to every demand point within ``limit_m``.

    Parameters
    ----------
    net : the walking network (metric CRS).
    cand : snapped candidate sites; candidates off the network reach nothing.
    dem : snapped demand points; points off the network are never reached.
    limit_m : search radius in metres (e.g. the circle's minutes x metres per minute).
    chunk_elements : csgraph distance-row elements per call (memory bound).
    attachments : ``demand_attachments(net, dem)`` computed once, to reuse across calls with the same points.

    Returns
    -------
    Reach with one entry per (candidate, demand point) pair at most ``limit_m`` apart.
    """
    n_cand, n_dem = len(cand), len(dem)
    empty = Reach(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), (n_cand, n_dem))
    if not cand.ok.any() or not dem.ok.any():
        return empty
    g, src = _virtual_graph(net, cand)
    indptr, att_dem, att_cost = attachments if attachments is not None else demand_attachments(net, dem)
    n = net.n_nodes
    ok = np.flatnonzero(cand.ok)
    step = max(1, int(chunk_elements // g.shape[0]))
    parts_c, parts_d, parts_x = [], [], []
    for lo in range(0, len(ok), step):  # a loop over chunks of candidates, each one vectorised csgraph call
        rows = ok[lo:lo + step]
        d = csgraph.dijkstra(g, directed=True, indices=src[rows], limit=limit_m)[:, :n]
        r, node = np.nonzero(d <= limit_m)
        base = d[r, node]
        counts = indptr[node + 1] - indptr[node]
        rep = np.repeat(np.arange(len(node)), counts)
        start = np.repeat(indptr[node] - (np.cumsum(counts) - counts), counts)
        pos = start + np.arange(len(rep))
        parts_c.append(rows[r[rep]])
        parts_d.append(att_dem[pos])
        parts_x.append(base[rep] + att_cost[pos])
    c = np.concatenate(parts_c)
    p = np.concatenate(parts_d)
    x = np.concatenate(parts_x)
    # a candidate on the demand point's own edge may be closer directly along the edge
    dok = np.flatnonzero(dem.ok)
    dok = dok[np.isin(dem.edge[dok], cand.edge[ok])]  # only points on a candidate's own edge
    same = pd.DataFrame({"edge": dem.edge[dok], "p": dok, "t": dem.offset_m[dok]}).merge(
        pd.DataFrame({"edge": cand.edge[ok], "c": ok, "tc": cand.offset_m[ok], "leg": cand.dist_m[ok]}), on="edge")
    if len(same):
        c = np.concatenate([c, same["c"].to_numpy()])
        p = np.concatenate([p, same["p"].to_numpy()])
        x = np.concatenate([x, np.abs(same["t"].to_numpy() - same["tc"].to_numpy()) + same["leg"].to_numpy()])
    x = x + dem.dist_m[p]
    keep = x <= limit_m
    c, p, x = c[keep], p[keep], x[keep]
    order = np.lexsort((x, p, c))
    c, p, x = c[order], p[order], x[order]
    first = np.r_[True, (c[1:] != c[:-1]) | (p[1:] != p[:-1])]
    return Reach(c[first], p[first], x[first], (n_cand, n_dem))
