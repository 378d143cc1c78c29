"""Scale helpers on real extracts: the fast near-network test, network clipping, and the tiled benchmark networks."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.sparse import csgraph

from access15.demand import near_network
from access15.network import load_network, subnetwork


@pytest.fixture(scope="module")
def longgang(root):
    return load_network(root / "data/osm/shenzhen_longgang.osm.pbf")


@pytest.mark.parametrize("dist", [30.0, 500.0])
def test_near_network_equals_the_bulk_dwithin_query(longgang, dist):
    lo, hi = longgang.node_xy.min(axis=0) - 800, longgang.node_xy.max(axis=0) + 800
    x, y = np.meshgrid(np.arange(lo[0], hi[0], 53.0), np.arange(lo[1], hi[1], 47.0))
    x, y = x.ravel(), y.ravel()
    pairs = longgang.tree.query(shapely.points(x, y), predicate="dwithin", distance=dist)
    want = np.zeros(len(x), dtype=bool)
    want[pairs[0]] = True
    got = near_network(longgang, x, y, dist)
    assert 0 < want.sum() < len(x)
    np.testing.assert_array_equal(got, want)


def test_subnetwork_keeps_every_edge_meeting_the_area_and_its_distances(porto_alegre_network):
    net = porto_alegre_network
    centre = net.node_xy[np.argmin(np.hypot(*(net.node_xy - net.node_xy.mean(axis=0)).T))]
    area = shapely.buffer(shapely.Point(centre), 1500.0)
    sub = subnetwork(net, area)
    assert sub.n_edges == int(shapely.intersects(net.edge_geometry, area).sum()) < net.n_edges
    assert "cache_key" not in sub.info  # a clipped network never reads or writes the snap cache
    # endpoints renumbered consistently with the geometries
    first = shapely.get_coordinates(shapely.get_point(sub.edge_geometry, 0))
    last = shapely.get_coordinates(shapely.get_point(sub.edge_geometry, -1))
    np.testing.assert_allclose(first, sub.node_xy[sub.edge_u])
    np.testing.assert_allclose(last, sub.node_xy[sub.edge_v])
    # walks that stay inside the area are the same on the clipped network
    src_full = int(np.flatnonzero((net.node_xy == centre).all(axis=1))[0])
    src_sub = int(np.flatnonzero((sub.node_xy == centre).all(axis=1))[0])
    d_full = csgraph.dijkstra(net.graph, indices=src_full, limit=1400.0)
    d_sub = csgraph.dijkstra(sub.graph, indices=src_sub, limit=1400.0)
    key_full = {tuple(p): d for p, d in zip(net.node_xy.tolist(), d_full) if np.isfinite(d)}
    key_sub = {tuple(p): d for p, d in zip(sub.node_xy.tolist(), d_sub) if np.isfinite(d)}
    assert len(key_full) > 200 and key_full == pytest.approx(key_sub)


def test_tiled_benchmark_network_is_stitched_across_tiles(tiling, helsinki_network):
    dense_rect, tile_network = tiling.dense_rect, tiling.tile_network
    rect = dense_rect(helsinki_network, side_m=600.0, cell_m=100.0)
    one = tile_network(helsinki_network, rect, 1, 1)
    four = tile_network(helsinki_network, rect, 2, 2)
    assert four.n_edges == 4 * one.n_edges  # mirrored copies: every cut street meets its own image
    assert four.n_nodes < 4 * one.n_nodes   # ... and shares the cut node
    big1 = np.bincount(one.component).max()
    assert np.bincount(four.component).max() > 3.9 * big1  # one connected network across the seams
    assert four.edge_length.sum() == pytest.approx(4 * one.edge_length.sum())
