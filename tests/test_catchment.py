"""2SFCA / E2SFCA over network travel times, validated against PySAL's ``access`` package."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import shapely

from access15.catchment import fca, step_weights, travel_matrix
from access15.routing import nearest_facility
from access15.snap import snap_points


@pytest.fixture(scope="module")
def clinic_matrix(demo_result):
    """The demo's clinics (capacity = real healthcare counts) and its populated demand cells."""
    net = demo_result.network
    fac = demo_result.facilities[demo_result.facilities["category"] == "clinic"].reset_index(drop=True)
    dem = demo_result.demand[demo_result.demand["weight"] > 0].reset_index(drop=True)
    fs = snap_points(net, shapely.get_coordinates(fac.geometry.values), 500.0)
    ds = snap_points(net, shapely.get_coordinates(dem.geometry.values), 500.0)
    speed = demo_result.config.speed_m_per_min
    m = travel_matrix(net, fs, ds, 15 * speed)
    return net, fac, dem, fs, ds, m, speed


def test_matrix_agrees_with_nearest_facility(clinic_matrix):
    net, fac, dem, fs, ds, m, speed = clinic_matrix
    assert len(m.fac) > 1000
    best = np.full(m.n_dem, np.inf)
    np.minimum.at(best, m.dem, m.dist_m)
    near = nearest_facility(net, fs, ds, 15 * speed).dist_m
    np.testing.assert_array_equal(np.isinf(best), np.isinf(near))
    ok = np.isfinite(near)
    np.testing.assert_allclose(best[ok], near[ok], rtol=0, atol=1e-6)


@pytest.mark.parametrize("enhanced", [False, True])
def test_fca_equals_pysal_access(clinic_matrix, enhanced):
    from access import Access, weights

    net, fac, dem, fs, ds, m, speed = clinic_matrix
    minutes = m.dist_m / speed
    supply = fac["capacity"].to_numpy(float)
    pop = dem["weight"].to_numpy(float)
    ours = fca(m, minutes, supply, pop, 15.0, enhanced=enhanced)

    demand_df = pd.DataFrame({"pop": pop}, index=pd.Index(np.arange(m.n_dem), name="geoid"))
    supply_df = pd.DataFrame({"cap": supply}, index=pd.Index(np.arange(m.n_fac), name="geoid"))
    cost_df = pd.DataFrame({"origin": m.dem, "dest": m.fac, "minutes": minutes})
    acc = Access(demand_df=demand_df, demand_index=True, demand_value="pop", supply_df=supply_df,
                 supply_index=True, supply_value="cap", cost_df=cost_df, cost_origin="origin", cost_dest="dest",
                 cost_name="minutes")
    if enhanced:
        fn = weights.step_fn({5.0: 1.0, 10.0: 0.68, 15.0: 0.22})
        theirs = acc.enhanced_two_stage_fca(name="e2sfca", max_cost=15.0, weight_fn=fn)["e2sfca_cap"]
    else:
        theirs = acc.two_stage_fca(name="2sfca", max_cost=15.0)["2sfca_cap"]
    theirs = theirs.reindex(np.arange(m.n_dem)).to_numpy()
    reached = np.isfinite(theirs)
    assert reached.sum() > 1000
    np.testing.assert_allclose(ours[reached], theirs[reached], rtol=1e-12, atol=1e-15)
    assert (ours[~reached] == 0).all()  # PySAL leaves unreached points empty; we report zero supply
    # the 2SFCA identity: residents x accessibility sums to the supply of facilities that serve anyone
    served = np.bincount(m.fac[minutes <= 15.0], minlength=m.n_fac) > 0
    if not enhanced:
        assert (ours * pop).sum() == pytest.approx(supply[served].sum(), rel=1e-9)


def test_step_weights():
    np.testing.assert_array_equal(step_weights(np.array([0, 5, 5.01, 10, 10.5, 15, 15.1]), 15.0),
                                  [1, 1, 0.68, 0.68, 0.22, 0.22, 0])


# --- the per-chunk subnetwork search equals the whole-network search ----------------------------------------

def _reference_travel_matrix(net, fac, dem, limit_m, chunk=64):
    """The previous implementation, kept here only as the reference: every chunk of facilities searched the
    WHOLE network (dense chunk x N rows). The new one must give the same pairs and distances. Points with two
    attachments (their own street on a small piece, and the main network) count from both: each attachment is
    searched as a point of its own, and a pair keeps its shortest distance."""
    from scipy import sparse
    from scipy.sparse import csgraph

    from access15.catchment import TravelMatrix

    F, N, n_dem = len(fac), net.n_nodes, len(dem)
    fac, fown = fac.attachments()
    dem, down = dem.attachments()
    fok = np.flatnonzero(fac.ok)
    dok = np.flatnonzero(dem.ok)
    out_f, out_d, out_t = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    if len(fok) and len(dok):
        e = fac.edge[fok]
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
        same = pd.DataFrame({"edge": de, "d": dok, "t": off, "ld": leg}).merge(
            pd.DataFrame({"edge": e, "f": fok, "tf": fac.offset_m[fok], "lf": fac.dist_m[fok]}), on="edge")
        if len(same):
            direct = (np.abs(same["t"] - same["tf"]) + same["lf"] + same["ld"]).to_numpy()
            out_f.append(same["f"].to_numpy()[direct <= limit_m])
            out_d.append(same["d"].to_numpy()[direct <= limit_m])
            out_t.append(direct[direct <= limit_m])
    f, d, t = np.concatenate(out_f), np.concatenate(out_d), np.concatenate(out_t)
    f, d = fown[f], down[d]
    order = np.lexsort((t, d, f))
    f, d, t = f[order], d[order], t[order]
    first = np.r_[True, (f[1:] != f[:-1]) | (d[1:] != d[:-1])] if len(f) else np.zeros(0, bool)
    return TravelMatrix(f[first], d[first], t[first], F, n_dem)


def _assert_same_matrix(new, ref, min_pairs):
    assert len(ref.fac) >= min_pairs
    assert (new.n_fac, new.n_dem) == (ref.n_fac, ref.n_dem)
    np.testing.assert_array_equal(new.fac, ref.fac)
    np.testing.assert_array_equal(new.dem, ref.dem)
    np.testing.assert_allclose(new.dist_m, ref.dist_m, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def demo_points(demo_result):
    """Every demo facility (clinics, schools, fitness) and every demand cell, snapped; every 97th cell is
    marked unsnapped (``edge == -1``, as a cell beyond ``max_snap_m`` would be) and must get no pair."""
    from access15.snap import Snapped

    net = demo_result.network
    fs = snap_points(net, shapely.get_coordinates(demo_result.facilities.geometry.values), 500.0)
    ds = snap_points(net, shapely.get_coordinates(demo_result.demand.geometry.values), 500.0)
    off = np.zeros(len(ds), bool)
    off[::97] = True
    ds = Snapped(np.where(off, -1, ds.edge), ds.offset_m, ds.dist_m, ds.xy)
    return net, fs, ds


@pytest.mark.parametrize("limit_m,chunk", [(667.0, 64), (1000.0, 7), (2500.0, 64)])
def test_subnetwork_matrix_equals_whole_network_search(demo_points, limit_m, chunk):
    net, fs, ds = demo_points
    new = travel_matrix(net, fs, ds, limit_m, chunk=chunk)
    assert not np.isin(new.dem, np.flatnonzero(~ds.ok)).any()
    ref = _reference_travel_matrix(net, fs, ds, limit_m)
    _assert_same_matrix(new, ref, min_pairs=15_000)


def test_edges_shorter_than_their_chord_widen_the_search(demo_points):
    """Lengths below the straight line between the end nodes (e.g. supplied by a road layer) break the
    Euclidean bound; the reach radius grows by the worst ratio and the matrix stays exact."""
    import dataclasses

    from access15.catchment import reach_radius

    net, fs, ds = demo_points
    assert reach_radius(net, 1000.0) == pytest.approx(1000.0, abs=1e-3)  # real lengths: the bound is tight
    short = dataclasses.replace(net, edge_length=net.edge_length * 0.5, info={})
    assert reach_radius(short, 1000.0) >= 2000.0
    sf, sd = fs.take(np.arange(0, len(fs), 3)), ds.take(np.arange(0, len(ds), 2))
    _assert_same_matrix(travel_matrix(short, sf, sd, 1000.0), _reference_travel_matrix(short, sf, sd, 1000.0),
                        min_pairs=10_000)


def test_tiled_network_matrix_equals_whole_network_search(tiling, porto_alegre_network, demo_result):
    """A 2 x 2 tiling of the demo (stitched across the seams, like the benchmark's metro networks): facilities
    near a seam reach cells of the neighbouring tile; the chunked subnetwork search must find the same pairs."""
    dense_rect, tile_network, tile_points = tiling.dense_rect, tiling.tile_network, tiling.tile_points
    rect = dense_rect(porto_alegre_network, side_m=3000.0, cell_m=500.0)
    net = tile_network(porto_alegre_network, rect, 2, 2)
    fac = tile_points(demo_result.facilities.to_crs(net.crs), rect, 2, 2)
    cells = demo_result.demand[["geometry"]].to_crs(net.crs).assign(facility_id=np.arange(len(demo_result.demand)))
    dem = tile_points(cells, rect, 2, 2)
    fs = snap_points(net, shapely.get_coordinates(fac.geometry.values), 500.0)
    ds = snap_points(net, shapely.get_coordinates(dem.geometry.values), 500.0)
    assert len(fs) > 100 and len(ds) > 3000
    new = travel_matrix(net, fs, ds, 1000.0, chunk=16)
    ref = _reference_travel_matrix(net, fs, ds, 1000.0)
    _assert_same_matrix(new, ref, min_pairs=20_000)
    # pairs across a seam exist (facility and cell on different copies)
    def tile_of(xy):
        return np.floor((xy - np.array(rect[:2])) / (rect[2] - rect[0])).astype(int) @ [1, 2]

    ft = tile_of(shapely.get_coordinates(fac.geometry.values))[new.fac]
    dt = tile_of(shapely.get_coordinates(dem.geometry.values))[new.dem]
    assert (ft != dt).sum() > 100


def test_hilbert_order_walks_the_grid_one_cell_at_a_time():
    from access15.catchment import hilbert_order

    xy = np.stack(np.meshgrid(np.arange(16.0), np.arange(16.0)), axis=-1).reshape(-1, 2)
    order = hilbert_order(xy, bits=4)
    assert sorted(order) == list(range(256))
    steps = np.abs(np.diff(xy[order], axis=0)).sum(axis=1)
    np.testing.assert_array_equal(steps, 1.0)  # a Hilbert curve: consecutive cells are neighbours


def test_facility_on_a_self_loop_edge_takes_the_shorter_way_round(porto_alegre_network):
    """Real cul-de-sac loops (an edge from a node back to itself): the facility's two links to that node
    must not be summed; each row minimum equals ``nearest_facility`` (one facility at a time)."""
    net = porto_alegre_network
    loops = np.flatnonzero((net.edge_u == net.edge_v) & (net.component[net.edge_u] == 0))
    assert len(loops) >= 10
    pts = shapely.get_coordinates(shapely.line_interpolate_point(net.edge_geometry[loops], 0.3, normalized=True))
    fs = snap_points(net, pts, 500.0)
    assert np.isin(fs.edge, loops).all()
    ds = snap_points(net, net.node_xy[::10], 500.0)
    m = travel_matrix(net, fs, ds, 1000.0)
    for i in range(len(fs)):
        row = m.fac == i
        best = np.full(len(ds), np.inf)
        best[m.dem[row]] = m.dist_m[row]
        near = nearest_facility(net, fs.take(np.array([i])), ds, 1000.0).dist_m
        np.testing.assert_array_equal(np.isinf(best), np.isinf(near))
        np.testing.assert_allclose(best[np.isfinite(near)], near[np.isfinite(near)], rtol=0, atol=1e-6)


def test_compact_chunks_stay_small_and_cover_every_point(demo_points):
    from access15.catchment import compact_chunks

    _, _, ds = demo_points
    xy = ds.xy[ds.ok]
    order, bounds = compact_chunks(xy, 64, 1000.0)
    assert sorted(order) == list(range(len(xy))) and bounds[0] == 0 and bounds[-1] == len(xy)
    sizes = np.diff(bounds)
    assert sizes.min() >= 1 and sizes.max() == 64
    ext = np.array([np.ptp(xy[order[a:b]], axis=0).max() for a, b in itertools.pairwise(bounds)])
    assert ext.max() < 2 * 1000.0 * 1.0001  # inside one Hilbert cell under twice cell_m wide
