"""Chinese coordinate systems in inputs: conversion accuracy, declared systems, headers, swapped pairs."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from access15.config import BoundaryConfig, FacilitySource
from access15.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    find_lonlat_columns,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from access15.errors import AccessNote, InputError
from access15.io.boundaries import load_units
from access15.io.facilities import read_facility_file
from access15.io.osm import read_osm_facilities

ROOT = Path(__file__).resolve().parents[1]
TD = ROOT / "tests" / "data"
TSINGHUA = ROOT / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
LONGGANG = ROOT / "data" / "osm" / "shenzhen_longgang.osm.pbf"
BOUNDS = ROOT / "data" / "boundaries" / "haidian_longgang_districts_gcj02.geojson"
M_PER_DEG = 111_195.0


def metres(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (m) between (n, 2) lon/lat arrays, equirectangular (exact enough at < 1 km)."""
    d = (np.asarray(a) - np.asarray(b)) * M_PER_DEG
    d[:, 0] *= np.cos(np.radians(np.asarray(a)[:, 1]))
    return np.hypot(d[:, 0], d[:, 1])


# Published control points (googollee/eviltransform test suite): wgsLat, wgsLng, gcjLat, gcjLng.
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),    # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),    # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),    # Beijing
]


@pytest.mark.parametrize("wlat,wlng,glat,glng", EVILTRANSFORM)
def test_gcj02_published_control_points(wlat, wlng, glat, glng):
    x, y = wgs84_to_gcj02(wlng, wlat)
    assert abs(x - glng) < 1e-9 and abs(y - glat) < 1e-9
    x, y = gcj02_to_wgs84(glng, glat)
    assert metres(np.array([[x, y]]), np.array([[wlng, wlat]]))[0] < 0.01


def test_bd09_published_control_points():
    # wandergis/coordtransform's published results for (116.404, 39.915)
    assert np.allclose(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), atol=1e-12)
    assert np.allclose(wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), atol=1e-12)
    # their inverses are closed-form approximations: ours (iterated) agrees to a few centimetres
    got = np.array([bd09_to_gcj02(116.404, 39.915)])
    assert metres(got, np.array([[116.39762729119315, 39.90865673957631]]))[0] < 0.05
    got = np.array([gcj02_to_wgs84(116.404, 39.915)])
    assert metres(got, np.array([[116.39775550083061, 39.91359571849836]]))[0] < 0.5


def test_matches_prcoords_across_china():
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(74, 134, 300), rng.uniform(18, 53, 300)
    ref = {
        "wgs_gcj": np.array([prcoords.wgs_gcj((b, a)) for a, b in zip(lon, lat)]),
        "gcj_wgs": np.array([prcoords.gcj_wgs_bored((b, a)) for a, b in zip(lon, lat)]),
        "gcj_bd": np.array([prcoords.gcj_bd((b, a)) for a, b in zip(lon, lat)]),
        "bd_wgs": np.array([prcoords.bd_wgs_bored((b, a)) for a, b in zip(lon, lat)]),
    }
    ours = {"wgs_gcj": wgs84_to_gcj02(lon, lat), "gcj_wgs": gcj02_to_wgs84(lon, lat),
            "gcj_bd": gcj02_to_bd09(lon, lat), "bd_wgs": bd09_to_wgs84(lon, lat)}
    # forward transforms are the same closed forms; prcoords' iterative inverses stop at ~1e-7 degrees (1 cm)
    tol = {"wgs_gcj": 1e-12, "gcj_bd": 1e-12, "gcj_wgs": 5e-7, "bd_wgs": 5e-7}
    for key, (x, y) in ours.items():
        assert np.abs(x - ref[key][:, 1]).max() < tol[key], key   # prcoords returns (lat, lon)
        assert np.abs(y - ref[key][:, 0]).max() < tol[key], key
    # and our inverse is the tighter one: it maps back onto its input more exactly
    x, y = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    px, py = wgs84_to_gcj02(ref["gcj_wgs"][:, 1], ref["gcj_wgs"][:, 0])
    assert np.abs(np.r_[x - lon, y - lat]).max() <= np.abs(np.r_[px - lon, py - lat]).max()


def test_outside_china_is_identity():
    lon, lat = np.array([-51.2, 24.94, 139.7]), np.array([-30.0, 60.17, 35.7])
    for f in (wgs84_to_gcj02, gcj02_to_wgs84):
        x, y = f(lon, lat)
        assert np.array_equal(x, lon) and np.array_equal(y, lat)


@settings(max_examples=200, deadline=None)
@given(st.floats(73.0, 135.0), st.floats(18.0, 53.5))
def test_round_trips_within_1_m(lon, lat):
    for fwd, inv in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        back = np.array([inv(*fwd(lon, lat))], dtype=float).reshape(1, 2)
        assert metres(back, np.array([[lon, lat]]))[0] < 1.0


def test_parse_crs():
    assert parse_crs(None).is_wgs84
    assert parse_crs("GCJ-02").system == "gcj02" and parse_crs("amap").system == "gcj02"
    assert parse_crs("BD09").system == "bd09" and parse_crs("baidu").label == "BD-09"
    assert parse_crs("EPSG:32650").crs.to_epsg() == 32650 and parse_crs(4490).system is None
    with pytest.raises(InputError, match="unknown CRS 'wsg84'.*gcj02"):
        parse_crs("wsg84", "f.csv")
    with pytest.raises(InputError, match="Baidu Mercator"):
        parse_crs("bd09mc", "f.csv")


@pytest.mark.parametrize("lon,lat", [("经度", "纬度"), ("lng", "lat"), ("LON", "LAT"), ("Longitude", "Latitude"),
                                     ("x", "y"), ("经度(GCJ02)", "纬度(GCJ02)"), (" 经度 ", " 纬度 ")])
def test_coordinate_headers_recognised(lon, lat):
    assert find_lonlat_columns(["名称", lon, lat], "lon", "lat") == (lon, lat)


def test_configured_headers_win_and_absent_ones_are_none():
    assert find_lonlat_columns(["经度", "纬度", "lon", "lat"], "lon", "lat") == ("lon", "lat")
    assert find_lonlat_columns(["名称", "地址"], "lon", "lat") is None


def _src(path: Path, **kw) -> FacilitySource:
    return FacilitySource(path=str(path), id_column="编号", **kw)


@pytest.mark.parametrize("name,crs,extract", [
    ("tsinghua_facilities_gcj02_utf8bom.csv", "gcj02", TSINGHUA),
    ("tsinghua_facilities_bd09_gbk.csv", "bd09", TSINGHUA),
    ("longgang_facilities_gcj02_gbk.csv", "gcj02", LONGGANG),
])
def test_chinese_exports_load_back_onto_osm(name, crs, extract):
    truth = read_osm_facilities(extract)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = read_facility_file(_src(TD / name, crs=crs), TD / name)
    assert any("'经度'/'纬度'" in str(w.message) for w in caught)  # says which columns it used
    assert got.crs.to_epsg() == 4326 and len(got) == len(truth)
    err = metres(shapely.get_coordinates(got.geometry.values), shapely.get_coordinates(truth.geometry.values))
    assert err.max() < 0.15   # 6-decimal rounding of the export, nothing more
    assert got["name"].tolist() == truth["name"].fillna("").tolist()  # GBK / BOM decoded, Chinese names intact
    assert got["category"].tolist() == truth["category"].tolist()     # 类别 recognised as the category column
    # undeclared, the same file is read as WGS84: hundreds of metres off
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = read_facility_file(_src(TD / name), TD / name)
    off = metres(shapely.get_coordinates(raw.geometry.values), shapely.get_coordinates(truth.geometry.values))
    assert np.median(off) > 400


def test_gcj02_boundaries_converted():
    raw = gpd.read_file(BOUNDS)
    conv = load_units(BoundaryConfig(path=str(BOUNDS), name_column="district", crs="gcj02"), Path, None)
    assert conv["unit"].tolist() == ["海淀区", "龙岗区"]
    rv = shapely.get_coordinates(raw.geometry.values)
    cv = shapely.get_coordinates(shapely.make_valid(conv.geometry.values))
    assert len(rv) == len(cv)
    expect = np.column_stack(gcj02_to_wgs84(rv[:, 0], rv[:, 1]))
    assert np.abs(cv - expect).max() < 1e-9
    assert 300 < np.median(metres(rv, cv)) < 800   # the GCJ-02 shift in Beijing/Shenzhen


def _write(tmp: Path, df: pd.DataFrame, name: str = "f.csv", enc: str = "utf-8") -> Path:
    p = tmp / name
    df.to_csv(p, index=False, encoding=enc)
    return p


def test_swapped_lonlat_beyond_90_reported_and_fixed_on_request(tmp_path):
    df = pd.read_csv(TD / "tsinghua_facilities_gcj02_utf8bom.csv", dtype=str, encoding="utf-8-sig")
    df = df.rename(columns={"经度": "lat", "纬度": "lon"})   # columns the wrong way round
    p = _write(tmp_path, df)
    with pytest.raises(InputError, match=r"row 1.*look swapped.*swap_lonlat = true"):
        read_facility_file(_src(p, crs="gcj02"), p)
    fixed = read_facility_file(_src(p, crs="gcj02", swap_lonlat=True), p)
    truth = read_osm_facilities(TSINGHUA)
    err = metres(shapely.get_coordinates(fixed.geometry.values), shapely.get_coordinates(truth.geometry.values))
    assert err.max() < 0.15


def test_chinese_headers_keep_working_with_warnings_filtered(tmp_path):
    df = pd.read_csv(TD / "longgang_facilities_gcj02_gbk.csv", dtype=str, encoding="gbk")
    p = _write(tmp_path, df, enc="gbk")
    with pytest.warns(AccessNote, match="经度"):  # a recognised header is a note, not a problem
        read_facility_file(_src(p, crs="gcj02"), p)


def test_only_whole_header_pairs_count():
    assert find_lonlat_columns(["name", "x", "lat"], "lon", "lat") is None   # x beside lat is not a pair
    assert find_lonlat_columns(["name", "lng", "lat"], "lon", "lat") == ("lng", "lat")
