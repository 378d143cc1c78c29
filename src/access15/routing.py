"""Network travel distances from every demand point to the nearest facility of a category.

One multi-source Dijkstra per category (scipy.sparse.csgraph, compiled) over the whole network: a
virtual source node is joined to both ends of every facility's edge with the facility's access leg plus
the distance along the edge, so the search starts from the exact attachment points. A demand point's
distance is then the best of its two edge ends (plus its own access leg), or the direct walk along the
edge when a facility sits on the same edge. The nearest facility of every node is recovered from the
shortest-path tree by pointer jumping (O(N log depth), vectorised).

**Direction** (issue 15). With per-direction edge costs (:class:`EdgeRates`: slope, steps, profiles) the time
from a home to a facility differs from the way back. Coverage is the resident walking *to* the facility, so
the search runs from the facilities over the **reversed** directed graph (edge u->v with the cost of walking
v->u): its distance at a node is then exactly the cost of walking from that node to the nearest facility. A
point part-way along an edge pays the same fraction of that edge's cost per metre in the direction it walks
(``offset x rate``: the cost is spread evenly along the edge, the edge's mean rate; see docs/walking.md).
Without rates every rate is 1 and the graph is the symmetric one, so the numbers are today's exactly.

Complexity per category: O((N + E) log N) for the search, O(n) for the n demand points; building the
reversed graph of a set of rates O(E log E), once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from .network import WalkNetwork
from .snap import Snapped


@dataclass
class EdgeRates:
    """Per-direction walking cost of every edge, per metre of its length (metres of flat walking per metre;
    1 = flat walking at the profile's speed, ``inf`` = cannot be used in that direction).

    ``fwd[e]``: walking from ``edge_u`` to ``edge_v``; ``bwd[e]``: from ``edge_v`` to ``edge_u``.
    An edge costs ``edge_length x rate`` flat metres; divide by the flat speed (metres per minute) for minutes.
    """

    fwd: np.ndarray
    bwd: np.ndarray
    _graphs: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def cheapest(self) -> float:
        """The smallest finite rate (1.0 when none is below 1): bounds cost below by ``cheapest x length``."""
        both = np.concatenate([self.fwd, self.bwd])
        return float(np.min(both[np.isfinite(both)], initial=1.0))

    def reversed_graph(self, net: WalkNetwork) -> sparse.csr_matrix:
        """The transposed directed graph (N x N): entry (a, b) is the cost of walking b -> a (flat metres).
        Parallel edges keep the cheapest, self-loops and unusable directions are dropped. O(E log E), once per
        network (kept on this object)."""
        key = (id(net), net.n_edges)
        if key not in self._graphs:
            self._graphs.clear()
            self._graphs[key] = self._reversed_graph(net)
        return self._graphs[key]

    def _reversed_graph(self, net: WalkNetwork) -> sparse.csr_matrix:
        keep = net.edge_u != net.edge_v
        u, v, length = net.edge_u[keep], net.edge_v[keep], net.edge_length[keep]
        a = np.concatenate([v, u])  # walking u -> v at fwd is the reversed edge v -> u
        b = np.concatenate([u, v])
        w = np.concatenate([length * self.fwd[keep], length * self.bwd[keep]])
        ok = np.isfinite(w)
        a, b, w = a[ok], b[ok], np.maximum(w[ok], 1e-9)  # csgraph ignores zeros
        n = net.n_nodes
        key = a.astype(np.int64) * n + b  # one sort by (row, column); the cheapest of parallel edges kept
        order = np.argsort(key, kind="stable")
        key, w = key[order], w[order]
        start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        w = np.minimum.reduceat(w, start) if len(key) else w
        key = key[start]
        row, col = key // n, key % n
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))])
        return sparse.csr_matrix((w, col.astype(np.int32), indptr), shape=(n, n))


def part(metres: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Cost (flat metres) of walking ``metres`` of an edge at ``rate``: exactly ``metres`` when the rate is 1,
    0 for 0 m even on an unusable edge (a point at an edge's end is at its node), ``inf`` on an unusable one."""
    with np.errstate(invalid="ignore"):  # (0 x inf, discarded by the where)
        return np.where(metres > 0, metres * rate, 0.0)


def to_v_end(leg: np.ndarray, length: np.ndarray, offset: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """``leg`` plus the cost of the ``length - offset`` metres between a point and its edge's v end at ``rate``,
    with the floating-point operations of the flat engine (``leg + length - offset``) when the rate is 1, so a
    flat network gives the same bits; ``inf`` on an unusable edge unless the point is at that end."""
    with np.errstate(invalid="ignore"):
        cost = leg + length * rate - offset * rate
    return np.where(np.isfinite(rate), cost, np.where(offset >= length, leg, np.inf))


def _rates(net: WalkNetwork, rates: EdgeRates | None) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix]:
    """(fwd, bwd, graph to search): the symmetric graph and rates 1 without ``rates``."""
    if rates is None:
        one = np.ones(net.n_edges)
        return one, one, net.graph
    return rates.fwd, rates.bwd, rates.reversed_graph(net)


@dataclass
class NearestResult:
    """Distance (metres) from each demand point to its nearest facility, and which facility.

    ``dist_m``: walking distance including both access legs; ``inf`` beyond the search limit or in a
    network component without a facility; ``NaN`` for demand points that are not on the network.
    ``facility``: index (into the facility arrays given) of the nearest facility, -1 where none.
    """

    dist_m: np.ndarray
    facility: np.ndarray


def _source_row(net: WalkNetwork, fac: Snapped, fwd: np.ndarray | None = None,
                bwd: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cheapest virtual-source link per network node: (node, cost in metres, facility index). With rates, the
    cost is of walking from the node to the facility (u -> facility forward, v -> facility backward)."""
    ok = np.flatnonzero(fac.ok)
    e = fac.edge[ok]
    nodes = np.concatenate([net.edge_u[e], net.edge_v[e]])
    if fwd is None:
        cost = np.concatenate([fac.dist_m[ok] + fac.offset_m[ok],
                               fac.dist_m[ok] + net.edge_length[e] - fac.offset_m[ok]])
    else:
        cost = np.concatenate([fac.dist_m[ok] + part(fac.offset_m[ok], fwd[e]),
                               to_v_end(fac.dist_m[ok], net.edge_length[e], fac.offset_m[ok], bwd[e])])
    which = np.concatenate([ok, ok])
    usable = np.isfinite(cost)
    nodes, cost, which = nodes[usable], cost[usable], which[usable]
    order = np.lexsort((cost, nodes))
    nodes, cost, which = nodes[order], cost[order], which[order]
    first = np.r_[True, nodes[1:] != nodes[:-1]] if len(nodes) else np.zeros(0, dtype=bool)
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
    """Per point (``owner`` of each attachment), the shortest ``total`` of its attachments and its facility.

    Attachments come as :meth:`Snapped.attachments` lists them: every point's own first (owners increasing), then
    at most one second attachment per point; a tie keeps the first. O(n), no sort.
    """
    dist, best = np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
    second = np.r_[False, np.maximum.accumulate(owner[:-1]) >= owner[1:]] if len(owner) else np.zeros(0, bool)
    first = ~second
    dist[owner[first]], best[owner[first]] = total[first], who[first]
    o, t, w = owner[second], total[second], who[second]
    better = ~(dist[o] <= t)  # shorter, or the point's own street reaches nothing (NaN)
    dist[o[better]], best[o[better]] = t[better], w[better]
    return dist, best


def may_reach(fac: Snapped, dem: Snapped, limit_m: float, rates: EdgeRates | None = None) -> np.ndarray:
    """Which facilities may lie within ``limit_m`` (flat metres) of any of the demand points: a walk is at
    least as long as the straight line between the two attachment points, and costs at least that times the
    cheapest rate (access legs cost 1 per metre, never less than ``cheapest``), so a facility farther than
    ``limit_m / cheapest`` in a straight line from every demand point cannot reach any of them within the
    limit. Dropping those from a search changes no distance within the limit. O((n + m) log n) (a KD-tree
    over the demand points' attachments)."""
    if not np.isfinite(limit_m):
        return np.ones(len(fac), dtype=bool)
    fat, fown = fac.attachments()
    dat, _ = dem.attachments()
    keep = np.zeros(len(fac), dtype=bool)
    if not dat.ok.any() or not fat.ok.any():
        return keep  # nothing to reach, or nothing to reach it from
    reach = limit_m / (rates.cheapest if rates is not None else 1.0)
    dist, _ = cKDTree(dat.xy[dat.ok]).query(fat.xy[fat.ok], distance_upper_bound=reach * (1 + 1e-9))
    keep[fown[np.flatnonzero(fat.ok)[np.isfinite(dist)]]] = True
    return keep


def nearest_facility(net: WalkNetwork, fac: Snapped, dem: Snapped, limit_m: float = np.inf,
                     rates: EdgeRates | None = None) -> NearestResult:
    """Walking distance from each demand point to the nearest facility (metres), and its index.

    Parameters
    ----------
    net : the walking network (metric CRS).
    fac, dem : snapped facilities and demand points; a point with two attachments (its own street on a small
        network piece, and the main network) uses the shorter way.
    limit_m : stop the search beyond this distance (metres); farther points get ``inf``.
    rates : per-direction edge costs (:class:`EdgeRates`); the result is then in flat metres of walking
        from each point *to* its facility (search over the reversed graph). None: symmetric lengths.
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

    fwd, bwd, graph = _rates(net, rates)
    nodes, cost, which = _source_row(net, fat) if rates is None else _source_row(net, fat, fwd, bwd)
    src = net.n_nodes
    g = _with_source(graph, nodes, cost)
    d, pred = csgraph.dijkstra(g, directed=True, indices=src, limit=limit_m, return_predecessors=True)
    d, pred = d[:src], pred[:src]
    root = _roots(pred, src)
    node_fac = np.full(src, -1, dtype=np.int64)
    node_fac[nodes] = fown[which]
    node_fac_all = np.where(root >= 0, node_fac[np.maximum(root, 0)], -1)

    e = dat.edge[dok]
    u, v = net.edge_u[e], net.edge_v[e]
    if rates is None:  # the flat engine: symmetric lengths
        via_u = d[u] + dat.offset_m[dok]
        via_v = d[v] + (net.edge_length[e] - dat.offset_m[dok])
    else:
        via_u = d[u] + part(dat.offset_m[dok], bwd[e])  # the point walks back to u, ...
        via_v = d[v] + part(net.edge_length[e] - dat.offset_m[dok], fwd[e])  # ... or on to v
    use_v = via_v < via_u
    total = np.where(use_v, via_v, via_u)
    who = np.where(use_v, node_fac_all[v], node_fac_all[u])

    # a facility on the same edge may be closer directly along the edge
    fok = np.flatnonzero(fat.ok)
    same = pd.DataFrame({"edge": e, "pos": np.arange(len(dok)), "t": dat.offset_m[dok]}).merge(
        pd.DataFrame({"edge": fat.edge[fok], "f": fown[fok], "tf": fat.offset_m[fok], "leg": fat.dist_m[fok]}),
        on="edge")
    if len(same):
        t, tf, se = same["t"].to_numpy(), same["tf"].to_numpy(), same["edge"].to_numpy()
        same["direct"] = np.where(tf >= t, part(tf - t, fwd[se]), part(t - tf, bwd[se])) + same["leg"].to_numpy()
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
