"""Network cache (hit, miss, invalidation) and the bounding-box clip, on real extracts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import shapely

from access15.cache import NetworkCache, load_cached, load_configured_network
from access15.config import config_from_dict
from access15.coords import WGS84, transform_xy
from access15.errors import InputError
from access15.network import load_network

HELSINKI_BOX = [24.935, 60.164, 24.944, 60.1705]


def _cfg(tmp_path, pbf, **network):
    return config_from_dict({"network": {"path": str(pbf), "cache": True, "cache_dir": "cache", **network},
                             "categories": {"clinic": {}}, "facilities": [{"path": "osm"}]},
                            base_dir=tmp_path)


def _same(a, b):
    assert a.crs == b.crs
    for name in ("node_xy", "node_id", "edge_u", "edge_v", "edge_length"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert shapely.equals_exact(a.edge_geometry, b.edge_geometry, 0).all()


def test_cache_miss_then_hit_gives_the_same_network(tmp_path, root, helsinki_network):
    pbf = tmp_path / "helsinki.osm.pbf"
    shutil.copy(root / "data/osm/helsinki.osm.pbf", pbf)
    cfg = _cfg(tmp_path, pbf)
    first = load_configured_network(cfg)
    assert first.info["cache"] == "miss"
    entries = list((tmp_path / "cache").glob("*.npz"))
    assert len(entries) == 1 and not list((tmp_path / "cache").glob(".tmp-*"))
    second = load_configured_network(cfg)
    assert second.info["cache"] == "hit"
    _same(first, helsinki_network)
    _same(second, helsinki_network)
    # the cached network routes like the parsed one
    assert (second.graph != helsinki_network.graph).nnz == 0


def test_cache_invalidated_by_file_content_and_settings(tmp_path, root):
    pbf = tmp_path / "area.osm.pbf"
    shutil.copy(root / "data/osm/helsinki.osm.pbf", pbf)
    assert load_configured_network(_cfg(tmp_path, pbf)).info["cache"] == "miss"
    assert load_configured_network(_cfg(tmp_path, pbf)).info["cache"] == "hit"
    # another setting -> another key
    clipped = load_configured_network(_cfg(tmp_path, pbf, bbox=HELSINKI_BOX))
    assert clipped.info["cache"] == "miss"
    assert load_configured_network(_cfg(tmp_path, pbf, bbox=HELSINKI_BOX)).info["cache"] == "hit"
    # same name, new content -> miss, and the new content's network
    shutil.copy(root / "data/osm/beijing_haidian_tsinghua.osm.pbf", pbf)
    fresh = load_configured_network(_cfg(tmp_path, pbf))
    assert fresh.info["cache"] == "miss"
    _same(fresh, load_network(root / "data/osm/beijing_haidian_tsinghua.osm.pbf"))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3


def test_corrupt_cache_entry_is_rebuilt(tmp_path, root):
    pbf = root / "data/osm/shenzhen_longgang.osm.pbf"
    cfg = _cfg(tmp_path, pbf)
    net = load_configured_network(cfg)
    entry = NetworkCache(tmp_path / "cache").entry(pbf, {"rules": None})
    (target,) = (tmp_path / "cache").glob("*.npz")
    assert entry != target  # different settings, different name
    target.write_bytes(target.read_bytes()[:1000])
    assert load_cached(target) is None
    again = load_configured_network(cfg)
    assert again.info["cache"] == "miss"
    _same(again, net)
    assert load_configured_network(cfg).info["cache"] == "hit"


def test_bbox_keeps_every_way_that_meets_the_box(root, helsinki_network):
    full = helsinki_network
    clip = load_network(root / "data/osm/helsinki.osm.pbf", bbox=tuple(HELSINKI_BOX))
    assert 0 < clip.n_edges < full.n_edges / 2
    box = shapely.box(*HELSINKI_BOX)

    def inside_length(net):  # street length inside the box, in degrees (the same measure for both)
        ll = shapely.transform(net.edge_geometry, lambda xy: transform_xy(xy, net.crs, WGS84))
        return float(shapely.length(shapely.intersection(ll, box)).sum()), ll

    want, _ = inside_length(full)
    got, ll = inside_length(clip)
    assert want > 0 and got == pytest.approx(want, rel=1e-9)  # no street in the box is lost
    # and nothing far away is kept: every clipped edge belongs to a way that meets the box
    assert shapely.distance(ll, box).max() < 0.01


def test_bad_bbox_and_cache_values_are_refused(tmp_path, root):
    pbf = root / "data/osm/helsinki.osm.pbf"
    with pytest.raises(InputError, match="bbox"):
        _cfg(tmp_path, pbf, bbox=[60.1, 24.9, 60.2, 24.8])
    with pytest.raises(InputError, match="bbox"):
        _cfg(tmp_path, pbf, bbox=[24.9, 60.1])
    with pytest.raises(InputError, match="cache"):
        _cfg(tmp_path, pbf, cache="yes")


def test_snapped_points_are_cached_with_the_network(tmp_path, root, helsinki_network):
    from access15.cache import snap_cached
    from access15.snap import snap_points

    cfg = _cfg(tmp_path, root / "data/osm/helsinki.osm.pbf")
    net = load_configured_network(cfg)
    xy = helsinki_network.node_xy[::7] + np.array([13.0, -9.0])
    folder = tmp_path / "cache"
    first = snap_cached(net, xy, 500.0, folder)
    files = sorted(folder.glob("snap.*.npz"))
    assert len(files) == 1
    again = snap_cached(net, xy, 500.0, folder)
    want = snap_points(helsinki_network, xy, 500.0)
    for s in (first, again):
        np.testing.assert_array_equal(s.edge, want.edge)
        np.testing.assert_array_equal(s.offset_m, want.offset_m)
        np.testing.assert_array_equal(s.dist_m, want.dist_m)
    snap_cached(net, xy, 50.0, folder)          # another limit -> another entry
    snap_cached(net, xy[:-1], 500.0, folder)    # other points -> another entry
    assert len(list(folder.glob("snap.*.npz"))) == 3
    snap_cached(helsinki_network, xy, 500.0, folder)  # not from the cache: nothing stored
    assert len(list(folder.glob("snap.*.npz"))) == 3


def test_cached_analysis_gives_the_same_result(tmp_path, root):
    from access15 import analyze
    from access15.config import load_config

    cfg = load_config(root / "configs" / "porto_alegre.toml")
    cfg.network.cache = True
    cfg.network.cache_dir = str(tmp_path / "cache")
    first = analyze(cfg)
    assert first.network.info["cache"] == "miss"
    second = analyze(cfg)
    assert second.network.info["cache"] == "hit"
    assert len(list((tmp_path / "cache").glob("snap.*.npz"))) == 2  # facilities, demand
    times = [c for c in first.demand.columns if c.startswith("time_")]
    np.testing.assert_array_equal(first.demand[times].to_numpy(), second.demand[times].to_numpy())
    assert first.coverage.equals(second.coverage)


def _assert_same_field(name, a, b):
    if isinstance(a, np.ndarray) and a.dtype == object and len(a) and isinstance(a.flat[0], shapely.Geometry):
        assert shapely.equals_exact(a, b, 0).all(), name
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=a.dtype != object), name
    else:
        assert a == b, name


@pytest.mark.parametrize("source", ["osm", "lines"])
def test_network_round_trip_keeps_every_field(tmp_path, root, source):
    """The one network format stores every field of the dataclass, enumerated from the dataclass itself, so a
    field added later cannot be forgotten (the old network cache dropped ``edge_highway``: road-class
    travel profiles then fell back to the default speed in every cached run and every batch worker)."""
    import dataclasses

    import geopandas as gpd

    from access15.cache import load_network_file, save_network
    from access15.network import network_from_lines

    net = load_network(root / "data/osm/helsinki.osm.pbf")
    if source == "lines":  # a road-line layer: no road classes, sequential node ids
        net = network_from_lines(gpd.GeoDataFrame(geometry=net.edge_geometry, crs=net.crs), source="lines.gpkg")
    net.info["note"] = {"nested": [1, 2.5, "x"]}
    back = load_network_file(save_network(net, tmp_path / "net.npz"))
    for f in dataclasses.fields(net):
        _assert_same_field(f.name, getattr(net, f.name), getattr(back, f.name))
    if source == "osm":
        assert back.edge_highway is not None and set(back.edge_highway) >= {"footway", "residential"}
    else:
        assert back.edge_highway is None


def test_the_network_cache_keeps_road_classes_for_travel_profiles(tmp_path, root):
    """A cached network gives the same per-edge minutes under a road-class profile as a freshly built one."""
    from access15.presets import load_profiles
    from access15.profiles import edge_minutes

    pbf = tmp_path / "helsinki.osm.pbf"
    shutil.copy(root / "data/osm/helsinki.osm.pbf", pbf)
    cfg = _cfg(tmp_path, pbf)
    fresh = load_configured_network(cfg)
    cached = load_configured_network(cfg)
    assert (fresh.info["cache"], cached.info["cache"]) == ("miss", "hit")
    cycle = load_profiles()["cycle"]
    np.testing.assert_array_equal(edge_minutes(cached, cycle), edge_minutes(fresh, cycle))
    assert not np.allclose(edge_minutes(cached, cycle), cached.edge_length / (cycle["default"] * 1000 / 60))
