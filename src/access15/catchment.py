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

Complexity: F limited Dijkstra runs, O(F (N + E) log N) worst case, in chunks of ``chunk`` sources so memory
stays O(chunk x N); the ratios are two sparse sums, O(pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from .network import WalkNetwork
from .snap import Snapped

#: E2SFCA steps: (share of the circle, weight), after Luo & Qi (2009): 1.00, 0.68, 0.22.
E2SFCA_STEPS = ((1 / 3, 1.0), (2 / 3, 0.68), (1.0, 0.22))


@dataclass
class TravelMatrix:
    """Sparse facility x demand travel distances (metres) within a limit: pair k joins facility
    ``fac[k]`` (index into the facilities given) and demand point ``dem[k]`` at ``dist_m[k]``."""

    fac: np.ndarray
    dem: np.ndarray
    dist_m: np.ndarray
    n_fac: int
    n_dem: int


def travel_matrix(net: WalkNetwork, fac: Snapped, dem: Snapped, limit_m: float, chunk: int = 64) -> TravelMatrix:
    """All facility -> demand network distances up to ``limit_m`` metres (access legs included)."""
    F, N = len(fac), net.n_nodes
    fok = np.flatnonzero(fac.ok)
    dok = np.flatnonzero(dem.ok)
    out_f, out_d, out_t = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    if len(fok) and len(dok):
        e = fac.edge[fok]
        # one virtual node per facility (N + k), with edges out to both ends of its edge
        rows = np.repeat(N + np.arange(len(fok)), 2)
        cols = np.column_stack([net.edge_u[e], net.edge_v[e]]).ravel()
        cost = np.column_stack([fac.dist_m[fok] + fac.offset_m[fok],
                                fac.dist_m[fok] + net.edge_length[e] - fac.offset_m[fok]]).ravel()
        g = net.graph.tocoo()
        big = sparse.csr_matrix((np.r_[g.data, np.maximum(cost, 1e-9)], (np.r_[g.row, rows], np.r_[g.col, cols])),
                                shape=(N + len(fok), N + len(fok)))
        de = dem.edge[dok]
        a, b = net.edge_u[de], net.edge_v[de]
        off, rest = dem.offset_m[dok], net.edge_length[de] - dem.offset_m[dok]
        leg = dem.dist_m[dok]
        for s in range(0, len(fok), chunk):
            src = N + np.arange(s, min(s + chunk, len(fok)))
            d = csgraph.dijkstra(big, directed=True, indices=src, limit=limit_m)[:, :N]
            t = np.minimum(d[:, a] + off, d[:, b] + rest) + leg
            fi, di = np.nonzero(t <= limit_m)
            out_f.append(fok[s + fi])
            out_d.append(dok[di])
            out_t.append(t[fi, di])
        # facility and demand point on the same edge: the direct walk along it may be shorter
        same = pd.DataFrame({"edge": de, "d": dok, "t": off, "ld": leg}).merge(
            pd.DataFrame({"edge": e, "f": fok, "tf": fac.offset_m[fok], "lf": fac.dist_m[fok]}), on="edge")
        if len(same):
            direct = (np.abs(same["t"] - same["tf"]) + same["lf"] + same["ld"]).to_numpy()
            out_f.append(same["f"].to_numpy()[direct <= limit_m])
            out_d.append(same["d"].to_numpy()[direct <= limit_m])
            out_t.append(direct[direct <= limit_m])
    f, d, t = np.concatenate(out_f), np.concatenate(out_d), np.concatenate(out_t)
    # keep the shortest time per pair (the same-edge walk may duplicate a network pair)
    order = np.lexsort((t, d, f))
    f, d, t = f[order], d[order], t[order]
    first = np.r_[True, (f[1:] != f[:-1]) | (d[1:] != d[:-1])] if len(f) else np.zeros(0, bool)
    return TravelMatrix(f[first], d[first], t[first], F, len(dem))


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
