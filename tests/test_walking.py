"""Slope, direction and walking profiles (issue 15): the DEM sampler, Tobler's function per direction, the
directed search, profiles, and bad elevation inputs. Rasters are written with rasterio in tmp; the demo's real
DEM (r5r example data) is the one in data/elevation/."""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pyproj
import pytest
import rasterio
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import from_origin
from scipy.interpolate import RegularGridInterpolator

from access15.config import load_config
from access15.elevation import sample_edges, sample_points
from access15.errors import AccessWarning, InputError
from access15.network import network_from_lines, subnetwork
from access15.presets import load_walk_profiles
from access15.routing import EdgeRates, nearest_facility
from access15.snap import Snapped, snap_points
from access15.walking import DEFAULT_MODEL, edge_rates, speed_ratio

from .conftest import DATA, DEMO_CONFIG

UTM = pyproj.CRS("EPSG:32722")  # UTM 22S (Porto Alegre's zone)
X0, Y0 = 480000.0, 6680000.0
DEM = DATA / "elevation" / "porto_alegre_elevation.tif"


def _write(path, z, x0, y0, cell, crs=UTM, nodata=None, dtype="float32"):
    """Write a single-band GeoTIFF with its top-left corner at (x0, y0)."""
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1, dtype=dtype,
                       crs=crs, transform=from_origin(x0, y0, cell, cell), nodata=nodata) as dst:
        dst.write(z.astype(dtype), 1)
    return path


def _plane(tmp_path, grade=0.05, cell=30.0, quantise=False, name="plane.tif"):
    """A raster z = 100 + grade * (x - X0) (metres) around a 1 km line along +x, optionally rounded to whole
    metres (a terraced DEM like SRTM's)."""
    nx_, ny_ = 50, 10
    left, top = X0 - 5 * cell, Y0 + 5 * cell
    xc = left + (np.arange(nx_) + 0.5) * cell
    z = np.tile(100 + grade * (xc - X0), (ny_, 1))
    if quantise:
        z = np.round(z)
    return _write(tmp_path / name, z, left, top, cell, dtype="float64")


def _line_network(length=1000.0):
    line = shapely.linestrings([[X0, Y0], [X0 + length / 3, Y0], [X0 + length, Y0]])
    return network_from_lines(gpd.GeoDataFrame(geometry=[line], crs=UTM), crs=UTM)


def _ends(net):
    """Snapped points at the low (x = X0) and high end of the one-edge line network."""
    xy = np.array([[X0, Y0], [X0 + net.edge_length[0], Y0]])
    return snap_points(net, xy, 10.0)


def _tobler_minutes(length, grade, kmh=4.0):
    return length / (kmh * 1000 / 60 * math.exp(-3.5 * abs(grade + 0.05)) / math.exp(-3.5 * 0.05))


def _walk_minutes(net, rates, from_pt, to_pt, kmh=4.0):
    """Minutes walking from snapped point ``from_pt`` to ``to_pt`` (one demand point, one facility)."""
    res = nearest_facility(net, to_pt, from_pt, rates=rates)
    return float(res.dist_m[0]) / (kmh * 1000 / 60)


@pytest.mark.parametrize("grade,quantise,tol", [(0.05, False, 1e-9), (0.12, False, 1e-9), (0.08, True, 0.01),
                                                (0.15, True, 0.01)])
def test_inclined_plane_matches_analytic_tobler(tmp_path, grade, quantise, tol):
    """Up and down an inclined plane equal Tobler's function analytically: to rounding on a smooth DEM, within
    1 % on one rounded to whole metres (30 m cells), thanks to bilinear interpolation. (Near -5 %, Tobler's
    fastest slope, a terraced DEM's alternating slopes straddle the kink of |s + c|: see docs/walking.md.)"""
    net = _line_network()
    prof = sample_edges(net, _plane(tmp_path, grade=grade, quantise=quantise), spacing_m=10.0)
    assert prof.seg_len.max() <= 10.0 + 1e-9
    assert prof.edge_rise(1)[0] == pytest.approx(1000 * grade, abs=0.51 if quantise else 1e-6)
    rates = edge_rates(net, DEFAULT_MODEL, prof)
    pts = _ends(net)
    low, high = pts.take(np.array([0])), pts.take(np.array([1]))
    up = _walk_minutes(net, rates, low, high)
    down = _walk_minutes(net, rates, high, low)
    assert up == pytest.approx(_tobler_minutes(1000, grade), rel=tol)
    assert down == pytest.approx(_tobler_minutes(1000, -grade), rel=tol)
    assert up > down


def test_nearest_cell_sampling_would_fail_the_terraced_plane(tmp_path):
    """The terraced test discriminates: reading the nearest cell (rasterio.sample) at the same vertices turns
    the 1 m steps into false slopes and misses Tobler's time by far more than 1 %."""
    net = _line_network()
    path = _plane(tmp_path, grade=0.08, quantise=True)
    dens = shapely.segmentize(net.edge_geometry, 10.0)
    xy = shapely.get_coordinates(dens)
    with rasterio.open(path) as src:
        z = np.array([v[0] for v in src.sample(xy)], dtype=np.float64)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    s = np.diff(z) / seg
    minutes = float(np.sum(seg / (4000 / 60 * speed_ratio(s, DEFAULT_MODEL))))
    assert abs(minutes / _tobler_minutes(1000, 0.08) - 1) > 0.05


def test_bilinear_sampler_hits_cell_values_at_centres():
    """At cell centres the interpolation returns the cell (rasterio.sample reads the same cell), in the raster's
    own CRS and through a reprojection."""
    with rasterio.open(DEM) as src:
        rows, cols = np.meshgrid(np.arange(100, 300, 37), np.arange(100, 300, 41), indexing="ij")
        xs, ys = rasterio.transform.xy(src.transform, rows.ravel(), cols.ravel())
        lonlat = np.column_stack([xs, ys])
        expect = np.array([v[0] for v in src.sample(lonlat)], dtype=np.float64)
    z, absurd = sample_points(DEM, lonlat, pyproj.CRS("EPSG:4326"))
    np.testing.assert_allclose(z, expect, atol=1e-9)
    utm = np.column_stack(pyproj.Transformer.from_crs(4326, UTM, always_xy=True).transform(*lonlat.T))
    z2, _ = sample_points(DEM, utm, UTM)
    np.testing.assert_allclose(z2, expect, atol=1e-6)
    assert absurd == 0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.001, 0.4), st.sampled_from(list(load_walk_profiles())))
def test_uphill_slower_than_downhill(grade, name):
    """For every profile and grade, the same edge takes longer uphill than downhill (Tobler is asymmetric
    around -c, but |s + c| > |-s + c| for s > 0)."""
    p = load_walk_profiles()[name]
    assert speed_ratio(np.array([grade]), p)[0] < speed_ratio(np.array([-grade]), p)[0] or (
        p.max_speedup is not None and speed_ratio(np.array([-grade]), p)[0] == p.max_speedup
        and speed_ratio(np.array([grade]), p)[0] < p.max_speedup)


def test_flat_ratio_is_exactly_one():
    for p in [DEFAULT_MODEL, *load_walk_profiles().values()]:
        assert speed_ratio(np.zeros(3), p).tolist() == [1.0, 1.0, 1.0]


# --- the demo network on its real DEM --------------------------------------------------------------------

@pytest.fixture(scope="module")
def hill(porto_alegre_network):
    """A 1.6 km box of the demo network around its highest sampled point, with its edge profiles."""
    net = porto_alegre_network
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccessWarning)
        prof = sample_edges(net, DEM, 10.0)
    zmax_edge = int(np.argmax(prof.edge_climb(net.n_edges)))
    c = net.node_xy[net.edge_u[zmax_edge]]
    sub = subnetwork(net, shapely.box(c[0] - 800, c[1] - 800, c[0] + 800, c[1] + 800))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccessWarning)
        sprof = sample_edges(sub, DEM, 10.0)
    return sub, sprof


def _reference_minutes(net, fac: Snapped, dem: Snapped, kmh=4.0):
    """Independent reference: networkx DiGraph, per-direction Tobler times summed in Python over the densified
    vertices, elevations from scipy's RegularGridInterpolator on the cell centres (not access15's sampler)."""
    with rasterio.open(DEM) as src:
        z = src.read(1).astype(np.float64)
        t = src.transform
        tr = pyproj.Transformer.from_crs(net.crs, src.crs, always_xy=True)
    xc = t.c + (np.arange(z.shape[1]) + 0.5) * t.a
    yc = t.f + (np.arange(z.shape[0]) + 0.5) * t.e
    interp = RegularGridInterpolator((yc[::-1], xc), z[::-1], bounds_error=False, fill_value=np.nan)
    v = kmh * 1000 / 60
    fwd_min, bwd_min = {}, {}
    g = nx.DiGraph()
    for e, geom in enumerate(shapely.segmentize(net.edge_geometry, 10.0)):
        xy = shapely.get_coordinates(geom)
        lon, lat = tr.transform(xy[:, 0], xy[:, 1])
        h = interp(np.column_stack([lat, lon]))
        f = b = 0.0
        for k in range(len(xy) - 1):
            run = math.dist(xy[k], xy[k + 1])
            rise = h[k + 1] - h[k] if np.isfinite(h[k]) and np.isfinite(h[k + 1]) else 0.0
            s = rise / run if run > 0 else 0.0
            f += run / (v * math.exp(-3.5 * abs(s + 0.05)) / math.exp(-3.5 * 0.05))
            b += run / (v * math.exp(-3.5 * abs(-s + 0.05)) / math.exp(-3.5 * 0.05))
        fwd_min[e], bwd_min[e] = f, b
        u, w = int(net.edge_u[e]), int(net.edge_v[e])
        if u == w:
            continue
        for a_, b_, c_ in ((u, w, f), (w, u, b)):
            if not g.has_edge(a_, b_) or g[a_][b_]["w"] > c_:
                g.add_edge(a_, b_, w=c_)
    rev = g.reverse(copy=True)
    L = net.edge_length
    for i in np.flatnonzero(fac.ok):
        e = fac.edge[i]
        leg = fac.dist_m[i] / v
        for node, cost in ((int(net.edge_u[e]), fwd_min[e] * fac.offset_m[i] / L[e]),
                           (int(net.edge_v[e]), bwd_min[e] * (L[e] - fac.offset_m[i]) / L[e])):
            if not rev.has_edge("S", node) or rev["S"][node]["w"] > leg + cost:
                rev.add_edge("S", node, w=leg + cost)
    dist = nx.single_source_dijkstra_path_length(rev, "S", weight="w")
    out = np.full(len(dem), np.nan)
    for i in np.flatnonzero(dem.ok):
        e, off = dem.edge[i], dem.offset_m[i]
        best = min(dist.get(int(net.edge_u[e]), np.inf) + bwd_min[e] * off / L[e],
                   dist.get(int(net.edge_v[e]), np.inf) + fwd_min[e] * (L[e] - off) / L[e])
        for j in np.flatnonzero(fac.ok & (fac.edge == e)):
            tf = fac.offset_m[j]
            direct = (fwd_min[e] * (tf - off) if tf >= off else bwd_min[e] * (off - tf)) / L[e] + fac.dist_m[j] / v
            best = min(best, direct)
        out[i] = best + dem.dist_m[i] / v
    return out


def test_directed_slope_times_match_networkx_reference(hill):
    """Slope-aware, directed times on the real DEM equal an independent networkx reference within 1 second."""
    net, prof = hill
    rng = np.random.default_rng(15)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    # one attachment per point (the reference models the slope arithmetic, not second attachments)
    fac = snap_points(net, lo + rng.random((3, 2)) * (hi - lo), 300, prefer_main=False)
    dem = snap_points(net, lo + rng.random((300, 2)) * (hi - lo), 300, prefer_main=False)
    rates = edge_rates(net, DEFAULT_MODEL, prof)
    got = nearest_facility(net, fac, dem, rates=rates).dist_m / (4000 / 60)
    ref = _reference_minutes(net, fac, dem)
    ok = np.isfinite(ref)
    assert ok.sum() > 250
    np.testing.assert_array_equal(np.isfinite(got), ok)
    assert np.max(np.abs(got[ok] - ref[ok])) * 60 < 1.0  # seconds
    # and the slope matters here: the reversed direction (facility -> home) gives other times
    back = nearest_facility(net, fac, dem, rates=EdgeRates(rates.bwd, rates.fwd)).dist_m / (4000 / 60)
    assert np.max(np.abs(back[ok] - got[ok])) * 60 > 30


def test_profiles_are_ordered_on_the_real_dem(hill):
    """Elderly >= walk at every point; removing steps never shortens a route; the wheelchair never uses steps
    (making them unusable changes none of its times) and is never faster than the elderly on the flat speed."""
    net, prof = hill
    P = load_walk_profiles()
    rng = np.random.default_rng(3)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    fac = snap_points(net, lo + rng.random((4, 2)) * (hi - lo), 300)
    dem = snap_points(net, lo + rng.random((400, 2)) * (hi - lo), 300)

    def minutes(name, rates):
        return nearest_facility(net, fac, dem, rates=rates).dist_m / P[name].m_per_min

    walk, elderly = (minutes(n, edge_rates(net, P[n], prof)) for n in ("walk", "elderly"))
    on = np.isfinite(walk)
    assert on.sum() > 300 and (elderly[on] >= walk[on]).all() and (elderly[on] > walk[on]).mean() > 0.95
    steps = np.asarray(net.edge_highway == "steps")
    r = edge_rates(net, P["walk"], prof)
    no_steps = EdgeRates(np.where(steps, np.inf, r.fwd), np.where(steps, np.inf, r.bwd))
    assert (np.nan_to_num(minutes("walk", no_steps), nan=-1) >= np.nan_to_num(walk, nan=-1)).all()
    w = edge_rates(net, P["wheelchair"], prof)
    assert np.isinf(w.fwd[steps]).all()
    wheel = minutes("wheelchair", w)
    again = minutes("wheelchair", EdgeRates(np.where(steps, np.inf, w.fwd), np.where(steps, np.inf, w.bwd)))
    np.testing.assert_array_equal(wheel, again)
    assert (np.nan_to_num(wheel, nan=np.inf, posinf=np.inf)[on] >= walk[on] * 4.0 / 3.6 - 1e-9).all()


def test_steps_are_timed_per_step_and_direction(porto_alegre_network):
    """Named walkers time highway=steps per step (step_count where tagged), climbing slower than descending
    where the incline is tagged; the pram may only use steps with a ramp."""
    net = porto_alegre_network
    P = load_walk_profiles()
    r = edge_rates(net, P["walk"], None)
    steps = np.asarray(net.edge_highway == "steps")
    counted = steps & np.array([v is not None and str(v).isdigit() and int(v) > 0 for v in net.edge_step_count])
    e = np.flatnonzero(counted)[0]
    n = int(net.edge_step_count[e])
    cost_s = np.array([r.fwd[e], r.bwd[e]]) * net.edge_length[e] / P["walk"].m_per_min * 60
    assert sorted(cost_s.round(9).tolist()) in ([n * 0.5, n * 0.6], [n * 0.55, n * 0.55])
    up = np.flatnonzero(steps & (net.edge_incline == "up"))
    assert len(up) and (r.fwd[up] > r.bwd[up]).all()
    pram = edge_rates(net, P["pram"], None)
    ramp = steps & ((net.edge_ramp == "yes") | (net.edge_ramp_stroller == "yes"))
    assert np.isfinite(pram.fwd[ramp]).all() and np.isinf(pram.fwd[steps & ~ramp]).all()
    assert np.isinf(edge_rates(net, P["wheelchair"], None).fwd[net.edge_wheelchair == "no"]).all()
    flat = edge_rates(net, DEFAULT_MODEL, None)  # the default walker walks steps like any way
    assert (flat.fwd == 1).all() and (flat.bwd == 1).all()


# --- the pipeline ---------------------------------------------------------------------------------------

def test_flat_dem_reproduces_the_flat_demo_exactly(tmp_path, demo_result, porto_alegre_network):
    """With a perfectly flat DEM the directed, slope-aware engine gives today's times bit for bit (and the
    identical coverage table, apart from the profile label)."""
    from access15 import analyze

    with rasterio.open(DEM) as src:
        flat = _write(tmp_path / "flat.tif", np.full((src.height, src.width), 12.0), src.transform.c,
                      src.transform.f, src.transform.a, crs=src.crs)
    cfg = load_config(DEMO_CONFIG)
    cfg.network.elevation = str(flat)
    res = analyze(cfg, network=porto_alegre_network)
    for cat in cfg.categories:
        np.testing.assert_array_equal(res.demand[f"time_{cat}"].to_numpy(), demo_result.demand[f"time_{cat}"].to_numpy())
    a = res.coverage.drop(columns="profile")
    b = demo_result.coverage.drop(columns="profile")
    assert a.equals(b)
    assert res.coverage["profile"].iloc[0].endswith("slope")


def test_slope_and_profiles_in_the_demo(porto_alegre_network, demo_result):
    """The real DEM lowers the demo's clinic coverage; elderly (per category) lower still; the table states
    the profile per row."""
    from access15 import analyze

    cfg = load_config(DEMO_CONFIG)
    cfg.network.elevation = str(DEM)
    cfg.categories["school"].profile = "elderly"
    res = analyze(cfg, network=porto_alegre_network)
    cov = res.coverage.set_index("category")
    base = demo_result.coverage.set_index("category")
    assert cov.loc["clinic", "share_covered"] < base.loc["clinic", "share_covered"] - 0.01
    assert cov.loc["school", "share_covered"] < cov.loc["clinic", "share_covered"]
    assert cov.loc["school", "profile"] == "elderly 3 km/h, slope"
    assert cov.loc["clinic", "profile"] == "walk 4 km/h, slope"
    assert (res.demand["time_clinic"] >= demo_result.demand["time_clinic"] - 1e-9).mean() > 0.6
    assert any("outside the elevation raster" in w for w in res.warnings)


# --- bad inputs -----------------------------------------------------------------------------------------

def test_bad_elevation_inputs(tmp_path):
    net = _line_network()
    fake = tmp_path / "dem.tif"
    fake.write_text("not a raster")
    with pytest.raises(InputError, match="cannot read as a raster"):
        sample_edges(net, fake)
    with pytest.raises(InputError, match="not found"):
        sample_edges(net, tmp_path / "missing.tif")
    with rasterio.open(tmp_path / "nocrs.tif", "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       transform=from_origin(X0, Y0, 30, 30)) as dst:
        dst.write(np.zeros((4, 4), "float32"), 1)
    with pytest.raises(InputError, match="no CRS"):
        sample_edges(net, tmp_path / "nocrs.tif")
    # the right numbers declared in the wrong CRS land elsewhere: covers none of the network
    wrong = _write(tmp_path / "wrong.tif", np.zeros((10, 50)), X0 - 150, Y0 + 150, 30.0, crs="EPSG:32650")
    with pytest.raises(InputError, match="covers none of the network"):
        sample_edges(net, wrong)
    with pytest.raises(InputError, match="spacing"):
        sample_edges(net, wrong, spacing_m=0)


@pytest.mark.filterwarnings("ignore:.*walked as flat:access15.errors.AccessWarning")
def test_partial_cover_nodata_and_absurd_values_are_stated(tmp_path):
    net = _line_network()
    cell = 30.0
    left, top = X0 - 150, Y0 + 150
    z = np.tile(100 + 0.05 * (left + (np.arange(50) + 0.5) * cell - X0), (10, 1))
    half = _write(tmp_path / "half.tif", z[:, :22], left, top, cell)  # ends 510 m along the line
    with pytest.warns(AccessWarning, match=r"4\d\.\d% of the network length .* walked as flat"):
        prof = sample_edges(net, half)
    assert 0.4 < prof.outside_m / prof.total_m < 0.5
    holes = z.copy()
    holes[:, 20:30] = -9999
    path = _write(tmp_path / "holes.tif", holes, left, top, cell, nodata=-9999)
    with pytest.warns(AccessWarning, match="walked as flat"):
        prof = sample_edges(net, path)
    assert 0.1 < prof.outside_m / prof.total_m < 0.35
    assert np.isfinite(prof.seg_rise).all()
    voids = z.copy()
    voids[:, 30:33] = -32768  # an SRTM void with no nodata declared
    path = _write(tmp_path / "voids.tif", voids, left, top, cell, dtype="int16")
    with pytest.warns(AccessWarning, match="impossible elevations"):
        prof = sample_edges(net, path)
    assert np.abs(prof.seg_rise).max() < 2.0  # never a 32 km cliff


@pytest.mark.filterwarnings("ignore:.*walked as flat:access15.errors.AccessWarning")
@pytest.mark.filterwarnings("ignore:.*impossible elevations:access15.errors.AccessWarning")
def test_describe_dem_counts_nodata_and_impossible_cells(tmp_path):
    """The DEM note of ``validate`` over the cells the network's box touches: the 1 km line runs along row 5
    from column 5 (x = X0) to column 38 (x = X0 + 1 km) of a 30 m raster whose left edge is X0 - 150 m: 34
    cells, of which the test declares 10 nodata (29.4 %) or 3 undeclared voids of -32768."""
    from access15.elevation import describe_dem

    net = _line_network()
    cell, left, top = 30.0, X0 - 150, Y0 + 150
    z = np.tile(100 + 0.05 * (left + (np.arange(50) + 0.5) * cell - X0), (10, 1))
    holes = z.copy()
    holes[:, 20:30] = -9999
    path = _write(tmp_path / "holes.tif", holes, left, top, cell, nodata=-9999)
    note = describe_dem(path, net, sample_edges(net, path))
    assert note.startswith("elevation raster EPSG:32722, 50 x 10 cells of 30 m; ")
    lo, hi = z[5, 5:39].min(), z[5, 5:39].max()
    assert f"under the network {lo:,.0f} to {hi:,.0f} m, 29.4% nodata cells, 0 impossible values" in note
    voids = z.copy()
    voids[:, 30:33] = -32768
    path = _write(tmp_path / "voids.tif", voids, left, top, cell, dtype="int16")
    prof = sample_edges(net, path)
    note = describe_dem(path, net, prof)
    assert "0.0% nodata cells, 3 impossible values" in note
    assert f"elevation along {1 - prof.outside_m / prof.total_m:.1%} of the network length" in note


def test_validate_reports_the_demo_dem():
    """``access15 validate`` on the sloped demo names the DEM: the share of the network walked flat as a
    warning on the raster file, and a note with its CRS, cells and the elevation along the rest."""
    from access15.validate import validate

    probs = [p for p in validate(DEMO_CONFIG.parent / "porto_alegre_slope.toml") if p.file.endswith(DEM.name)]
    warn = [p for p in probs if p.severity == "warning"]
    note = [p for p in probs if p.severity == "note"]
    assert len(warn) == 1 and len(note) == 1
    flat = float(warn[0].problem.split("%")[0])
    assert warn[0].problem.endswith("walked as flat") and 0 < flat < 10
    with rasterio.open(DEM) as src:
        size, crs = f"{src.width} x {src.height} cells", src.crs.to_epsg()
    assert note[0].problem.startswith(f"elevation raster EPSG:{crs}, {size} of 1 arc-seconds; under the network ")
    assert f"elevation along {100 - flat:.1f}% of the network length, sampled every 10 m" in note[0].problem


def test_config_profile_names_are_checked(tmp_path):
    text = DEMO_CONFIG.read_text(encoding="utf-8").replace(
        "[categories.clinic]\nminutes = 15", "[categories.clinic]\nminutes = 15\nprofile = \"eldery\"")
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace("../data/", str(DEMO_CONFIG.parents[1] / "data") + "/"), encoding="utf-8")
    with pytest.raises(InputError, match="did you mean 'elderly'"):
        load_config(cfg)
    cfg.write_text(text.replace("profile = \"eldery\"", "profile = \"elderly\"")
                   .replace("max_snap_m = 500", "max_snap_m = 500\nelevation_spacing_m = -1"), encoding="utf-8")
    with pytest.raises(InputError, match="elevation_spacing_m"):
        load_config(cfg)


# --- the same directed, profiled times in 2SFCA and siting --------------------------------------------------

@pytest.fixture(scope="module")
def sloped(porto_alegre_network):
    """The demo on its real DEM, clinics walked by older people (elderly profile)."""
    from access15 import analyze

    cfg = load_config(DEMO_CONFIG)
    cfg.network.elevation = str(DEM)
    cfg.categories["clinic"].profile = "elderly"
    return analyze(cfg, network=porto_alegre_network)


def test_travel_matrix_equals_nearest_facility_on_slope(sloped):
    """The bounded facility x demand search (2SFCA, siting) gives the directed whole-network distances exactly,
    with the box grown for downhill edges cheaper than their length."""
    from access15.catchment import travel_matrix
    from access15.walking import walkers

    res = sloped
    net = res.network
    wk = walkers(res.config, net)["clinic"]
    assert wk.rates is not None and wk.rates.cheapest <= 1.0
    fac = res.facilities[res.facilities["category"] == "clinic"]
    fs = snap_points(net, shapely.get_coordinates(fac.geometry.values), 500.0)
    ds = snap_points(net, shapely.get_coordinates(res.demand.geometry.values), 500.0)
    limit = wk.limit_m(15)
    m = travel_matrix(net, fs, ds, limit, rates=wk.rates)
    best = np.full(m.n_dem, np.inf)
    np.minimum.at(best, m.dem, m.dist_m)
    near = nearest_facility(net, fs, ds, limit, rates=wk.rates).dist_m
    np.testing.assert_array_equal(np.isinf(best), np.isinf(near))
    ok = np.isfinite(near)
    assert ok.sum() > 1000
    np.testing.assert_allclose(best[ok], near[ok], rtol=0, atol=1e-6)
    # the default walker is slope-aware with Tobler's downhill gain: some edge is cheaper than its length
    assert walkers(res.config, net)["school"].rates.cheapest < 1.0


def test_site_check_on_slope_equals_full_rerun(sloped, porto_alegre_network):
    """site-check on a sloped, directed, elderly-profiled network: the covered points equal a full re-run."""
    import geopandas as gpd
    import pandas as pd

    from access15 import analyze
    from access15.coords import WGS84, transform_xy
    from access15.siting import OK, as_sites, check_sites, site_context

    res = sloped
    ctx = site_context(res)
    dem = res.demand
    rng = np.random.default_rng(15)
    gap = np.flatnonzero(~dem["covered_clinic"].to_numpy() & dem["on_network"].to_numpy())
    xy = shapely.get_coordinates(dem.geometry.values[rng.choice(gap, 2, replace=False)])
    sites = as_sites(transform_xy(xy, res.network.crs, WGS84))
    check = check_sites(ctx, "clinic", sites)
    assert (check.table["status"] == OK).all() and check.table["newly_covered"].max() > 0
    fac = res.facilities[["category", "name", "facility_id", "capacity", "source", "geometry"]].to_crs(4326)
    for i in range(len(sites)):
        new = gpd.GeoDataFrame({"category": ["clinic"], "name": ["cand"], "facility_id": [f"cand{i}"],
                                "capacity": [np.nan], "source": ["candidates"]}, geometry=sites.geometry.to_crs(4326).values[[i]], crs=4326)
        full = analyze(res.config, network=porto_alegre_network,
                       facilities=gpd.GeoDataFrame(pd.concat([fac, new], ignore_index=True), crs=4326))
        np.testing.assert_array_equal(check.covered_after(i), full.demand["covered_clinic"].to_numpy())
        cov = full.coverage.set_index("category")
        assert check.table["share_after"].iat[i] == pytest.approx(cov.loc["clinic", "share_covered"], rel=1e-12)
