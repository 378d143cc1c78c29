"""The routing stage side by side: access15 against the usual Python alternatives, on one problem.

The problem (the one every method can state): on the same undirected graph (the access15 network, parallel
edges reduced to the shortest, self-loops dropped), with each facility placed on its nearest network node
(as the osmnx pattern does), give every node its walking distance (metres) to the nearest facility of the
category within the category's circle (``minutes * speed``); farther is "none".

Methods and what "agree" means:

- ``access15``: :func:`access15.routing.nearest_facility` (one scipy csgraph Dijkstra from a virtual source),
  facilities and demand given as points sitting on nodes. Reference.
- ``nx_multi_source``: ``networkx.multi_source_dijkstra_path_length(cutoff=...)``. Exact: every distance
  within 1e-6 m of access15 and the same reached set.
- ``nx_ego_graph``: the osmnx tutorial pattern, ``networkx.ego_graph(G, facility, radius=circle,
  distance="length")`` per facility, union of the node sets. Gives coverage only (no distances). Exact:
  the covered node set equals access15's ``distance <= circle`` set, except nodes within 1e-6 m of the
  circle (floating-point summation order).
- ``pandana``: ``Network.nearest_pois`` (contraction hierarchies, C++). Exact method, but distances pass
  through single precision: agree when every distance is within 1 m ("to the metre") and the reached
  sets are equal except within 1 m of the circle.
- ``cityseer``: ``layers.compute_accessibilities`` (Rust), nearest distance per node. Data points are
  attached to the two ends of their nearest street by a straight line, so on curved edges its distance can
  be shorter than the network distance: agree when >= 99 % of nodes are within 1 m, reached sets equal except
  within the largest such deviation of the circle, and cityseer is never longer by more than 1 m.

Each method's time covers the query for every category; one-off setup (building the networkx graph, the
pandana contraction hierarchy, the cityseer structure) is reported separately.
"""

from __future__ import annotations

import importlib.metadata
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from access15.network import WalkNetwork
from access15.routing import nearest_facility
from access15.snap import Snapped


@dataclass
class PeerResult:
    """One method's outcome: query seconds (all categories), setup seconds, agreement and a note."""

    method: str
    version: str
    seconds: float | None = None
    setup_s: float | None = None
    agree: bool | None = None
    detail: str = ""
    extrapolated: bool = False
    per_category: dict = field(default_factory=dict)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def node_points(net: WalkNetwork, nodes: np.ndarray) -> Snapped:
    """Points sitting exactly on the given nodes, expressed as access15 snaps (offset 0 or the edge length)."""
    inc = np.full(net.n_nodes, -1, dtype=np.int64)
    e = np.arange(net.n_edges)
    inc[net.edge_v] = e
    inc[net.edge_u] = e  # any incident edge will do
    edge = inc[nodes]
    at_u = net.edge_u[edge] == nodes
    offset = np.where(at_u, 0.0, net.edge_length[edge])
    return Snapped(edge, offset, np.zeros(len(nodes)), net.node_xy[nodes])


@dataclass
class Problem:
    """Facility nodes per category, circle radius per category (metres), and the graph as unique edges."""

    net: WalkNetwork
    sources: dict[str, np.ndarray]
    radius_m: dict[str, float]
    u: np.ndarray
    v: np.ndarray
    w: np.ndarray


def make_problem(net: WalkNetwork, fac_xy: np.ndarray, fac_cat: np.ndarray, radius_m: dict[str, float]) -> Problem:
    """Place facilities (network CRS) on their nearest nodes; keep categories that have one."""
    _, near = cKDTree(net.node_xy).query(fac_xy)
    sources = {c: np.unique(near[fac_cat == c]) for c in radius_m if (fac_cat == c).any()}
    g = net.graph.tocoo()
    up = g.row < g.col
    return Problem(net, sources, {c: radius_m[c] for c in sources}, g.row[up], g.col[up], g.data[up])


def run_access15(p: Problem) -> tuple[PeerResult, dict[str, np.ndarray]]:
    """Reference distances (metres, inf beyond the circle) per category."""
    dem = node_points(p.net, np.arange(p.net.n_nodes))
    _ = p.net.graph
    out, res = {}, PeerResult("access15", _version("scipy") + " (scipy)")
    t0 = time.perf_counter()
    for c, src in p.sources.items():
        t = time.perf_counter()
        out[c] = nearest_facility(p.net, node_points(p.net, src), dem, limit_m=p.radius_m[c]).dist_m
        res.per_category[c] = time.perf_counter() - t
    res.seconds = time.perf_counter() - t0
    res.agree = True
    return res, out


def _compare_exact(ref: np.ndarray, got: np.ndarray, radius: float, tol: float) -> tuple[bool, tuple[float, int]]:
    fin_r, fin_g = np.isfinite(ref), np.isfinite(got)
    edge = np.abs(ref - radius) <= tol  # may fall either side of the circle
    set_diff = int(((fin_r != fin_g) & ~(edge | (np.abs(got - radius) <= tol))).sum())
    both = fin_r & fin_g
    err = float(np.max(np.abs(ref[both] - got[both]))) if both.any() else 0.0
    return set_diff == 0 and err <= tol, (err, set_diff)


def _exact_note(notes: list[tuple[float, int]]) -> str:
    """One line for all categories: the largest difference and the nodes reached by one method only."""
    return (f"max abs diff {max(n[0] for n in notes):.1e} m; {sum(n[1] for n in notes)} nodes reached by one "
            "method only")


def run_networkx(p: Problem, ref: dict[str, np.ndarray], ego_max_sources: int | None) -> list[PeerResult]:
    """networkx multi-source Dijkstra (exact distances) and the ego_graph-per-facility pattern (coverage)."""
    import networkx as nx

    ver = _version("networkx")
    t = time.perf_counter()
    G = nx.Graph()
    G.add_nodes_from(range(p.net.n_nodes))
    G.add_weighted_edges_from(zip(p.u.tolist(), p.v.tolist(), p.w.tolist()), weight="length")
    setup = time.perf_counter() - t

    ms = PeerResult("nx_multi_source_dijkstra", ver, setup_s=setup, agree=True)
    t0, notes = time.perf_counter(), []
    for c, src in p.sources.items():
        t = time.perf_counter()
        d = nx.multi_source_dijkstra_path_length(G, set(src.tolist()), cutoff=p.radius_m[c], weight="length")
        ms.per_category[c] = time.perf_counter() - t
        got = np.full(p.net.n_nodes, np.inf)
        got[np.fromiter(d.keys(), np.int64, len(d))] = np.fromiter(d.values(), np.float64, len(d))
        ok, note = _compare_exact(ref[c], got, p.radius_m[c], 1e-6)
        ms.agree &= ok
        notes.append(note)
    ms.seconds = time.perf_counter() - t0
    ms.detail = _exact_note(notes)

    ego = PeerResult("nx_ego_graph_per_facility", ver, setup_s=setup, agree=True)
    t0, notes, total = time.perf_counter(), [], 0.0
    for c, src in p.sources.items():
        use = src if ego_max_sources is None or len(src) <= ego_max_sources else \
            np.random.default_rng(0).choice(src, ego_max_sources, replace=False)
        t = time.perf_counter()
        covered = np.zeros(p.net.n_nodes, dtype=bool)
        for s in use.tolist():
            covered[list(nx.ego_graph(G, s, radius=p.radius_m[c], distance="length").nodes)] = True
        dt = time.perf_counter() - t
        scale = len(src) / len(use)
        ego.per_category[c] = dt * scale
        total += dt * scale
        if len(use) == len(src):
            r = ref[c]
            wrong = int((covered != (r <= p.radius_m[c]) & ~(np.abs(r - p.radius_m[c]) <= 1e-6)).sum())
            ego.agree &= wrong == 0
            notes.append(f"{c}: {wrong} nodes covered differently")
        else:
            ego.extrapolated = True
            # a sample of facilities covers a subset of the reference coverage, never more
            extra = int((covered & ~(ref[c] <= p.radius_m[c] + 1e-6)).sum())
            ego.agree &= extra == 0
            notes.append(f"{c}: {len(use)} of {len(src):,} facilities timed, {extra} nodes covered beyond access15")
    ego.seconds = total
    ego.detail = "; ".join(notes)
    return [ms, ego]


def run_pandana(p: Problem, ref: dict[str, np.ndarray]) -> PeerResult:
    """pandana nearest_pois on a contraction hierarchy."""
    res = PeerResult("pandana_nearest_pois", _version("pandana"))
    try:
        import pandana
        import pandas as pd
    except Exception as exc:  # noqa: BLE001 - report why it is missing, keep benchmarking
        res.detail = f"not available ({exc})"
        return res
    xy = p.net.node_xy
    t = time.perf_counter()
    net = pandana.Network(pd.Series(xy[:, 0]), pd.Series(xy[:, 1]), pd.Series(p.u), pd.Series(p.v),
                          pd.DataFrame({"length": p.w}), twoway=True)
    radius = max(p.radius_m.values())
    net.precompute(radius + 1)
    res.setup_s = time.perf_counter() - t
    for c, src in p.sources.items():
        net.set_pois(c, maxdist=radius + 1, maxitems=1, x_col=pd.Series(xy[src, 0]), y_col=pd.Series(xy[src, 1]))
    res.agree, notes, t0 = True, [], time.perf_counter()
    for c in p.sources:
        t = time.perf_counter()
        d = net.nearest_pois(p.radius_m[c], c, num_pois=1, max_distance=np.inf)
        res.per_category[c] = time.perf_counter() - t
        got = np.full(p.net.n_nodes, np.inf)
        got[d.index.to_numpy()] = d[1].to_numpy(dtype=np.float64)
        got[got > p.radius_m[c]] = np.inf
        ok, note = _compare_exact(ref[c], got, p.radius_m[c], 1.0)
        res.agree &= ok
        notes.append(note)
    res.seconds = time.perf_counter() - t0
    res.detail = _exact_note(notes)
    return res


def run_cityseer(p: Problem, ref: dict[str, np.ndarray], live_sample: int | None = None) -> PeerResult:
    """cityseer compute_accessibilities (nearest distance per node).

    cityseer searches outward from every "live" node, so its cost grows with the number of nodes times the
    nodes within the circle. With ``live_sample``, only that many random nodes are live: the time is scaled
    by nodes / sample (marked extrapolated) and agreement is checked on the sampled nodes."""
    res = PeerResult("cityseer_accessibility", _version("cityseer"))
    try:
        import geopandas as gpd
        import shapely
        from cityseer.metrics import layers
        from cityseer.tools import io
    except Exception as exc:  # noqa: BLE001
        res.detail = f"not available ({exc})"
        return res
    import logging

    from cityseer import config as cs_config

    cs_config.QUIET_MODE = True  # no progress bars
    logging.getLogger("cityseer").setLevel(logging.WARNING)
    import networkx as nx

    xy = p.net.node_xy
    t = time.perf_counter()
    G = nx.MultiGraph(crs=p.net.crs.to_epsg())
    live = np.ones(p.net.n_nodes, dtype=bool)
    if live_sample is not None and live_sample < p.net.n_nodes:
        live[:] = False
        live[np.random.default_rng(0).choice(p.net.n_nodes, live_sample, replace=False)] = True
        res.extrapolated = True
    G.add_nodes_from((str(i), {"x": x, "y": y, "live": bool(lv)})
                     for i, (x, y, lv) in enumerate(zip(xy[:, 0].tolist(), xy[:, 1].tolist(), live.tolist())))
    geoms = _edge_geoms(p)  # the real polylines: cityseer measures edge length from the geometry
    G.add_edges_from((str(a), str(b), {"geom": g}) for a, b, g in zip(p.u, p.v, geoms))
    nodes_gdf, _, ns = io.network_structure_from_nx(G)
    res.setup_s = time.perf_counter() - t
    src_all = np.concatenate(list(p.sources.values()))
    cat_all = np.concatenate([[c] * len(s) for c, s in p.sources.items()])
    data = gpd.GeoDataFrame({"cat": cat_all}, geometry=shapely.points(xy[src_all]), crs=p.net.crs)
    res.agree, notes = True, []
    for c in p.sources:
        t = time.perf_counter()
        r = int(np.ceil(p.radius_m[c]))
        out = layers.compute_accessibilities(data[data["cat"] == c], "cat", [c], nodes_gdf.copy(), ns,
                                             max_netw_assign_dist=1.0, distances=[r], decay_fn="1")
        res.per_category[c] = (time.perf_counter() - t) * p.net.n_nodes / live.sum()
        col = out[f"cc_{c}_nearest_max_{r}"]
        got = np.full(p.net.n_nodes, np.inf)
        got[col.index.astype(np.int64).to_numpy()] = col.to_numpy(dtype=np.float64)
        got[~np.isfinite(got) | (got > p.radius_m[c])] = np.inf
        got, rc = got[live], ref[c][live]
        both = np.isfinite(rc) & np.isfinite(got)
        diff = got[both] - rc[both]
        within = float(np.mean(np.abs(diff) <= 1.0)) if both.any() else 1.0
        dev = float(np.max(np.abs(diff))) if both.any() else 0.0
        edge = np.abs(rc - p.radius_m[c]) <= max(dev, 1.0)
        set_diff = int(((np.isfinite(rc) != np.isfinite(got)) & ~edge).sum())
        longer = float(diff.max()) if both.any() else 0.0
        ok = within >= 0.99 and set_diff == 0 and longer <= 1.0
        res.agree &= ok
        notes.append((within, dev, longer, set_diff))
    res.seconds = sum(res.per_category.values())
    res.detail = (f"{min(n[0] for n in notes):.2%} of nodes within 1 m; max abs diff {max(n[1] for n in notes):.1e} m;"
                  f" never longer by more than {max(n[2] for n in notes):.2f} m; {sum(n[3] for n in notes)} nodes "
                  "reached by one method only")
    if res.extrapolated:
        res.detail += f"; {int(live.sum()):,} of {p.net.n_nodes:,} nodes searched, time scaled"
    return res


def _edge_geoms(p: Problem) -> np.ndarray:
    """Each unique graph edge's shortest polyline (oriented u -> v), for peers that read geometry."""
    net = p.net
    keep = net.edge_u != net.edge_v
    e = np.flatnonzero(keep)
    a, b = np.minimum(net.edge_u[e], net.edge_v[e]), np.maximum(net.edge_u[e], net.edge_v[e])
    order = np.lexsort((net.edge_length[e], b, a))
    e, a, b = e[order], a[order], b[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    e, a, b = e[first], a[first], b[first]
    pos = np.lexsort((b, a))
    # p.u < p.v and are sorted by (row, col) from the CSR, as are (a, b) after lexsort
    assert np.array_equal(a[pos], p.u) and np.array_equal(b[pos], p.v), "edge order mismatch"
    import shapely

    geoms = net.edge_geometry[e[pos]]
    flip = net.edge_u[e[pos]] != p.u
    geoms[flip] = shapely.reverse(geoms[flip])
    return geoms
