"""Property-based tests over random small networks and facility sets (hypothesis).

Each example builds a real :class:`WalkNetwork` with ``network_from_vertices`` (random nodes, random
straight or bent streets, possibly several pieces) and runs the real snapping and routing on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from access15.config import CategoryConfig
from access15.coverage import coverage_table
from access15.network import WalkNetwork, network_from_vertices
from access15.routing import nearest_facility
from access15.snap import snap_points

CRS = pyproj.CRS.from_epsg(32650)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
coord = st.floats(0.0, 1000.0, allow_nan=False, width=32).map(float)
point = st.tuples(coord, coord)


@st.composite
def networks(draw) -> WalkNetwork:
    """2-15 nodes, 1-25 streets; a street may bend through one extra vertex of its own."""
    n = draw(st.integers(2, 15))
    xy = np.array(draw(st.lists(point, min_size=n, max_size=n, unique=True)), float)
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda e: e[0] != e[1]),
                          min_size=1, max_size=25))
    bends = draw(st.lists(st.one_of(st.none(), point), min_size=len(edges), max_size=len(edges)))
    keys, verts, offsets = [], [], [0]
    for k, ((u, v), bend) in enumerate(zip(edges, bends)):
        keys += [u] + ([1000 + k] if bend else []) + [v]
        verts += [xy[u]] + ([np.array(bend)] if bend else []) + [xy[v]]
        offsets.append(len(keys))
    return network_from_vertices(np.array(keys), np.array(verts, float), np.array(offsets), CRS)


points = st.lists(st.tuples(st.floats(-200.0, 1200.0, width=32).map(float),
                            st.floats(-200.0, 1200.0, width=32).map(float)), min_size=1, max_size=12)


@SETTINGS
@given(networks(), points, st.floats(5.0, 2000.0))
def test_snap_never_farther_than_reported(net, pts, max_snap):
    pts = np.array(pts, float)
    s = snap_points(net, pts, max_snap)
    ok = s.ok
    # the attachment point is exactly the reported distance away, and on the network
    leg = np.hypot(*(pts[ok] - s.xy[ok]).T)
    assert np.all(leg <= s.dist_m[ok] + 1e-6)
    assert np.allclose(leg, s.dist_m[ok], atol=1e-6)
    on_edge = shapely.distance(net.edge_geometry[s.edge[ok]], shapely.points(s.xy[ok]))
    assert np.all(on_edge < 1e-6)
    # it is the nearest point of the whole network (the street the point stands on); a point whose nearest
    # edge is on a smaller piece is also joined to the nearest point of the largest piece within the limit;
    # the rest are truly out of reach
    dist = shapely.distance(shapely.points(pts)[:, None], net.edge_geometry[None, :])
    nearest = dist.min(axis=1)
    nearest_main = dist[:, net.main_edges].min(axis=1)
    assert np.allclose(s.dist_m[ok], nearest[ok], atol=1e-6)
    minor = np.zeros(len(pts), dtype=bool)
    minor[ok] = net.component[net.edge_u[s.edge[ok]]] != 0
    alt = s.alt_edge if s.alt_edge is not None else np.full(len(pts), -1)
    want_alt = minor & (nearest_main <= max_snap)
    assert np.array_equal(alt >= 0, want_alt)
    if want_alt.any():
        assert np.all(net.component[net.edge_u[alt[want_alt]]] == 0)
        assert np.allclose(s.alt_dist_m[want_alt], nearest_main[want_alt], atol=1e-6)
        on_alt = shapely.distance(net.edge_geometry[alt[want_alt]], shapely.points(s.alt_xy[want_alt]))
        assert np.all(on_alt < 1e-6)
        assert np.allclose(np.hypot(*(pts[want_alt] - s.alt_xy[want_alt]).T), s.alt_dist_m[want_alt], atol=1e-6)
    assert np.all(s.dist_m[ok] <= max_snap + 1e-9)
    assert np.all(nearest[~ok] > max_snap - 1e-9)
    assert np.all((s.offset_m[ok] >= 0) & (s.offset_m[ok] <= net.edge_length[s.edge[ok]] + 1e-9))


@SETTINGS
@given(networks(), points, points)
def test_travel_distance_at_least_straight_line(net, fac, dem):
    fac, dem = np.array(fac, float), np.array(dem, float)
    fs, ds = snap_points(net, fac, 5000.0), snap_points(net, dem, 5000.0)
    res = nearest_facility(net, fs, ds)
    crow = np.hypot(*(dem[:, None, :] - fac[None, :, :]).transpose(2, 0, 1))  # (n_dem, n_fac) metres
    finite = np.isfinite(res.dist_m)
    assert np.all(res.dist_m[finite] >= crow[finite].min(axis=1) - 1e-6)
    # and never shorter than the straight line to the facility it names
    who = res.facility[finite]
    assert np.all(who >= 0)
    assert np.all(res.dist_m[finite] >= crow[finite, who] - 1e-6)


@SETTINGS
@given(networks(), points, points, st.data())
def test_more_facilities_never_farther(net, fac, dem, data):
    fac, dem = np.array(fac, float), np.array(dem, float)
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=len(fac), max_size=len(fac))))
    assume(keep.any())
    fs, ds = snap_points(net, fac, 5000.0), snap_points(net, dem, 5000.0)
    full = nearest_facility(net, fs, ds).dist_m
    sub = nearest_facility(net, fs.take(np.flatnonzero(keep)), ds).dist_m
    both = ~np.isnan(full)
    assert np.all(full[both] <= sub[both] + 1e-6)
    # so coverage at any threshold is monotone in the facility set
    for minutes in (1.0, 5.0, 15.0):
        speed = 66.67
        assert np.sum(full[both] / speed <= minutes) >= np.sum(sub[both] / speed <= minutes)


@SETTINGS
@given(networks(), points, points, st.lists(st.floats(0.5, 60.0), min_size=2, max_size=6))
def test_coverage_monotone_in_threshold(net, fac, dem, thresholds):
    fac, dem = np.array(fac, float), np.array(dem, float)
    fs, ds = snap_points(net, fac, 300.0), snap_points(net, dem, 300.0)
    minutes = nearest_facility(net, fs, ds).dist_m / 66.67
    thresholds = sorted(thresholds)
    cats = {f"c{i}": CategoryConfig(name=f"c{i}", minutes=t) for i, t in enumerate(thresholds)}
    times = pd.DataFrame({c: minutes for c in cats})
    table = coverage_table(times, np.ones(len(dem)), cats, {c: len(fac) for c in cats}).set_index("category")
    shares = table.loc[list(cats), "covered"].to_numpy()
    assert np.all(np.diff(shares) >= 0)
    assert table.loc["combined", "covered"] == shares[0]   # all circles met = the tightest one met
