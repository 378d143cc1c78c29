"""What keeps a metro-size run's memory down must leave every figure as it was: the convex hull built from the
extreme nodes, snapping a block of points at a time, and the spatial indexes dropped after snapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from access15 import network as network_mod
from access15 import snap as snap_mod
from access15.snap import snap_points


def test_hull_from_the_extreme_nodes_is_the_hull_of_all_nodes(porto_alegre_network, helsinki_network):
    for net in (porto_alegre_network, helsinki_network):
        whole = shapely.convex_hull(shapely.multipoints(net.node_xy))
        assert np.array_equal(shapely.get_coordinates(net.hull()), shapely.get_coordinates(whole))  # same vertices, in order
        assert net.hull() is net.hull()  # computed once


def test_hull_of_degenerate_networks_is_what_geos_gives():
    from pyproj import CRS

    for n in (2, 6):  # two nodes; six collinear nodes (one street per segment), which qhull refuses
        key = np.repeat(np.arange(n), 2)[1:-1]
        xy = np.column_stack([key * 10.0, np.zeros(len(key))])
        net = network_mod.network_from_vertices(key, xy, np.arange(0, len(key) + 1, 2), CRS(32722))
        assert net.n_nodes == n
        expected = shapely.convex_hull(shapely.multipoints(net.node_xy))
        assert net.hull().equals(expected) and net.hull().geom_type == "LineString"


def test_snapping_in_blocks_gives_the_same_attachments(helsinki_network, monkeypatch):
    net = helsinki_network
    assert len(net.main_edges) < net.n_edges  # minor pieces: the second (main-network) attachments are exercised
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    rng = np.random.default_rng(7)
    xy = np.concatenate([lo + rng.random((6000, 2)) * (hi - lo),  # anywhere in the extent
                         net.node_xy[np.flatnonzero(net.component != 0)[:500]] + 3.0,  # beside minor pieces
                         hi + rng.random((300, 2)) * 2000.0])  # beyond the snap limit
    whole = snap_points(net, xy, 300.0)
    monkeypatch.setattr(snap_mod, "SNAP_BLOCK", 1000)
    monkeypatch.setattr(snap_mod, "SNAP_THREADS", 3)  # blocks in threads, on a network whose trees are not built
    net.drop_indexes()
    blocked = snap_points(net, xy, 300.0)
    assert whole.alt_edge is not None and (whole.alt_edge >= 0).any() and (~whole.ok).any()
    for name, a in whole.arrays().items():
        np.testing.assert_array_equal(getattr(blocked, name), a, err_msg=name)  # NaN where NaN, bit for bit
        assert getattr(blocked, name).dtype == a.dtype
    small = snap_points(net, xy[:10], 300.0, prefer_main=False)  # a single block keeps no alt arrays
    assert small.alt_edge is None


def test_analyze_drops_the_spatial_indexes_and_the_figures_stay(porto_alegre_network, demo_result):
    from access15 import analyze
    from tests.conftest import DEMO_CONFIG

    net = porto_alegre_network
    _ = net.tree, net.main_tree, net.node_tree
    again = analyze(DEMO_CONFIG, network=net)
    assert not {"tree", "main_tree", "node_tree"} & set(net.__dict__)  # dropped: they hold no memory into rendering
    pd.testing.assert_frame_equal(again.coverage, demo_result.coverage)
    pd.testing.assert_frame_equal(again.supply, demo_result.supply)
    cols = [c for c in again.demand.columns if c.startswith(("time_", "covered_", "nearest_"))]
    pd.testing.assert_frame_equal(pd.DataFrame(again.demand[cols]), pd.DataFrame(demo_result.demand[cols]))
    assert net.tree is not None  # rebuilt on use


def test_graph_is_built_with_int32_indices_as_the_coo_conversion_gives_it(helsinki_network):
    from scipy import sparse

    from access15.network import WalkNetwork

    net = helsinki_network
    fresh = WalkNetwork(crs=net.crs, node_xy=net.node_xy, node_id=net.node_id, edge_u=net.edge_u, edge_v=net.edge_v,
                        edge_length=net.edge_length, edge_geometry=net.edge_geometry)
    g = fresh.graph
    assert g.indices.dtype == np.int32 and g.indptr.dtype == np.int32  # N and 2E fit: 4 bytes per index, not 8
    keep = net.edge_u != net.edge_v
    a = np.concatenate([net.edge_u[keep], net.edge_v[keep]])
    b = np.concatenate([net.edge_v[keep], net.edge_u[keep]])
    w = np.maximum(np.concatenate([net.edge_length[keep]] * 2), 1e-9)
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    ref = sparse.csr_matrix((w[first], (a[first], b[first])), shape=g.shape)
    for k in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(g, k), getattr(ref, k), err_msg=k)


def _bench_run():
    """``benchmarks/run.py`` imported from its path."""
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("access15_bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _windows(profile_cls) -> dict[str, dict]:
    import time

    mem = profile_cls()
    block = np.ones(200 * 2**20 // 8)  # 200 MB, touched: resident
    time.sleep(0.05)  # (for the sampler)
    del block
    mem.mark("spike")  # allocated and freed inside the window: only the peak shows it
    block = np.ones(200 * 2**20 // 8)
    mem.mark("hold")
    del block
    mem.mark("free")
    mem.mark("after")
    return {r["stage"]: r for r in mem.rows}


def test_memory_profile_sees_a_peak_inside_a_stage_and_its_release():
    run = _bench_run()
    rows = _windows(run.MemoryProfile)
    assert rows["spike"]["peak_mb"] - rows["start"]["rss_mb"] > 150  # the 200 MB block, gone by the mark
    assert rows["spike"]["rss_mb"] < rows["spike"]["peak_mb"] - 150
    assert rows["hold"]["peak_mb"] - rows["start"]["rss_mb"] > 150  # the 200 MB block, while held
    assert rows["after"]["peak_mb"] < rows["hold"]["peak_mb"] - 150  # a window after the release no longer has it
    assert rows["after"]["rss_mb"] < rows["hold"]["rss_mb"] - 150
    merged = run.MemoryProfile.by_stage(type("P", (), {"rows": [{"stage": "a", "rss_mb": 1.0, "peak_mb": 5.0},
                                                                {"stage": "b", "rss_mb": 2.0, "peak_mb": 3.0}]})(),
                                        {"b": "a"})
    assert merged == [{"stage": "a", "rss_mb": 2.0, "peak_mb": 5.0}]  # repeated stages: highest peak, last RSS


def test_memory_profile_falls_back_to_sampling(monkeypatch):
    run = _bench_run()
    monkeypatch.setattr(run.MemoryProfile, "_reset_hwm", staticmethod(lambda: False))
    rows = _windows(run.MemoryProfile)
    assert rows["spike"]["peak_mb"] - rows["start"]["rss_mb"] > 150  # seen by the sampling thread only
    assert rows["hold"]["peak_mb"] - rows["start"]["rss_mb"] > 150
    assert rows["after"]["peak_mb"] < rows["hold"]["peak_mb"] - 150
