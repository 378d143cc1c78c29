"""Travel times: exact against an independent networkx Dijkstra, and the properties every answer must have."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from access15.routing import nearest_facility
from access15.snap import snap_points


def _reference_distances(net, fac, dem):
    """networkx Dijkstra on the same streets with every attachment point inserted as a node of its edge."""
    g = nx.Graph()
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length):
        if u != v and (not g.has_edge(u, v) or g[u][v]["weight"] > w):
            g.add_edge(int(u), int(v), weight=float(w))
    # split every edge that carries attachment points into a chain u -> p1 -> p2 -> ... -> v
    stops = {}
    for kind, snap in (("f", fac), ("d", dem)):
        for i in np.flatnonzero(snap.ok):
            stops.setdefault(int(snap.edge[i]), []).append((float(snap.offset_m[i]), (kind, int(i)), float(snap.dist_m[i])))
    for e, pts in stops.items():
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        chain = [(0.0, u)] + [(t, ("at",) + key) for t, key, _ in sorted(pts)] + [(length, v)]
        for (t0, a), (t1, b) in zip(chain[:-1], chain[1:]):
            w = max(t1 - t0, 0.0)
            if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
                g.add_edge(a, b, weight=w)
        for t, key, leg in pts:
            g.add_edge(key, ("at",) + key, weight=leg)
    sources = [("f", int(i)) for i in np.flatnonzero(fac.ok)]
    dist = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
    return np.array([dist.get(("d", int(i)), np.inf) if dem.ok[i] else np.nan for i in range(len(dem))])


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_networkx_on_real_network(helsinki_network, seed):
    net = helsinki_network
    rng = np.random.default_rng(seed)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    fac = snap_points(net, rng.uniform(lo, hi, size=(6, 2)))
    dem = snap_points(net, rng.uniform(lo, hi, size=(300, 2)))
    # force some demand onto facility edges, to exercise the along-the-edge case
    shapely_pts = shapely.line_interpolate_point(net.edge_geometry[fac.edge[:3]], 0.3, normalized=True)
    dem_xy = np.vstack([rng.uniform(lo, hi, size=(300, 2)), shapely.get_coordinates(shapely_pts) + 3.0])
    dem = snap_points(net, dem_xy)
    got = nearest_facility(net, fac, dem).dist_m
    want = _reference_distances(net, fac, dem)
    finite = np.isfinite(want)
    assert finite.sum() > 250
    speed = 4000 / 3600  # m/s: 1 s of walking
    np.testing.assert_allclose(got[finite], want[finite], atol=speed * 1.0)
    assert np.array_equal(np.isnan(got), np.isnan(want))


def test_nearest_facility_index_is_the_closest(helsinki_network):
    net = helsinki_network
    rng = np.random.default_rng(3)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    fac = snap_points(net, rng.uniform(lo, hi, size=(5, 2)))
    dem = snap_points(net, rng.uniform(lo, hi, size=(200, 2)))
    res = nearest_facility(net, fac, dem)
    each = np.column_stack([nearest_facility(net, fac.take(np.array([j])), dem).dist_m for j in range(5)])
    ok = np.isfinite(res.dist_m)
    np.testing.assert_allclose(res.dist_m[ok], each[ok].min(axis=1))
    np.testing.assert_allclose(each[ok, res.facility[ok]], res.dist_m[ok])


def test_limit_and_unreachable(helsinki_network):
    net = helsinki_network
    lo = net.node_xy.min(axis=0)
    fac = snap_points(net, net.node_xy[:1])
    far = lo - 5_000  # 5 km outside the extract: not snapped
    dem = snap_points(net, np.vstack([net.node_xy[::50], far]))
    assert not dem.ok[-1] and np.isnan(dem.dist_m[-1])
    full = nearest_facility(net, fac, dem)
    capped = nearest_facility(net, fac, dem, limit_m=300)
    assert np.isnan(full.dist_m[-1]) and np.isnan(capped.dist_m[-1])
    inside = full.dist_m <= 300
    np.testing.assert_allclose(capped.dist_m[inside], full.dist_m[inside])
    assert np.isinf(capped.dist_m[(full.dist_m > 300) & np.isfinite(full.dist_m)]).all()
    assert (capped.facility[np.isinf(capped.dist_m)] == -1).all()


def test_no_facilities_means_no_coverage(helsinki_network):
    net = helsinki_network
    empty = snap_points(net, np.empty((0, 2)))
    dem = snap_points(net, net.node_xy[:10])
    res = nearest_facility(net, empty, dem)
    assert np.isinf(res.dist_m).all() and (res.facility == -1).all()


def test_snap_is_to_the_nearest_point_on_an_edge(helsinki_network):
    net = helsinki_network
    rng = np.random.default_rng(7)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xy = rng.uniform(lo, hi, size=(500, 2))
    s = snap_points(net, xy, max_snap_m=500, prefer_main=False)
    pts = shapely.points(xy)
    # the reported leg is the distance to the attachment point and to the whole network
    np.testing.assert_allclose(s.dist_m[s.ok], np.hypot(*(xy[s.ok] - s.xy[s.ok]).T), atol=1e-6)
    nearest = net.tree.query_nearest(pts, return_distance=True, all_matches=False)[1]
    np.testing.assert_allclose(s.dist_m[s.ok], nearest[s.ok], atol=1e-6)
    node_d = np.min(np.hypot(*(xy[:, None, :] - net.node_xy[None, ::1, :]).transpose(2, 0, 1)), axis=1)
    assert (s.dist_m[s.ok] <= node_d[s.ok] + 1e-6).all()  # never farther than the nearest node


def test_nearest_edges_agree_with_geos_nearest_search(porto_alegre_network):
    """The node-bounded search finds, for every point, an edge at exactly GEOS's nearest distance, the same
    edge wherever the nearest is unique, the lowest index among ties (junctions), and the same points beyond
    the limit."""
    from access15.snap import nearest_edges

    net = porto_alegre_network
    rng = np.random.default_rng(11)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    xy = np.concatenate([rng.uniform(lo - 800, hi + 800, size=(20000, 2)),  # beyond the limit too
                         net.node_xy[:2000],  # on junctions: ties between the streets meeting there
                         net.node_xy[:500] + 0.001])
    pts = shapely.points(xy)
    pi, ei, d = nearest_edges(net, pts, xy, 300.0)
    (gi, ge), gd = net.tree.query_nearest(pts, max_distance=300.0, return_distance=True, all_matches=True)
    np.testing.assert_array_equal(pi, np.unique(gi))  # the same points within the limit
    assert np.diff(pi).min() > 0
    best = pd.DataFrame({"p": gi, "e": ge, "d": gd}).groupby("p").agg(d=("d", "min"), e=("e", "min"), k=("e", "size"))
    np.testing.assert_array_equal(d, best["d"].to_numpy())  # exactly GEOS's nearest distance
    np.testing.assert_array_equal(ei, best["e"].to_numpy())  # the lowest index among edges that near
    assert (best["k"] > 1).sum() > 1000 and (best["k"] == 1).sum() > 10000  # many ties, many unique


def test_points_on_small_pieces_also_join_the_main_piece(porto_alegre_network):
    """Porto Alegre has dozens of small disconnected pieces; points on them keep their own street and, when the
    main network is within the snap limit, also join it (a second attachment), so they are never stranded."""
    net = porto_alegre_network
    minor = np.flatnonzero(net.component[net.edge_u] > 0)
    assert len(minor) > 10
    mid = shapely.get_coordinates(shapely.line_interpolate_point(net.edge_geometry[minor], 0.5, normalized=True))
    plain = snap_points(net, mid, 500, prefer_main=False)
    both = snap_points(net, mid, 500)
    assert (net.component[net.edge_u[plain.edge[plain.ok]]] > 0).all()
    np.testing.assert_array_equal(both.edge, plain.edge)            # the street each stands on
    near_main = net.main_tree.query_nearest(shapely.points(mid), max_distance=500, all_matches=False)[0]
    assert (both.alt_edge[near_main] >= 0).all() and (both.alt_edge[np.setdiff1d(np.arange(len(mid)), near_main)] < 0).all()
    assert (net.component[net.edge_u[both.alt_edge[near_main]]] == 0).all()
    assert (both.alt_dist_m[near_main] >= plain.dist_m[near_main] - 1e-9).all()


def test_a_point_uses_the_street_it_stands_on_even_on_a_small_network_piece(porto_alegre_network):
    """A clinic 3 m from a street of a small disconnected piece (a compound's paths) is reached along that street
    by its neighbour, not via the main network 100-400 m away; and a point on the main network still reaches it
    through its second attachment. (Joining every point to the main piece alone gave such neighbours 23 minutes
    instead of 3 on a real extract.)"""
    import shapely

    from access15.snap import snap_points

    net = porto_alegre_network
    minor = np.flatnonzero(net.component[net.edge_u] != 0)
    mids = shapely.line_interpolate_point(net.edge_geometry[minor], 0.5, normalized=True)
    (qi, _), gap = net.main_tree.query_nearest(mids, return_distance=True, all_matches=False)
    pick = [(minor[q], g) for q, g in zip(qi, gap) if 120 < g < 400 and net.edge_length[minor[q]] > 100]
    assert pick, "the demo extract has small pieces near the main network"
    e, g = pick[0]
    line = net.edge_geometry[e]

    def beside(fraction: float, metres: float) -> np.ndarray:
        """A point ``metres`` to the side of the edge at ``fraction`` of its length."""
        a = np.asarray(shapely.line_interpolate_point(line, fraction - 0.01, normalized=True).coords[0])
        b = np.asarray(shapely.line_interpolate_point(line, fraction + 0.01, normalized=True).coords[0])
        n = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
        return (a + b) / 2 + metres * n

    clinic = snap_points(net, beside(0.3, 3.0)[None, :], 500)
    assert clinic.edge[0] == e and clinic.alt_edge[0] >= 0 and abs(clinic.dist_m[0] - 3.0) < 0.5
    main_xy = shapely.get_coordinates(net.edge_geometry[clinic.alt_edge[0]])[1]
    homes = snap_points(net, np.array([beside(0.7, 5.0), main_xy]), 500)
    res = nearest_facility(net, clinic, homes)
    along = 0.4 * net.edge_length[e] + 3.0 + 5.0
    assert res.dist_m[0] <= along + 1.0          # the neighbour walks along its own street ...
    via_main = clinic.alt_dist_m[0] + homes.alt_dist_m[0]  # ... where joining the main piece alone made both
    assert via_main > 2 * 100 and res.dist_m[0] < via_main  # walk out to it (the old rule: minutes, not metres)
    assert np.isfinite(res.dist_m[1]) and res.facility[1] == 0   # the main network reaches the clinic too
    # the bounded search (siting, 2SFCA) gives the same distances
    from access15.catchment import travel_matrix

    m = travel_matrix(net, clinic, homes, 5000.0)
    np.testing.assert_allclose(np.sort(m.dist_m), np.sort(res.dist_m), rtol=0, atol=1e-6)


@pytest.mark.parametrize("cheap", [1.0, 0.6])
def test_dropping_facilities_that_cannot_reach_changes_nothing(helsinki_network, cheap):
    """may_reach keeps every facility that can reach a demand point within the limit: a search over the kept
    facilities gives the same distances and nearest facilities as over all, also where walking costs less than
    flat (rates of 0.6, as downhill everywhere: the bound widens by 1/0.6), and in both directions."""
    from access15.routing import EdgeRates, may_reach

    net = helsinki_network
    rng = np.random.default_rng(7)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    fac = snap_points(net, rng.uniform(lo, hi, size=(20, 2)))  # sparse: the nearest is often near the limit
    rates = EdgeRates(rng.uniform(cheap, cheap * 1.05, net.n_edges), rng.uniform(cheap, cheap * 1.05, net.n_edges))
    dropped = reached = 0
    for _trial in range(10):  # a local cluster of demand points (what a closure re-routes)
        dem = snap_points(net, rng.uniform(lo, hi) + rng.normal(0, 30, size=(40, 2)))
        for limit in (300.0, 600.0):
            keep = may_reach(fac, dem, limit, rates)
            full = nearest_facility(net, fac, dem, limit_m=limit, rates=rates)
            part = nearest_facility(net, fac.take(np.flatnonzero(keep)), dem, limit_m=limit, rates=rates)
            np.testing.assert_array_equal(part.dist_m, full.dist_m)
            got = np.where(part.facility >= 0, np.flatnonzero(keep)[np.maximum(part.facility, 0)], -1)
            np.testing.assert_array_equal(got, full.facility)
            dropped += len(fac) - keep.sum()
            reached += np.isfinite(full.dist_m).sum()
    assert dropped > 0 and reached > 0  # the filter did drop facilities, and the searches reached some points
    assert may_reach(fac, dem, np.inf, rates).all()
