"""Population inputs on real data: the Helsinki 250 m grid (as a GeoTIFF, polygons and points) and the
Porto Alegre census hexagons of the demo."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from access15.config import PopulationConfig, config_from_dict
from access15.demand import apply_population, distribute, grid_demand, node_demand, study_area
from access15.errors import AccessWarning, InputError
from access15.io.population import read_population, read_raster, read_vector

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "data" / "population" / "helsinki_population_grid_2020.gpkg"
CELL = 250.0


def _write_tif(path: Path, cells: gpd.GeoDataFrame, values: np.ndarray, nodata: float = -9999.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> None:
    """Burn the real 250 m cells into a GeoTIFF in their native CRS (EPSG:3879, Helsinki GK25)."""
    import rasterio
    from rasterio.transform import from_origin

    c = shapely.get_coordinates(cells.to_crs(3879).geometry.centroid.values)
    x0 = np.floor((c[:, 0].min() - CELL / 2) / CELL) * CELL
    y1 = np.ceil((c[:, 1].max() + CELL / 2) / CELL) * CELL
    col = np.floor((c[:, 0] - x0) / CELL).astype(int)
    row = np.floor((y1 - c[:, 1]) / CELL).astype(int)
    arr = np.full((row.max() + 3, col.max() + 3), nodata, dtype=np.float32)
    arr[row, col] = values
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype="float32", crs="EPSG:3879", nodata=nodata,
                       transform=from_origin(x0 + shift[0], y1 + shift[1], CELL, CELL)) as ds:
        ds.write(arr, 1)


@pytest.fixture(scope="module")
def grid_cells() -> gpd.GeoDataFrame:
    return gpd.read_file(GRID)


@pytest.fixture(scope="module")
def hel_demand(helsinki_network):
    return grid_demand(helsinki_network, None, 100.0, 500.0)


@pytest.fixture(scope="module")
def hel_area(helsinki_network):
    return study_area(helsinki_network.hull(), None, 500.0)


def _inside_total(cells: gpd.GeoDataFrame, net, area) -> float:
    """Independent expectation: persons of the cells whose centre lies in the study area."""
    cen = cells.to_crs(net.crs).geometry.centroid
    return float(cells["population"][shapely.contains_xy(area, cen.x.values, cen.y.values)].sum())


def test_raster_total_equals_raster_sum_in_study_area(tmp_path, grid_cells, helsinki_network, hel_demand, hel_area):
    tif = tmp_path / "pop.tif"
    _write_tif(tif, grid_cells, grid_cells["population"].to_numpy(np.float32))
    pc = PopulationConfig(path=str(tif), kind="raster")
    src = read_raster(pc, tif, helsinki_network.crs, hel_area)
    expected = _inside_total(grid_cells, helsinki_network, hel_area)
    assert 0 < expected < grid_cells["population"].sum()  # the grid only partly overlaps the extract
    assert src.values.sum() == pytest.approx(expected, rel=1e-9)
    # footprints were reprojected correctly: 250 m squares (62,500 m²) near the real cells
    assert np.allclose(shapely.area(src.geometry), CELL * CELL, rtol=0.02)
    dem = apply_population(src, hel_demand, hel_area)
    assert dem.points["weight"].sum() == pytest.approx(expected, rel=1e-9)
    assert "population raster pop.tif" in dem.label
    # footprints sit exactly on the real cells (reprojected EPSG:3879 -> UTM 35N, not swapped)
    cen = grid_cells.to_crs(helsinki_network.crs).geometry.centroid
    real = np.c_[cen.x.values, cen.y.values]
    got = shapely.get_coordinates(shapely.centroid(src.geometry))
    gap = np.min(np.hypot(got[:, None, 0] - real[None, :, 0], got[:, None, 1] - real[None, :, 1]), axis=1)
    assert gap.max() < 2.0  # the HSY grid sits 1 m off the 250 m lattice the GeoTIFF snaps to
    # and every person lands within a cell diagonal of the cell they live in
    xy = shapely.get_coordinates(dem.points.geometry.values)
    far = np.hypot(*(np.average(xy, axis=0, weights=dem.points["weight"])
                     - np.average(got, axis=0, weights=src.values[:, 0])))
    assert far < CELL * 1.5


def test_raster_negative_cells_warned_and_ignored(tmp_path, grid_cells, helsinki_network, hel_area):
    vals = grid_cells["population"].to_numpy(np.float32).copy()
    cen = grid_cells.to_crs(helsinki_network.crs).geometry.centroid
    i = int(np.flatnonzero(shapely.contains_xy(hel_area, cen.x.values, cen.y.values))[0])
    vals[i] = -50
    tif = tmp_path / "neg.tif"
    _write_tif(tif, grid_cells, vals)
    with pytest.warns(AccessWarning, match="1 raster cells have negative population"):
        src = read_raster(PopulationConfig(path=str(tif), kind="raster"), tif, helsinki_network.crs, hel_area)
    expected = _inside_total(grid_cells, helsinki_network, hel_area) - grid_cells["population"].iloc[i]
    assert src.values.sum() == pytest.approx(expected)


def test_raster_without_overlap_is_an_input_error(tmp_path, grid_cells, helsinki_network, hel_area):
    tif = tmp_path / "far.tif"
    _write_tif(tif, grid_cells, grid_cells["population"].to_numpy(np.float32), shift=(200_000.0, 0.0))
    with pytest.raises(InputError, match="does not overlap the study area"):
        read_raster(PopulationConfig(path=str(tif), kind="raster"), tif, helsinki_network.crs, hel_area)


def test_polygons_conserve_population_per_polygon(grid_cells, helsinki_network, hel_demand, hel_area):
    cells = grid_cells.to_crs(helsinki_network.crs)
    inside = shapely.within(cells.geometry.values, hel_area)
    geom = cells.geometry.values[inside]
    pop = cells["population"].to_numpy(float)[inside]
    # one small real-size polygon away from every demand cell centre (a courtyard) must still be conserved
    far = shapely.buffer(shapely.Point(*shapely.get_coordinates(hel_area.exterior)[0]), 5.0)
    geom = np.r_[geom, far]
    pop = np.r_[pop, 37.0]
    from access15.io.population import PopulationSource

    # one column per polygon: column j holds only polygon j's people, so column sums check each polygon
    src = PopulationSource(np.asarray(geom, dtype=object), np.diag(pop), [f"p{j}" for j in range(len(pop))],
                           "polygons", "test")
    per, outside = distribute(src, hel_demand, None)
    assert outside == 0
    np.testing.assert_allclose(per.sum(axis=0), pop, rtol=1e-9)
    # and on node demand (equal split over the points inside, nearest point otherwise)
    nodes = node_demand(helsinki_network)
    per, _ = distribute(src, nodes, None)
    np.testing.assert_allclose(per.sum(axis=0), pop, rtol=1e-9)


def test_polygons_straddling_the_study_area_keep_their_inside_share(tmp_path, grid_cells, helsinki_network,
                                                                     hel_demand, hel_area):
    gpkg = tmp_path / "cells.gpkg"
    grid_cells.to_file(gpkg)
    pc = PopulationConfig(path=str(gpkg), kind="polygons")
    src = read_vector(pc, gpkg, helsinki_network.crs)
    cells = grid_cells.to_crs(helsinki_network.crs)
    frac = shapely.area(shapely.intersection(cells.geometry.values, hel_area)) / shapely.area(cells.geometry.values)
    expected = float((cells["population"] * frac).sum())
    with pytest.warns(AccessWarning, match="live outside the study area"):
        dem = apply_population(src, hel_demand, hel_area)
    assert dem.points["weight"].sum() == pytest.approx(expected, rel=1e-9)


def test_points_become_demand_points(tmp_path, grid_cells, helsinki_network, hel_area):
    cen = grid_cells.geometry.centroid
    csv = tmp_path / "compounds.csv"
    pd.DataFrame({"lon": cen.x, "lat": cen.y, "population": grid_cells["population"],
                  "pop_65plus": (grid_cells["population"] * 0.2).round()}).to_csv(csv, index=False)
    pc = PopulationConfig(path=str(csv), kind="points", columns=["pop_65plus"])
    src = read_population(pc, Path, helsinki_network.crs, hel_area)
    dem = apply_population(src, grid_demand(helsinki_network, None, 100.0), hel_area)
    assert dem.grid is None
    expected = _inside_total(grid_cells, helsinki_network, hel_area)
    assert len(dem.points) == int(shapely.contains_xy(hel_area, *shapely.get_coordinates(
        cen.to_crs(helsinki_network.crs).values).T).sum())
    assert dem.points["weight"].sum() == pytest.approx(expected)
    assert "pop_65plus" in dem.points.columns
    assert dem.points["pop_65plus"].sum() < dem.points["weight"].sum()


def _csv(tmp_path, rows: dict) -> Path:
    p = tmp_path / "pop.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


@pytest.mark.parametrize("value, match", [("", "row 2, field 'population': missing or non-numeric"),
                                          ("-3", "row 2, field 'population': negative population")])
def test_bad_population_values(tmp_path, helsinki_network, value, match):
    p = _csv(tmp_path, {"lon": [24.94, 24.95], "lat": [60.17, 60.17], "population": ["10", value]})
    with pytest.raises(InputError, match=match):
        read_vector(PopulationConfig(path=str(p), kind="points"), p, helsinki_network.crs)


def test_invalid_polygon_is_repaired_and_reported(tmp_path, grid_cells, helsinki_network):
    g = grid_cells.head(3).copy()
    x0, y0, x1, y1 = g.geometry.iloc[1].bounds
    g.loc[g.index[1], "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # bow-tie
    path = tmp_path / "bad.gpkg"
    g.to_file(path)
    with pytest.warns(AccessWarning, match=r"repaired 1 invalid population polygon\(s\) \(rows 2\)"):
        src = read_vector(PopulationConfig(path=str(path), kind="polygons"), path, helsinki_network.crs)
    assert shapely.is_valid(src.geometry).all()
    assert shapely.area(src.geometry[1]) > 0


def test_h3_ids_and_bad_h3_id(tmp_path, porto_alegre_network):
    p = _csv(tmp_path, {"id": ["89a901291abffff", "not-a-cell"], "population": [1, 2]})
    with pytest.raises(InputError, match="row 2, field 'id': 'not-a-cell' is not an H3 cell id"):
        read_vector(PopulationConfig(path=str(p), h3_column="id"), p, porto_alegre_network.crs)


def test_config_checks(tmp_path):
    base = {"network": {"path": "x.osm.pbf"}, "facilities": [{"path": "osm"}],
            "categories": {"elderly_care": {"population": "pop_65plus"}}}
    with pytest.raises(InputError, match="population = 'pop_65plus' is not a population column"):
        config_from_dict(base)
    with pytest.raises(InputError, match=r"\[population\] kind = 'grid'"):
        config_from_dict({**base, "population": {"path": "p.tif", "kind": "grid", "columns": ["pop_65plus"]}})
    with pytest.raises(InputError, match="did you mean 'column'"):
        config_from_dict({**base, "population": {"path": "p.csv", "colum": "x"}})
    cfg = config_from_dict({**base, "population": {"path": "p.csv", "columns": ["pop_65plus"]}})
    assert cfg.categories["elderly_care"].population == "pop_65plus"


def test_demo_is_population_weighted(demo_result):
    assert demo_result.demand["weight"].sum() == pytest.approx(812_935, rel=1e-9)
    assert "812,935 persons" in demo_result.demand_label
    cov = demo_result.coverage.set_index("category")
    assert cov.loc["clinic", "demand"] == pytest.approx(812_935)
    # residents are not spread evenly: the share of residents differs from the share of cells
    cells = (demo_result.demand["covered_clinic"]).mean()
    assert abs(cov.loc["clinic", "share_covered"] - cells) > 0.01


def test_building_estimate_is_scaled_and_labelled(tmp_path):
    """No population at all: the dasymetric estimate from Tsinghua's residential buildings."""
    from access15.network import load_network

    osm = ROOT / "data" / "osm" / "beijing_haidian_tsinghua.osm.pbf"
    net = load_network(osm)
    area = study_area(net.hull(), None, 500.0)
    a = read_population(PopulationConfig(kind="buildings", total=50_000), Path, net.crs, area, osm)
    b = read_population(PopulationConfig(kind="buildings", total=50_000, default_levels=6), Path, net.crs, area, osm)
    assert a.estimated and a.label.startswith("ESTIMATED population")
    assert "2 levels where untagged" in a.label and "scaled to 50,000 persons" in a.label
    assert len(a.values) > 100
    assert a.values.sum() == pytest.approx(50_000)
    # persons per m² of footprint follow the levels: untagged buildings (most) all share one density,
    # and raising the default number of levels moves people towards them
    dens = a.values[:, 0] / shapely.area(a.geometry)
    common = np.median(dens)
    assert np.isclose(dens, common).mean() > 0.5 and not np.allclose(dens, common)
    untagged = np.isclose(dens, common)
    assert b.values[untagged, 0].sum() > a.values[untagged, 0].sum()
    dem = apply_population(a, grid_demand(net, None, 100.0), area)
    assert dem.points["weight"].sum() == pytest.approx(50_000)
    assert dem.label.startswith("ESTIMATED")
    with pytest.raises(InputError, match="needs total"):
        config_from_dict({"network": {"path": str(osm)}, "facilities": [{"path": "osm"}],
                          "categories": {"clinic": {}}, "population": {"kind": "buildings"}})


def test_category_measured_against_its_age_group(tmp_path, grid_cells, helsinki_network):
    """elderly_care counts residents aged 65+ (a column derived here from the real grid: 20% of each cell)."""
    from access15 import analyze

    cen = grid_cells.geometry.centroid
    csv = tmp_path / "compounds.csv"
    pd.DataFrame({"lon": cen.x, "lat": cen.y, "population": grid_cells["population"],
                  "pop_65plus": (grid_cells["population"] * 0.2).round()}).to_csv(csv, index=False)
    cfg = config_from_dict({
        "network": {"path": str(ROOT / "data" / "osm" / "helsinki.osm.pbf")},
        "population": {"path": str(csv), "kind": "points", "columns": ["pop_65plus"]},
        "categories": {"clinic": {"minutes": 10}, "fitness": {"minutes": 10, "population": "pop_65plus"}},
        "facilities": [{"path": "osm"}],
    })
    res = analyze(cfg, network=helsinki_network)
    cov = res.coverage.set_index("category")
    d = res.demand
    assert cov.loc["fitness", "demand"] == pytest.approx(d["pop_65plus"].sum())
    assert cov.loc["clinic", "demand"] == pytest.approx(d["weight"].sum())
    assert cov.loc["fitness", "covered"] == pytest.approx(d.loc[d["covered_fitness"], "pop_65plus"].sum())
    sup = res.supply.set_index("category")
    assert sup.loc["fitness", "population"] == "pop_65plus"
    assert sup.loc["fitness", "residents"] == pytest.approx(d["pop_65plus"].sum())


def test_age_groups_need_a_vector_file():
    with pytest.raises(InputError, match=r"columns \(age groups\) cannot come from kind = \"raster\""):
        config_from_dict({"network": {"path": "x.pbf"}, "facilities": [{"path": "osm"}], "categories": {"clinic": {}},
                          "population": {"path": "p.tif", "kind": "raster", "columns": ["pop_65plus"]}})


def test_polygons_spread_by_residential_floor_area(grid_cells, helsinki_network, hel_demand):
    """Census polygons refined by the OSM buildings inside them (Helsinki: apartments and building=yes)."""
    from access15.io.osm import residential_buildings
    from access15.io.population import PopulationSource, refine_by_buildings

    osm = ROOT / "data" / "osm" / "helsinki.osm.pbf"
    bgeom, floor = residential_buildings(osm, helsinki_network.crs, 2.0, ["apartments", "yes"])
    cells = grid_cells.to_crs(helsinki_network.crs)
    inside = shapely.within(cells.geometry.values, helsinki_network.hull())
    geom = np.asarray(cells.geometry.values[inside], dtype=object)
    pop = cells["population"].to_numpy(float)[inside]
    src = PopulationSource(geom, np.diag(pop), [f"p{j}" for j in range(len(pop))], "polygons", "test (x)")
    fine = refine_by_buildings(src, bgeom, floor)
    assert "spread by the floor area of" in fine.label
    per, _ = distribute(fine, hel_demand, None)
    np.testing.assert_allclose(per.sum(axis=0), pop, rtol=1e-9)  # every polygon conserved
    # a polygon with buildings puts all its people in the cells that hold those buildings
    bpts = shapely.point_on_surface(bgeom)
    j = int(np.argmax([shapely.contains(g, bpts).sum() for g in geom]))
    assert shapely.contains(geom[j], bpts).sum() >= 3
    cells_xy = hel_demand.grid.cell_polygons(hel_demand.points["ix"].to_numpy(), hel_demand.points["iy"].to_numpy())
    got = per[:, j] > 0
    hold = shapely.STRtree(bpts[shapely.contains(geom[j], bpts)]).query(cells_xy, predicate="intersects")[0]
    assert set(np.flatnonzero(got)) <= set(hold)
    # and the area rule would have spread them wider
    coarse, _ = distribute(src, hel_demand, None)
    assert (coarse[:, j] > 0).sum() > got.sum()


def test_dasymetric_config_end_to_end(tmp_path, grid_cells, helsinki_network):
    from access15 import analyze

    gpkg = tmp_path / "cells.gpkg"
    grid_cells.to_file(gpkg)
    base = {"network": {"path": str(ROOT / "data" / "osm" / "helsinki.osm.pbf")},
            "categories": {"clinic": {"minutes": 10}}, "facilities": [{"path": "osm"}]}
    pop = {"path": str(gpkg), "kind": "polygons", "dasymetric": "buildings", "building_values": ["apartments", "yes"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccessWarning)
        fine = analyze(config_from_dict({**base, "population": pop}), network=helsinki_network)
        pop.pop("dasymetric")
        coarse = analyze(config_from_dict({**base, "population": pop}), network=helsinki_network)
    assert "residential buildings" in fine.demand_label
    assert fine.demand["weight"].sum() == pytest.approx(coarse.demand["weight"].sum(), rel=0.05)
    assert (fine.demand["weight"] > 0).sum() < (coarse.demand["weight"] > 0).sum()
    with pytest.raises(InputError, match="dasymetric = 'buildings' with kind = 'raster'"):
        config_from_dict({**base, "population": {"path": "p.tif", "kind": "raster", "dasymetric": "buildings"}})


def test_polygon_without_area_is_refused(tmp_path, grid_cells, helsinki_network):
    g = grid_cells.head(3).copy()
    x0, y0, x1, y1 = g.geometry.iloc[2].bounds
    g.loc[g.index[2], "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x0, y0), (x0, y0)])  # a line
    path = tmp_path / "flat.gpkg"
    g.to_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccessWarning)
        with pytest.raises(InputError, match="row 3, field 'geometry': polygon cannot be repaired"):
            read_vector(PopulationConfig(path=str(path), kind="polygons"), path, helsinki_network.crs)
