"""Many regions: Porto Alegre split into boxes, on a local Dask cluster (2 worker processes) and one by one."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from access15 import analyze
from access15.batch import default_buffer_m, load_regions, run_batch, run_region
from access15.cli import app
from access15.config import load_config
from access15.errors import InputError

X0, Y0, W = -51.215, -30.07, 0.02
COLS = ["region", "category", "demand", "covered", "share_covered", "median_min", "p90_min", "unreachable",
        "no_facility_in_reach"]


@pytest.fixture(scope="module")
def regions_file(tmp_path_factory):
    """Three regions over central Porto Alegre; 'north' has two boxes, dissolved into one region."""
    boxes = [shapely.box(X0 + i * W, Y0 + j * W, X0 + (i + 1) * W, Y0 + (j + 1) * W) for j in range(2) for i in range(2)]
    gdf = gpd.GeoDataFrame({"county": ["southwest", "southeast", "north", "north"], "code": [1, 2, 3, 3]},
                           geometry=boxes, crs=4326)
    path = tmp_path_factory.mktemp("regions") / "boxes.gpkg"
    gdf.to_file(path, driver="GPKG")
    return path


@pytest.fixture(scope="module")
def config(root, tmp_path_factory):
    text = (root / "configs" / "porto_alegre.toml").read_text(encoding="utf-8")
    text = text.replace('"../data/', f'"{(root / "data").as_posix()}/')
    base = tmp_path_factory.mktemp("batchcfg")
    text = text.replace("max_snap_m = 500", f'max_snap_m = 500\ncache_dir = "{(base / "cache").as_posix()}"')
    text = text.replace('dir = "../maps/porto_alegre"', f'dir = "{(base / "out").as_posix()}"')
    path = base / "pa.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def serial(config, regions_file):
    return run_batch(config, regions_file, "county", scheduler="serial")


def test_regions_are_dissolved_by_the_column(regions_file):
    regs = load_regions(regions_file, "county")
    assert regs["region"].tolist() == ["southwest", "southeast", "north"]
    assert regs.geometry.iloc[2].area == pytest.approx(2 * W * W)


def test_batch_equals_one_analysis_of_the_whole_area(config, regions_file):
    """Cross-border facilities count: each region's figures equal the per-unit figures of one analysis over
    the whole network (with the same reach), though every region was run on a clipped network.

    (Area coverage: with census polygons the residents of a polygon cut by a region border are spread over
    that region's cells only, which one whole-area run does differently.)"""
    cfg = load_config(config)
    cfg.population = None
    serial = run_batch(cfg, regions_file, "county", scheduler="serial")
    assert not serial.failed and list(serial.regions) == ["southwest", "southeast", "north"]
    assert serial.buffer_m == default_buffer_m(cfg) == pytest.approx(1000.0)
    cfg.max_minutes = serial.buffer_m / cfg.speed_m_per_min
    whole = analyze(cfg, boundaries=load_regions(regions_file, "county").rename(columns={"region": "unit"}))
    order = {n: i for i, n in enumerate(serial.regions)}
    units = whole.unit_coverage.rename(columns={"unit": "region"})
    units = units.sort_values("region", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(units[COLS], serial.coverage[COLS])
    # the clipped networks are much smaller than the whole one, and facilities outside a region were used
    for name, res in serial.regions.items():
        assert res.edges < serial.info["network_edges"] / 2
        inside = shapely.contains_xy(load_regions(regions_file, "county").to_crs(res.demand.crs).geometry.iloc[
            order[name]], *shapely.get_coordinates(res.demand.geometry.values).T)
        assert inside.all()  # demand only inside the region
    near = serial.regions["southwest"].demand["nearest_clinic"]
    assert near.ne("").any()


def test_dask_local_cluster_matches_one_by_one(config, regions_file, serial):
    """Two worker processes, a region that cannot run, progress reported for every region."""
    regs = load_regions(regions_file, "county")
    far = gpd.GeoDataFrame({"region": ["atlantic"]}, geometry=[shapely.box(-40.0, -31.0, -39.9, -30.9)], crs=4326)
    regs = pd.concat([regs, far], ignore_index=True)
    seen = []
    res = run_batch(config, regs, "region", workers=2, progress=lambda done, total, name: seen.append((done, total)))
    assert list(res.failed) == ["atlantic"] and "no walkable street" in res.failed["atlantic"]
    assert sorted(seen) == [(i, 4) for i in range(1, 5)]
    assert "residents" in res.demand_label and res.demand_label == serial.regions["north"].demand_label
    pd.testing.assert_frame_equal(res.coverage, serial.coverage)
    for name, one in serial.regions.items():
        times = [c for c in one.demand.columns if c.startswith("time_")]
        np.testing.assert_array_equal(res.regions[name].demand[times].to_numpy(), one.demand[times].to_numpy())


def test_run_region_is_what_the_batch_runs(config, regions_file, serial):
    from access15.cache import ensure_cached
    from access15.io.facilities import load_facilities

    cfg = load_config(config)
    entry, net = ensure_cached(cfg)
    fac = load_facilities(cfg.facilities, cfg.resolve, list(cfg.categories), cfg.resolve(cfg.network.path))
    reg = load_regions(regions_file, "county").iloc[1]
    one = run_region(cfg, reg["region"], reg.geometry, str(entry), fac, serial.buffer_m)
    pd.testing.assert_frame_equal(one.coverage, serial.regions["southeast"].coverage)


def test_cli_batch_writes_the_merged_table(config, regions_file, serial, tmp_path):
    out = tmp_path / "batch"
    r = CliRunner().invoke(app, ["batch", str(config), "--regions", str(regions_file), "--by", "county",
                                 "--scheduler", "serial", "--out", str(out)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "batch_coverage.csv")
    assert table["region"].tolist() == serial.coverage["region"].tolist()
    np.testing.assert_allclose(table["share_covered"], serial.coverage["share_covered"], rtol=1e-5)
    assert not (out / "batch_failed.csv").exists()
    bad = CliRunner().invoke(app, ["batch", str(config), "--regions", str(regions_file), "--by", "district",
                                   "--scheduler", "serial", "--out", str(out)])
    assert bad.exit_code == 2 and "district" in bad.output


def test_buffer_below_snap_distance_is_refused(config, regions_file):
    with pytest.raises(InputError, match="buffer"):
        run_batch(config, regions_file, "county", scheduler="serial", buffer_m=100)


def test_cli_batch_on_gcj02_districts_reports_the_region_without_streets(root, tmp_path):
    """Real district outlines in GCJ-02 (Haidian, Longgang) over the Tsinghua extract: Haidian runs, Longgang
    (2,000 km away) has no street within reach and is reported, with exit status 1."""
    text = (root / "configs" / "beijing_tsinghua.toml").read_text(encoding="utf-8")
    text = text.replace('"../data/', f'"{(root / "data").as_posix()}/')
    text = text.replace("[network]\n", f'[network]\ncache_dir = "{(tmp_path / "cache").as_posix()}"\n')
    cfg = tmp_path / "tsinghua.toml"
    cfg.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["batch", str(cfg), "--regions",
                                 str(root / "data/boundaries/haidian_longgang_districts_gcj02.geojson"),
                                 "--by", "district", "--regions-crs", "gcj02", "--scheduler", "serial",
                                 "--out", str(out)], env={"ACCESS15_LANG": ""})
    assert r.exit_code == 1, r.output
    # the example's language ([output] lang = "zh"): the failed region's reason in Chinese
    assert "区域运行失败" in r.output and "龙岗区" in r.output and "该区域可达范围内没有步行道路" in r.output
    table = pd.read_csv(out / "batch_coverage.csv")
    assert set(table["region"]) == {"海淀区"}
    failed = pd.read_csv(out / "batch_failed.csv")
    assert failed["region"].tolist() == ["龙岗区"]
    # Haidian is ~431 km2: one 100 m cell per hectare, inside the district only
    demand = table.loc[table["category"] == "clinic", "demand"].iloc[0]
    assert 40_000 < demand < 46_000
    assert table.loc[table["category"] == "clinic", "covered"].iloc[0] > 0
