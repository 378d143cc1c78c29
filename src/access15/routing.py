"""Network travel distances from every demand point to the nearest facility of a category.

One multi-source Dijkstra per category (scipy.sparse.csgraph, compiled) over the whole network: a
virtual source node is joined to both ends of every facility's edge with the facility's access leg plus
the distance along the edge, so the search starts from the exact attachment points. A demand point's
distance is then the best of its two edge ends (plus its own access leg), or the direct walk along the
edge when a facility sits on the same edge. The nearest facility of every node is recovered from the
shortest-path tree by pointer jumping (O(N log depth), vectorised).

Complexity per category: O((N + E) log N) for the search, O(n) for the n demand points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from .network import WalkNetwork
from .snap import Snapped


@dataclass
class NearestResult:
    """Distance (metres) from each demand point to its nearest facility, and which facility.

    ``dist_m``: walking distance including both access legs; ``inf`` beyond the search limit or in a
    network component without a facility; ``NaN`` for demand points that are not on the network.
    ``facility``: index (into the facility arrays given) of the nearest facility, -1 where none.
    """

    dist_m: np.ndarray
    facility: np.ndarray


def _source_row(net: WalkNetwork, fac: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest virtual-source link per network node: (node, cost in metres, facility index)."""
    ok = np.flatnonzero(fac.ok)
    e = fac.edge[ok]
    nodes = np.concatenate([net.edge_u[e], net.edge_v[e]])
    cost = np.concatenate([fac.dist_m[ok] + fac.offset_m[ok],
                           fac.dist_m[ok] + net.edge_length[e] - fac.offset_m[ok]])
    which = np.concatenate([ok, ok])
    order = np.lexsort((cost, nodes))
    nodes, cost, which = nodes[order], cost[order], which[order]
    first = np.r_[True, nodes[1:] != nodes[:-1]]
    return nodes[first], cost[first], which[first]


def _with_source(graph: sparse.csr_matrix, nodes: np.ndarray, cost: np.ndarray) -> sparse.csr_matrix:
    """The graph with one extra node (index N) linked to ``nodes`` at ``cost`` (directed, out of N)."""
    n = graph.shape[0]
    indptr = np.concatenate([graph.indptr, [graph.indptr[-1] + len(nodes)]])
    indices = np.concatenate([graph.indices, nodes]).astype(graph.indices.dtype, copy=False)
    data = np.concatenate([graph.data, np.maximum(cost, 1e-9)])
    return sparse.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))


def _roots(pred: np.ndarray, source: int) -> np.ndarray:
    """For each node, the first node on its shortest path from ``source`` (-1 if unreached)."""
    n = len(pred)
    idx = np.arange(n)
    root = np.where(pred == source, idx, pred)
    root[pred < 0] = -1
    while True:
        valid = root >= 0
        nxt = root.copy()
        nxt[valid] = root[root[valid]]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def _reduce(owner: np.ndarray, total: np.ndarray, who: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point (``owner`` of each attachment), the shortest ``total`` of its attachments and its facility."""
    order = np.lexsort((total, owner))
    owner, total, who = owner[order], total[order], who[order]
    first = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, bool)
    dist, best = np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
    dist[owner[first]] = total[first]
    best[owner[first]] = who[first]
    return dist, best


def nearest_facility(net: WalkNetwork, fac: Snapped, dem: Snapped, limit_m: float = np.inf) -> NearestResult:
    """Walking distance from each demand point to the nearest facility (metres), and its index.

    Parameters
    ----------
    net : the walking network (metric CRS).
    fac, dem : snapped facilities and demand points; a point with two attachments (its own street on a small
        network piece, and the main network) uses the shorter way.
    limit_m : stop the search beyond this distance (metres); farther points get ``inf``.
    """
    n_dem = len(dem)
    dist = np.full(n_dem, np.nan)
    best = np.full(n_dem, -1, dtype=np.int64)
    fat, fown = fac.attachments()
    dat, down = dem.attachments()
    dok = np.flatnonzero(dat.ok)
    dist[dem.ok] = np.inf
    if not fat.ok.any() or len(dok) == 0:
        return NearestResult(dist, best)

    nodes, cost, which = _source_row(net, fat)
    src = net.n_nodes
    g = _with_source(net.graph, nodes, cost)
    d, pred = csgraph.dijkstra(g, directed=True, indices=src, limit=limit_m, return_predecessors=True)
    d, pred = d[:src], pred[:src]
    root = _roots(pred, src)
    node_fac = np.full(src, -1, dtype=np.int64)
    node_fac[nodes] = fown[which]
    node_fac_all = np.where(root >= 0, node_fac[np.maximum(root, 0)], -1)

    e = dat.edge[dok]
    u, v = net.edge_u[e], net.edge_v[e]
    via_u = d[u] + dat.offset_m[dok]
    via_v = d[v] + (net.edge_length[e] - dat.offset_m[dok])
    use_v = via_v < via_u
    total = np.where(use_v, via_v, via_u)
    who = np.where(use_v, node_fac_all[v], node_fac_all[u])

    # a facility on the same edge may be closer directly along the edge
    fok = np.flatnonzero(fat.ok)
    same = pd.DataFrame({"edge": e, "pos": np.arange(len(dok)), "t": dat.offset_m[dok]}).merge(
        pd.DataFrame({"edge": fat.edge[fok], "f": fown[fok], "tf": fat.offset_m[fok], "leg": fat.dist_m[fok]}),
        on="edge")
    if len(same):
        same["direct"] = np.abs(same["t"] - same["tf"]) + same["leg"]
        same = same.sort_values(["pos", "direct", "f"]).drop_duplicates("pos")
        pos = same["pos"].to_numpy()
        better = same["direct"].to_numpy() < total[pos]
        total[pos[better]] = same["direct"].to_numpy()[better]
        who[pos[better]] = same["f"].to_numpy()[better]

    total = total + dat.dist_m[dok]
    beyond = total > limit_m
    total[beyond] = np.inf
    who[beyond] = -1
    got, fac_of = _reduce(down[dok], total, who, n_dem)
    reached = ~np.isnan(got)
    dist[reached], best[reached] = got[reached], fac_of[reached]
    return NearestResult(dist, best)
