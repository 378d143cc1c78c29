"""Floating catchments: facility x demand network travel times and the 2SFCA / E2SFCA supply-demand ratios.

The travel-time matrix uses the same engine as :mod:`access15.routing`: scipy's compiled Dijkstra over the
walking network, started from one virtual node per facility that is joined to both ends of the facility's
edge with its exact access leg and offset along the edge, and stopped at the catchment limit. A demand
point's time is the best of its edge's two ends plus its own offset and access leg, or the direct walk
along the edge when facility and point share an edge. Only pairs within the limit are kept (sparse).

2SFCA (Luo & Wang 2003): for facility j with supply S_j, R_j = S_j / sum_i P_i W(t_ij); for demand point i,
A_i = sum_j R_j W(t_ij), over pairs with t_ij <= d0. W = 1 for 2SFCA; E2SFCA (Luo & Qi 2009) uses the
stepped weights 1, 0.68, 0.22 on the thirds of the circle d0. A_i is supply per resident (e.g. places per
person); it is validated against PySAL's ``access`` package in the tests.

Scale: facilities are ordered along a Hilbert curve and searched in chunks of at most ``chunk`` that stay in one
Hilbert cell of ``CELL_REACH`` to twice that many circle radii (:func:`compact_chunks`); each chunk's Dijkstra
runs on the induced subnetwork of the nodes in the bounding box of its facilities' edge ends grown by the
circle (network distance >= straight-line distance, so no node or path within the limit lies outside; see
:func:`reach_radius`), and only demand points on edges with an end in that box are read out. The pairs and
distances are exactly those of a search over the whole network (tested against it).

Complexity: O(N log N) once for a KD-tree over the nodes, O(E) for the radius check, then per chunk
O(n_box + e_box + demand in the box) to cut the subnetwork and, per facility, a limited Dijkstra over the box,
O(n_box + e_reach log n_reach) (``n_box`` nodes in the grown box, ``e_reach``/``n_reach`` edges/nodes within
the circle). With the circle and the facility density fixed this does not grow with the network size N:
O(F x n_box) in all instead of the O(F x N) of a whole-network search. Memory O(chunk x n_box). The ratios
are two sparse sums, O(pairs).

Siting uses the same bounded search from candidate sites (:func:`candidate_reach`, a :class:`Reach` of
candidate x demand pairs within the circle): demand points are reached through their two edge ends (or
directly along the edge) with the same floating-point operations as
:func:`access15.routing.nearest_facility`, so a distance here equals the one a full re-routing with the
candidate added would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from .network import WalkNetwork
from .routing import EdgeRates, part, to_v_end
from .snap import Snapped

#: E2SFCA steps: (share of the circle, weight), after Luo & Qi (2009): 1.00, 0.68, 0.22.
E2SFCA_STEPS = ((1 / 3, 1.0), (2 / 3, 0.68), (1.0, 0.22))

#: Side of the Hilbert cells that bound a chunk of facilities, in reach radii: a chunk's search box is then at
#: most (2 x 2 + 2) = 6 radii wide whatever the facility density (tuned on the 1M-edge benchmark network).
CELL_REACH = 2.0


@dataclass
class TravelMatrix:
    """Sparse facility x demand travel distances (metres) within a limit: pair k joins facility
    ``fac[k]`` (index into the facilities given) and demand point ``dem[k]`` at ``dist_m[k]``."""

    fac: np.ndarray
    dem: np.ndarray
    dist_m: np.ndarray
    n_fac: int
    n_dem: int


@dataclass
class DemandIndex:
    """Snapped demand points prepared for many searches over one network, one entry per attachment on the
    network (a point with two attachments has two): the point it belongs to (``dok``), its ``edge`` and that
    edge's end nodes ``a``/``b``, the metres from each end to the attachment point (``off``/``rest``), the access
    leg (``leg``), and a CSR over nodes (``dptr``, ``by_node``) listing the entries (positions in ``dok``) on an
    edge that ends at each node. Build it once with :func:`index_demand`."""

    dok: np.ndarray
    edge: np.ndarray
    a: np.ndarray
    b: np.ndarray
    off: np.ndarray
    rest: np.ndarray
    leg: np.ndarray
    dptr: np.ndarray
    by_node: np.ndarray


def index_demand(net: WalkNetwork, dem: Snapped) -> DemandIndex:
    """The :class:`DemandIndex` of ``dem`` on ``net``: O(n log n) for n demand points."""
    att, owner = dem.attachments()
    ok = np.flatnonzero(att.ok)
    de = att.edge[ok]
    a, b = net.edge_u[de], net.edge_v[de]
    ends = np.concatenate([a, b])
    by_node = np.argsort(ends, kind="stable") % max(len(ok), 1)
    dptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=net.n_nodes))])
    return DemandIndex(owner[ok], de, a, b, att.offset_m[ok], net.edge_length[de] - att.offset_m[ok], att.dist_m[ok],
                       dptr, by_node)


def travel_matrix(net: WalkNetwork, fac: Snapped, dem: Snapped, limit_m: float, chunk: int = 64,
                  index: DemandIndex | None = None, rates: EdgeRates | None = None) -> TravelMatrix:
    """All facility -> demand network distances up to ``limit_m`` metres (access legs included).

    Facilities are taken in Hilbert-curve order in compact chunks of at most ``chunk`` (see
    :func:`compact_chunks`); each chunk's Dijkstra runs on the
    subnetwork of the nodes inside the bounding box of its facilities' edge ends grown by the reach radius
    (see :func:`reach_radius`), and only the demand points on edges with an end in that box are read out.
    Pairs and distances are exactly those of a search over the whole network.

    Parameters
    ----------
    net : the walking network (projected CRS, metres).
    fac, dem : snapped facilities and demand points (unsnapped ones, ``edge == -1``, get no pair).
    limit_m : the catchment limit, metres of walking (access legs included).
    chunk : facilities per Dijkstra call (memory O(chunk x nodes in the chunk's box)).
    index : ``index_demand(net, dem)``, to reuse across calls with the same demand points.
    rates : per-direction edge costs (slope, profiles; :class:`access15.routing.EdgeRates`): distances are then
        flat metres walked from each demand point *to* the facility, searched over the reversed graph with the
        floating-point operations of :func:`access15.routing.nearest_facility`; the box grows by the cheapest
        rate (a downhill edge may cost less than its length).
    """
    F, N = len(fac), net.n_nodes
    fac, fown = fac.attachments()  # a facility with two attachments is searched from both (shorter kept)
    fok = np.flatnonzero(fac.ok)
    ix = index if index is not None else index_demand(net, dem)
    dok, a, b, off, rest, leg = ix.dok, ix.a, ix.b, ix.off, ix.rest, ix.leg
    out_f, out_d, out_t = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    if len(fok) and len(dok):
        e = fac.edge[fok]
        fu, fv = net.edge_u[e], net.edge_v[e]
        if rates is None:
            cost_u = fac.dist_m[fok] + fac.offset_m[fok]
            cost_v = fac.dist_m[fok] + net.edge_length[e] - fac.offset_m[fok]
        else:  # walking from the edge's ends to the facility (issue 15)
            cost_u = fac.dist_m[fok] + part(fac.offset_m[fok], rates.fwd[e])
            cost_v = to_v_end(fac.dist_m[fok], net.edge_length[e], fac.offset_m[fok], rates.bwd[e])
        # a facility on a self-loop edge reaches its one end node by the shorter way round (one link only:
        # two links to the same node would be summed by the sparse constructor)
        loop = fu == fv
        cost_u = np.where(loop, np.minimum(cost_u, cost_v), cost_u)
        g = net.graph if rates is None else rates.reversed_graph(net)
        radius = reach_radius(net, limit_m, rates)
        if rates is not None:
            de_all = ix.edge
            r_off, r_rest = part(off, rates.bwd[de_all]), part(rest, rates.fwd[de_all])  # to u / to v
        else:
            r_off, r_rest = off, rest
        tree = net.node_tree
        dptr, by_node = ix.dptr, ix.by_node  # demand points by node (each listed under both edge ends)
        pos = np.full(N, -1, dtype=np.int64)  # node -> index in the chunk's subnetwork (-1: outside)
        order, bounds = compact_chunks(net.node_xy[fu] / 2 + net.node_xy[fv] / 2, chunk, CELL_REACH * radius)
        for s, s_end in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            k = order[s:s_end]
            nk = len(k)
            exy = net.node_xy[np.concatenate([fu[k], fv[k]])]
            lo, hi = exy.min(axis=0) - radius, exy.max(axis=0) + radius
            idx = np.asarray(tree.query_ball_point((lo + hi) / 2, (hi - lo).max() / 2, p=np.inf), dtype=np.int64)
            idx.sort()
            n = len(idx)
            pos[idx] = np.arange(n)
            # induced subgraph: rows of the box nodes, columns kept when inside; node n is an isolated dummy
            # (the index of outside nodes), n + 1 + j the virtual source of the chunk's facility j
            sub = g[idx]
            col = pos[sub.indices]
            keep = col >= 0
            row = np.repeat(np.arange(n), np.diff(sub.indptr))[keep]
            src = n + 1 + np.arange(nk)
            link = np.column_stack([np.ones(nk, bool), ~loop[k]]).ravel()
            link &= np.isfinite(np.column_stack([cost_u[k], cost_v[k]]).ravel())  # (unusable edge ends)
            big = sparse.csr_matrix(
                (np.r_[sub.data[keep], np.maximum(np.column_stack([cost_u[k], cost_v[k]]).ravel()[link], 1e-9)],
                 (np.r_[row, np.repeat(src, 2)[link]],
                  np.r_[col[keep], pos[np.column_stack([fu[k], fv[k]]).ravel()[link]]])),
                shape=(n + 1 + nk, n + 1 + nk))
            d = csgraph.dijkstra(big, directed=True, indices=src, limit=limit_m)[:, :n + 1]
            # the demand points with an edge end in the box (the others are beyond the limit)
            cnt = dptr[idx + 1] - dptr[idx]
            tot = int(cnt.sum())
            at = np.repeat(dptr[idx] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt) + np.arange(tot)
            sel = np.unique(by_node[at])
            pa, pb = pos[a[sel]], pos[b[sel]]
            pa[pa < 0], pb[pb < 0] = n, n
            t = np.minimum(d[:, pa] + r_off[sel], d[:, pb] + r_rest[sel]) + leg[sel]
            fi, di = np.nonzero(t <= limit_m)
            out_f.append(fown[fok[k[fi]]])
            out_d.append(dok[sel[di]])
            out_t.append(t[fi, di])
            pos[idx] = -1
        # facility and demand point on the same edge: the direct walk along it may be shorter (only the
        # points on a facility's edge can have one)
        de = ix.edge
        on = np.isin(de, e)
        same = pd.DataFrame({"edge": de[on], "d": dok[on], "t": off[on], "ld": leg[on]}).merge(
            pd.DataFrame({"edge": e, "f": fown[fok], "tf": fac.offset_m[fok], "lf": fac.dist_m[fok]}), on="edge")
        if len(same) and rates is not None:
            t_, tf_, se_ = same["t"].to_numpy(), same["tf"].to_numpy(), same["edge"].to_numpy()
            direct = (np.where(tf_ >= t_, part(tf_ - t_, rates.fwd[se_]), part(t_ - tf_, rates.bwd[se_]))
                      + same["lf"].to_numpy() + same["ld"].to_numpy())
        elif len(same):
            direct = (np.abs(same["t"] - same["tf"]) + same["lf"] + same["ld"]).to_numpy()
        if len(same):
            out_f.append(same["f"].to_numpy()[direct <= limit_m])
            out_d.append(same["d"].to_numpy()[direct <= limit_m])
            out_t.append(direct[direct <= limit_m])
    f, d, t = np.concatenate(out_f), np.concatenate(out_d), np.concatenate(out_t)
    # keep the shortest time per pair (the same-edge walk may duplicate a network pair)
    order = np.lexsort((t, d, f))
    f, d, t = f[order], d[order], t[order]
    first = np.r_[True, (f[1:] != f[:-1]) | (d[1:] != d[:-1])] if len(f) else np.zeros(0, bool)
    return TravelMatrix(f[first], d[first], t[first], F, len(dem))


def reach_radius(net: WalkNetwork, limit_m: float, rates: EdgeRates | None = None) -> float:
    """Euclidean radius (metres, network CRS) around a node that holds every node within ``limit_m`` metres
    of network distance from it, and every node on the shortest paths to them.

    An edge's length (its polyline) is at least the straight line between its end nodes, so network distance
    bounds Euclidean distance and the radius is ``limit_m``. Should some edge be shorter than that chord
    (rounded or user-supplied lengths), the radius grows by the worst ratio chord / length, so the bound
    still holds. With per-direction ``rates`` an edge may cost less than its length (downhill); the radius
    grows by the inverse of the cheapest rate. O(1) (the ratio is computed once per network, O(E)), O(E) with rates.
    """
    scale = 1.0
    if rates is not None:
        scale = 1.0 / min(1.0, max(rates.cheapest, 1e-9))
    return float(limit_m) * max(1.0, net.chord_ratio) * scale * (1 + 1e-9) + 1e-6


def hilbert_key(xy: np.ndarray, bits: int = 16) -> tuple[np.ndarray, float]:
    """Hilbert-curve index of each point ``xy`` (n, 2) on a ``2**bits`` grid over the points' bounding square,
    and that grid's cell size (same unit as ``xy``). Vectorised over points, one step per bit: O(n bits).
    The index shifted right by ``2 k`` is the index of the ``2**k`` times coarser cell (prefix property)."""
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64), 1.0
    lo = xy.min(axis=0)
    side = 1 << bits
    span = max(float((xy.max(axis=0) - lo).max()), 1e-9)
    q = np.minimum(((xy - lo) / span * side).astype(np.int64), side - 1)
    x, y = q[:, 0], q[:, 1]
    h = np.zeros(len(xy), dtype=np.int64)
    s = side >> 1
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        h += s * s * ((3 * rx) ^ ry)
        turn = ry == 0
        flip = turn & (rx == 1)
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        x, y = np.where(turn, y, x), np.where(turn, x, y)
        s >>= 1
    return h, span / side


def hilbert_order(xy: np.ndarray, bits: int = 16) -> np.ndarray:
    """Indices that sort points ``xy`` (n, 2) along a Hilbert curve, so runs of consecutive points are compact."""
    return np.argsort(hilbert_key(xy, bits)[0], kind="stable")


def compact_chunks(xy: np.ndarray, chunk: int, cell_m: float, bits: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Split points ``xy`` (n, 2, metres) into spatially compact chunks: Hilbert order, cut where a point
    enters another Hilbert cell (side at least ``cell_m``, under twice that) and after every ``chunk`` points
    within a cell. Returns ``order`` (indices into ``xy``) and ``bounds`` (chunk ``i`` is
    ``order[bounds[i]:bounds[i + 1]]``). O(n log n)."""
    h, unit = hilbert_key(xy, bits)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    k = int(np.clip(np.ceil(np.log2(max(cell_m, 1e-9) / unit)), 0, bits))
    cell = hs >> (2 * k)
    n = len(hs)
    first = np.r_[True, cell[1:] != cell[:-1]] if n else np.zeros(0, bool)
    rank = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    return order, np.r_[np.flatnonzero(rank % chunk == 0), n].astype(np.int64)


def step_weights(minutes: np.ndarray, circle_min: float) -> np.ndarray:
    """E2SFCA distance-decay weight of each travel time (minutes) within a circle of ``circle_min``."""
    w = np.zeros(len(minutes))
    for share, weight in reversed(E2SFCA_STEPS):
        w[minutes <= share * circle_min] = weight
    return w


def fca(m: TravelMatrix, minutes: np.ndarray, supply: np.ndarray, population: np.ndarray, circle_min: float,
        enhanced: bool = False) -> np.ndarray:
    """2SFCA (or E2SFCA when ``enhanced``) accessibility per demand point: supply per resident.

    Parameters
    ----------
    m : travel matrix; ``minutes``: its pair times in minutes.
    supply : (n_fac,) capacity per facility (places, beds, m²); NaN counts as no supply.
    population : (n_dem,) persons at each demand point.
    circle_min : the catchment, minutes (pairs beyond it are ignored).

    Returns
    -------
    (n_dem,) supply per resident within reach; 0 where no facility is in reach, NaN off the network.
    """
    keep = minutes <= circle_min
    f, d, t = m.fac[keep], m.dem[keep], minutes[keep]
    w = step_weights(t, circle_min) if enhanced else np.ones(len(t))
    pop = np.asarray(population, dtype=np.float64)
    demand_j = np.bincount(f, weights=pop[d] * w, minlength=m.n_fac)
    s = np.nan_to_num(np.asarray(supply, dtype=np.float64), nan=0.0)
    ratio = np.divide(s, demand_j, out=np.zeros(m.n_fac), where=demand_j > 0)
    return np.bincount(d, weights=ratio[f] * w, minlength=m.n_dem).astype(np.float64)  # (int when no pair)


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



def candidate_reach(net: WalkNetwork, cand: Snapped, dem: Snapped, limit_m: float, chunk: int = 64,
                    index: DemandIndex | None = None, rates: EdgeRates | None = None) -> Reach:
    """Walking distances (metres) from each candidate to every demand point within ``limit_m``.

    Parameters
    ----------
    net : the walking network (metric CRS).
    cand : snapped candidate sites; candidates off the network reach nothing.
    dem : snapped demand points; points off the network are never reached.
    limit_m : search radius in metres (e.g. the circle's minutes x metres per minute).
    chunk : candidates per Dijkstra call.
    index : ``catchment.index_demand(net, dem)`` computed once, to reuse across calls with the same points.
    rates : per-direction edge costs (see :func:`travel_matrix`); ``dist_m`` is then in flat metres.

    Returns
    -------
    Reach with one entry per (candidate, demand point) pair at most ``limit_m`` apart.
    """
    m = travel_matrix(net, cand, dem, limit_m, chunk=chunk, index=index, rates=rates)
    return Reach(m.fac, m.dem, m.dist_m, (len(cand), len(dem)))
