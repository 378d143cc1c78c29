"""Administrative units: OSM admin relations (Monaco), GCJ-02 boundary files, levels, classes, overlaps/gaps."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from access15 import analyze
from access15.config import BoundaryConfig, config_from_dict
from access15.coords import gcj02_to_wgs84
from access15.errors import InputError
from access15.io.boundaries import load_units
from access15.io.osm import read_osm_admin

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
GRID = DATA / "population" / "helsinki_population_grid_2020.gpkg"


def test_osm_admin_relations_from_monaco():
    gdf = read_osm_admin(DATA / "osm" / "monaco.osm.pbf", [8, 10])
    assert gdf.crs.to_epsg() == 4326
    assert {"Monaco", "Monaco-Ville", "La Condamine"} <= set(gdf["unit"])
    assert set(gdf["level"]) == {"admin_level 8", "admin_level 10"}
    mon = gdf.loc[gdf["unit"] == "Monaco-Ville"].geometry.iloc[0]
    assert mon.contains(shapely.Point(7.4236, 43.7311))  # the Prince's Palace
    with pytest.raises(InputError, match="no complete boundary=administrative areas at admin_level 4"):
        read_osm_admin(DATA / "osm" / "monaco.osm.pbf", [4])


def test_gcj02_boundaries_are_converted(tmp_path):
    path = DATA / "boundaries" / "haidian_longgang_districts_gcj02.geojson"
    raw = gpd.read_file(path)
    bc = BoundaryConfig(path=str(path), name_column="district", crs="gcj02", level="district")
    units = load_units(bc, Path, None)
    assert list(units["unit"]) == list(raw["district"])
    a = shapely.get_coordinates(raw.geometry.values)
    b = shapely.get_coordinates(units.geometry.values)
    # every vertex moved back by the GCJ-02 offset (hundreds of metres), exactly as the inverse says
    lon, lat = gcj02_to_wgs84(a[:, 0], a[:, 1])
    np.testing.assert_allclose(b, np.c_[lon, lat], atol=1e-9)
    shift_m = np.hypot((a[:, 0] - b[:, 0]) * 111_320 * np.cos(np.radians(a[:, 1])), (a[:, 1] - b[:, 1]) * 110_540)
    assert 100 < np.median(shift_m) < 1000


def test_boundaries_in_another_crs_are_refused(tmp_path):
    cells = gpd.read_file(GRID).head(4).to_crs(3879)
    path = tmp_path / "wrong.geojson"
    cells.set_crs(4326, allow_override=True).to_file(path)  # metres written as if degrees
    with pytest.raises(InputError, match="are not longitude/latitude"):
        load_units(BoundaryConfig(path=str(path), name_column="id"), Path, None)
    with pytest.raises(InputError, match="no column 'district'"):
        load_units(BoundaryConfig(path=str(path), name_column="district"), Path, None)
    shp = tmp_path / "nocrs.shp"
    cells.set_crs(None, allow_override=True).to_file(shp)
    with pytest.raises(InputError, match="boundary file has no coordinate reference system.*in \\[boundaries\\]"):
        load_units(BoundaryConfig(path=str(shp), name_column="id"), Path, None)
    units = load_units(BoundaryConfig(path=str(shp), name_column="id", crs="EPSG:3879"), Path, None)
    assert units.total_bounds[0] == pytest.approx(24.9, abs=0.1)  # declared CRS used: back in Helsinki
    with pytest.raises(InputError, match="unknown CRS 'EPSG:99999'"):
        load_units(BoundaryConfig(path=str(shp), name_column="id", crs="EPSG:99999"), Path, None)


@pytest.fixture(scope="module")
def hel_units(tmp_path_factory, helsinki_network):
    """Two real-geometry units from the HSY grid that overlap by one column of cells, a third level-2
    unit covering only part of them (a gap), and an urban/rural class."""
    cells = gpd.read_file(GRID).to_crs(helsinki_network.crs)
    cells = cells[shapely.intersects(cells.geometry.values, helsinki_network.hull())]
    x = cells.geometry.centroid.x
    cut = np.sort(x.unique())[len(x.unique()) // 2]
    west = shapely.union_all(cells.geometry[x <= cut].values)
    east = shapely.union_all(cells.geometry[x >= cut].values)  # shares the column x == cut
    north = shapely.union_all(cells.geometry[cells.geometry.centroid.y > cells.geometry.centroid.y.median()].values)
    gdf = gpd.GeoDataFrame({"name": ["West", "East", "North"], "level": ["street", "street", "community"],
                            "kind": ["urban", "rural", None]},
                           geometry=[west, east, north], crs=helsinki_network.crs).to_crs(4326)
    path = tmp_path_factory.mktemp("units") / "units.gpkg"
    gdf.to_file(path)
    return path


def test_levels_classes_overlaps_and_per_class_circles(hel_units, helsinki_network):
    cfg = config_from_dict({
        "network": {"path": str(DATA / "osm" / "helsinki.osm.pbf")},
        "boundaries": {"path": str(hel_units), "level_column": "level", "class_column": "kind"},
        "categories": {"clinic": {"minutes": 5, "minutes_by_class": {"rural": 15}}},
        "facilities": [{"path": "osm"}],
    })
    res = analyze(cfg, network=helsinki_network)
    uc = res.unit_coverage
    assert set(uc["level"]) == {"street", "community"}
    assert set(uc.loc[uc["level"] == "street", "unit"]) == {"West", "East"}
    # worst first within each level
    comb = uc[(uc["category"] == "combined") & (uc["level"] == "street")]
    assert comb["share_covered"].is_monotonic_increasing
    chk = res.unit_check.set_index("level")
    assert chk.loc["street", "overlap_points"] > 0 and chk.loc["street", "residents_in_overlaps"] > 0
    assert chk.loc["community", "gap_points"] > 0
    assert any("overlap" in w and "counted twice" in w for w in res.warnings)
    assert any("leave gaps" in w for w in res.warnings)
    # per-class circles: rural points use 15 minutes, urban ones 5
    d = res.demand
    rural = d["unit_class"] == "rural"
    assert rural.any() and (~rural).any()
    t = d["time_clinic"]
    assert (d.loc[rural, "covered_clinic"] == (t[rural] <= 15)).all()
    assert (d.loc[~rural, "covered_clinic"] == (t[~rural] <= 5)).all()
    assert ((t > 5) & (t <= 15) & rural).any()  # the rural circle changes the answer somewhere
    # residents and facilities per unit add up
    street = uc[(uc["level"] == "street") & (uc["category"] == "clinic")]
    assert street["demand"].sum() == pytest.approx(d["weight"][d["unit_street"].notna()].sum())
    assert street["facilities"].sum() >= 1


def test_rural_profile_routes_on_minutes_by_road_class(hel_units, helsinki_network):
    from access15.presets import load_profiles
    from access15.profiles import edge_minutes, profile_nearest
    from access15.routing import nearest_facility
    from access15.snap import snap_points

    net = helsinki_network
    assert net.edge_highway is not None and len(net.edge_highway) == net.n_edges
    cyc = load_profiles()["cycle"]
    mins = edge_minutes(net, cyc)
    foot = net.edge_highway == "footway"
    res = net.edge_highway == "residential"
    assert foot.any() and res.any()
    np.testing.assert_allclose(mins[foot], net.edge_length[foot] / (4000 / 60))
    np.testing.assert_allclose(mins[res], net.edge_length[res] / (15000 / 60))

    # a uniform profile at walking speed reproduces the walking search exactly
    grid = np.stack(np.meshgrid(np.linspace(*net.hull().bounds[0::2], 12)[1:-1],
                                np.linspace(*net.hull().bounds[1::2], 12)[1:-1]), -1).reshape(-1, 2)
    dem = snap_points(net, grid, 500.0)
    fac = snap_points(net, grid[::17], 500.0)
    walk = nearest_facility(net, fac, dem, 60 * 4000 / 60).dist_m / (4000 / 60)
    same = profile_nearest(net, fac, dem, {"default": 4.0}, 4000 / 60, 60.0).dist_m
    np.testing.assert_allclose(same, walk, rtol=1e-9)
    fast = profile_nearest(net, fac, dem, cyc, 4000 / 60, 60.0).dist_m
    assert (fast <= walk + 1e-9).all() and (fast < walk - 0.5).any()

    cfg = config_from_dict({
        "network": {"path": str(DATA / "osm" / "helsinki.osm.pbf")},
        "boundaries": {"path": str(hel_units), "level_column": "level", "class_column": "kind"},
        "categories": {"clinic": {"minutes": 5, "minutes_by_class": {"rural": 15},
                                  "profile_by_class": {"rural": "cycle"}}},
        "facilities": [{"path": "osm"}],
    })
    on_bike = analyze(cfg, network=net).demand
    cfg.categories["clinic"].profile_by_class = {}
    on_foot = analyze(cfg, network=net).demand
    rural = (on_bike["unit_class"] == "rural").to_numpy()
    tb, tf = on_bike["time_clinic"].to_numpy(), on_foot["time_clinic"].to_numpy()
    np.testing.assert_array_equal(tb[~rural], tf[~rural])
    ok = rural & np.isfinite(tf)
    assert (tb[ok] <= tf[ok] + 1e-9).all() and (tb[ok] < tf[ok] - 0.5).any()
    with pytest.raises(InputError, match="unknown travel profile 'boat'"):
        config_from_dict({"network": {"path": "x.pbf"}, "facilities": [{"path": "osm"}],
                          "categories": {"clinic": {"profile_by_class": {"island": "boat"}}}})


def test_class_circles_without_classes_are_warned(helsinki_network):
    cfg = config_from_dict({
        "network": {"path": str(DATA / "osm" / "helsinki.osm.pbf")},
        "categories": {"clinic": {"minutes": 5, "minutes_by_class": {"rural": 15}}},
        "facilities": [{"path": "osm"}],
    })
    res = analyze(cfg, network=helsinki_network)
    assert any("names unit classes rural that no demand point has" in w for w in res.warnings)
    assert (res.demand["covered_clinic"] == (res.demand["time_clinic"] <= 5)).all()
