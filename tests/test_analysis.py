"""The whole analysis on the bundled Porto Alegre data: coverage properties, outputs and bad input."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from access15 import analyze, load_config
from access15.config import config_from_dict
from access15.errors import InputError
from access15.outputs import write_outputs

from .conftest import OSM


def test_demo_coverage_table(demo_result):
    cov = demo_result.coverage.set_index("category")
    assert list(cov.index) == ["clinic", "school", "fitness", "combined"]
    assert cov.loc["clinic", "facilities"] > 100 and cov.loc["school", "facilities"] > 150
    for cat in ("clinic", "school", "fitness", "combined"):
        assert 0 <= cov.loc[cat, "share_covered"] <= 1
    # the combined circle can never be wider than any required circle
    assert cov.loc["combined", "covered"] <= min(cov.loc["clinic", "covered"], cov.loc["school", "covered"])
    d = demo_result.demand
    expect = d.loc[(d["time_clinic"] <= 15) & (d["time_school"] <= 15), "weight"].sum()  # residents
    assert cov.loc["combined", "covered"] == pytest.approx(expect)
    assert "not population" in demo_result.demand_label or "population" in demo_result.demand_label


def test_travel_time_at_least_straight_line(demo_result):
    """Every walking time is at least the straight-line distance to the nearest facility at walking speed."""
    r = demo_result
    speed = r.config.speed_m_per_min
    for cat in ("clinic", "school"):
        fac = r.facilities[(r.facilities["category"] == cat) & r.facilities["on_network"]]
        tree = shapely.STRtree(fac.geometry.values)
        t = r.demand[f"time_{cat}"].to_numpy()
        ok = np.isfinite(t)
        _, crow = tree.query_nearest(r.demand.geometry.values[ok], return_distance=True, all_matches=False)
        assert (t[ok] * speed >= crow - 1e-6).all()


def test_adding_a_facility_never_lowers_coverage(demo_result, porto_alegre_network):
    r = demo_result
    gaps = r.gaps("clinic")
    extra = gpd.GeoDataFrame({"category": ["clinic"], "name": ["new"], "facility_id": ["new"]},
                             geometry=[gaps.geometry.loc[gaps["weight"].idxmax()]], crs=r.demand.crs)
    fac = pd.concat([r.facilities[["category", "name", "facility_id", "geometry"]], extra], ignore_index=True)
    more = analyze(r.config, network=porto_alegre_network, facilities=gpd.GeoDataFrame(fac, crs=r.demand.crs))
    before = r.demand["time_clinic"].to_numpy()
    after = more.demand["time_clinic"].to_numpy()
    assert (np.nan_to_num(after, nan=0) <= np.nan_to_num(before, nan=0) + 1e-9).all()
    c0 = r.coverage.set_index("category")
    c1 = more.coverage.set_index("category")
    assert c1.loc["clinic", "covered"] > c0.loc["clinic", "covered"]
    assert c1.loc["combined", "covered"] >= c0.loc["combined", "covered"]


def test_raising_a_threshold_never_lowers_coverage(demo_result, porto_alegre_network):
    r = demo_result
    cfg = dataclasses.replace(r.config, categories={
        k: dataclasses.replace(v, minutes=v.minutes + 5) for k, v in r.config.categories.items()})
    wider = analyze(cfg, network=porto_alegre_network)
    c0 = r.coverage.set_index("category")["covered"]
    c1 = wider.coverage.set_index("category")["covered"]
    assert (c1 >= c0).all() and c1["clinic"] > c0["clinic"]


def test_outputs_written(demo_result, tmp_path):
    written = write_outputs(demo_result, tmp_path / "out")
    assert set(written) >= {"coverage", "gpkg", "html"}
    table = pd.read_csv(written["coverage"])
    assert list(table["category"]) == ["clinic", "school", "fitness", "combined"]
    layers = set(gpd.list_layers(written["gpkg"])["name"])
    assert layers >= {"facilities", "demand", "gaps"}
    demand = gpd.read_file(written["gpkg"], layer="demand")
    assert {"time_clinic", "time_school", "time_fitness", "missing"} <= set(demand.columns)
    assert len(demand) == len(demo_result.demand) and demand.crs.to_epsg() == 4326
    gaps = gpd.read_file(written["gpkg"], layer="gaps")
    assert len(gaps) == int((~demo_result.demand["covered_combined"]).sum())
    facilities = gpd.read_file(written["gpkg"], layer="facilities")
    assert "snap_m" in facilities.columns
    page = written["html"].read_text(encoding="utf-8")
    assert "L.map" in page and "access15-legend" in page and "Walking time" in page
    assert written["html"].stat().st_size < 5_000_000
    assert not list((tmp_path).glob(".access15-*")), "staging folder left behind"


def _config(tmp_path, facility_csv: str, **extra) -> object:
    csv = tmp_path / "fac.csv"
    csv.write_text(facility_csv, encoding="utf-8")
    data = {"network": {"path": str(OSM / "helsinki.osm.pbf")},
            "categories": {"clinic": {"minutes": 10}, "fitness": {"minutes": 10}},
            "facilities": [{"path": str(csv)}], **extra}
    return config_from_dict(data, base_dir=tmp_path)


HELSINKI_CSV = "name,category,lon,lat\nA,clinic,24.9410,60.1700\nB,fitness,24.9450,60.1720\n"


def test_small_config_runs(tmp_path, helsinki_network):
    r = analyze(_config(tmp_path, HELSINKI_CSV), network=helsinki_network)
    assert r.coverage.set_index("category").loc["clinic", "facilities"] == 1


def test_empty_category_is_zero_with_warning(tmp_path, helsinki_network):
    cfg = _config(tmp_path, "name,category,lon,lat\nA,clinic,24.9410,60.1700\n")
    r = analyze(cfg, network=helsinki_network)
    row = r.coverage.set_index("category").loc["fitness"]
    assert row["covered"] == 0 and row["share_covered"] == 0
    assert any("fitness" in w and "0% coverage" in w for w in r.warnings)


@pytest.mark.parametrize("csv, message", [
    ("name,category,x,lat\nA,clinic,24.94,60.17\n", "no coordinate column 'lon'"),
    ("name,kind,lon,lat\nA,clinic,24.94,60.17\n", "no category column 'category'"),
    ("name,category,lon,lat\nA,clinic,24.94,60.17\nB,clinic,260.17,24.94\n", "row 2"),
    ("name,category,lon,lat\nA,clinic,385000,6672000\n", "look projected"),
    ("name,category,lon,lat\nA,clinic,24.94,sixty\n", "'sixty' is not a number"),
    ("name,category,lon,lat\nA,clinic,116.40,39.90\n", "none of the 1 facilities"),
    ("name,category,lon,lat\nA,,24.94,60.17\n", "empty category"),
])
def test_bad_facility_files(tmp_path, helsinki_network, csv, message):
    with pytest.raises(InputError) as exc:
        analyze(_config(tmp_path, csv), network=helsinki_network)
    text = str(exc.value)
    assert message in text and "fac.csv" in text and "\n" not in text


def test_far_facility_reported_not_snapped(tmp_path, helsinki_network):
    cfg = _config(tmp_path, HELSINKI_CSV + "C,clinic,25.2,60.3\n")
    r = analyze(cfg, network=helsinki_network)
    assert r.facilities["on_network"].tolist() == [True, True, False]
    assert any("farther than 500 m" in w for w in r.warnings)


def test_missing_files(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    cfg = config_from_dict({"network": {"path": "missing.osm.pbf"}, "categories": {"clinic": {}},
                            "facilities": [{"path": "osm"}]}, base_dir=tmp_path)
    with pytest.raises(InputError, match="missing.osm.pbf.*not found"):
        analyze(cfg)


@pytest.mark.parametrize("data, message", [
    ({"network": {"paht": "x.osm.pbf"}}, "did you mean 'path'"),
    ({"network": {"path": "x"}, "categories": {"clinic": {"minuts": 15}}, "facilities": [{"path": "osm"}]},
     "did you mean 'minutes'"),
    ({"network": {"path": "x"}, "categories": {"clinic": {"minutes": "15"}}, "facilities": [{"path": "osm"}]},
     "is not a number"),
    ({"network": {"path": "x"}, "categories": {"clinic": {}}, "facilities": [{"path": "osm", "category": "clinc"}]},
     "did you mean 'clinic'"),
    ({"network": {"path": "x"}, "speed": {"profile": "run"}, "categories": {"clinic": {}}, "facilities": [{"path": "osm"}]},
     "unknown profile"),
])
def test_config_errors_name_the_key(data, message):
    with pytest.raises(InputError, match=message):
        config_from_dict(data)


def test_osm_facilities_and_elderly_profile(tmp_path, helsinki_network):
    base = {"network": {"path": str(OSM / "helsinki.osm.pbf")}, "categories": {"clinic": {}, "fitness": {}},
            "facilities": [{"path": "osm"}]}
    walk = analyze(config_from_dict(base, base_dir=tmp_path), network=helsinki_network)
    slow = analyze(config_from_dict({**base, "speed": {"profile": "elderly"}}, base_dir=tmp_path),
                   network=helsinki_network)
    assert walk.coverage.set_index("category").loc["clinic", "facilities"] >= 3
    t0, t1 = walk.demand["time_clinic"].to_numpy(), slow.demand["time_clinic"].to_numpy()
    ok = np.isfinite(t0) & np.isfinite(t1)
    np.testing.assert_allclose(t1[ok], t0[ok] * 4.0 / 3.0)
    assert (slow.coverage["covered"] <= walk.coverage["covered"]).all()


def test_boundaries_give_unit_table(tmp_path, helsinki_network):
    # two real halves of the Helsinki extract as units
    lo, hi = helsinki_network.node_xy.min(axis=0), helsinki_network.node_xy.max(axis=0)
    mid = (lo[0] + hi[0]) / 2
    units = gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[shapely.box(lo[0], lo[1], mid, hi[1]),
                                                                    shapely.box(mid, lo[1], hi[0], hi[1])],
                             crs=helsinki_network.crs).to_crs(4326)
    units.to_file(tmp_path / "units.geojson")
    base = {"network": {"path": str(OSM / "helsinki.osm.pbf")}, "categories": {"clinic": {}},
            "facilities": [{"path": "osm"}], "boundaries": {"path": "units.geojson"}}
    r = analyze(config_from_dict(base, base_dir=tmp_path), network=helsinki_network)
    u = r.unit_coverage
    assert set(u["unit"]) == {"west", "east"}
    comb = u[u["category"] == "combined"]
    assert comb["share_covered"].is_monotonic_increasing  # worst first
    assert u[u["category"] == "clinic"]["demand"].sum() == r.coverage.set_index("category").loc["clinic", "demand"]


def test_units_larger_than_the_extract_are_named(tmp_path, helsinki_network):
    """A district boundary far larger than the OSM extract: its cells off the network are not silently 'gaps'."""
    lo, hi = helsinki_network.node_xy.min(axis=0), helsinki_network.node_xy.max(axis=0)
    mid = (lo + hi) / 2
    units = gpd.GeoDataFrame({"name": ["core", "district"]},
                             geometry=[shapely.box(*(mid - 300), *(mid + 300)),
                                       shapely.box(lo[0] - 4000, lo[1] - 4000, hi[0] + 4000, hi[1] + 4000)],
                             crs=helsinki_network.crs).to_crs(4326)
    units.to_file(tmp_path / "units.geojson")
    base = {"network": {"path": str(OSM / "helsinki.osm.pbf")}, "categories": {"clinic": {}},
            "facilities": [{"path": "osm"}], "boundaries": {"path": "units.geojson"}}
    r = analyze(config_from_dict(base, base_dir=tmp_path), network=helsinki_network)
    msgs = [w for w in r.warnings if "beyond the walking network" in w]
    assert len(msgs) == 1 and "district (" in msgs[0] and "core (" not in msgs[0]
    row = r.unit_coverage[(r.unit_coverage["unit"] == "district") & (r.unit_coverage["category"] == "clinic")].iloc[0]
    assert row["unreachable"] / row["demand"] > 0.5


def test_chinese_example_config_runs(root):
    """configs/beijing_tsinghua.toml: the five categories of the 15-minute public-service circle from OSM tags."""
    r = analyze(root / "configs" / "beijing_tsinghua.toml")
    cov = r.coverage.set_index("category")
    assert list(cov.index) == ["elderly_care", "childcare", "clinic", "culture", "convenience", "fitness", "combined"]
    assert cov.loc["elderly_care", "facilities"] == 0 and cov.loc["elderly_care", "covered"] == 0
    assert any("elderly_care" in w for w in r.warnings)
    # elderly care and fitness are not required, so the combined circle is childcare + clinic + culture + convenience
    d = r.demand
    expect = d[[f"covered_{c}" for c in ("childcare", "clinic", "culture", "convenience")]].all(axis=1).sum()
    assert cov.loc["combined", "covered"] == expect > 0
    assert r.config.output.lang == "zh" and r.config.categories["clinic"].label("zh") == "医疗卫生"
