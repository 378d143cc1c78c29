"""Outputs that scale: the grid rasters (COG) equal the table's minutes and weights; GeoParquet equals the
GeoPackage."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely

from access15.provenance import verify_outputs
from tests.conftest import write_outputs_quietly


@pytest.fixture(scope="module")
def written(demo_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("scalable")
    files = write_outputs_quietly(demo_result, out, html=False)
    return demo_result, out, files


def _cells(src, dem):
    """The raster row and column of each demand point, read from the raster's own transform."""
    rows, cols = rasterio.transform.rowcol(src.transform, dem.geometry.x.to_numpy(), dem.geometry.y.to_numpy())
    return np.asarray(rows), np.asarray(cols)


def test_travel_time_raster_equals_the_table(written):
    res, out, files = written
    dem = res.demand
    with rasterio.open(files["travel_time_tif"]) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.crs == dem.crs and src.res == (res.grid.cell, res.grid.cell)
        cats = [*res.config.categories, "combined"]
        assert list(src.descriptions) == cats
        rows, cols = _cells(src, dem)
        for i, cat in enumerate(cats, start=1):
            band = src.read(i)
            want = dem[f"time_{cat}"].to_numpy(np.float32)
            got = band[rows, cols]
            assert np.array_equal(got, want), cat  # inf (none within the limit) included
            empty = np.ones(band.shape, bool)
            empty[rows, cols] = False
            assert np.isnan(band[empty]).all()  # no demand point: nodata
        assert np.isinf(src.read(3)[rows, cols]).any()  # the demo's fitness circle has unreachable cells


def test_coverage_raster_sums_to_the_coverage_table(written):
    res, out, files = written
    with rasterio.open(files["coverage_tif"]) as src:
        names = list(src.descriptions)
        demand = src.read(names.index("demand") + 1)
        assert np.nansum(demand, dtype=np.float64) == pytest.approx(res.demand["weight"].sum(), rel=1e-6)
        cov = res.coverage.set_index("category")
        for cat in [*res.config.categories, "combined"]:
            unc = np.nansum(src.read(names.index(f"uncovered_{cat}") + 1), dtype=np.float64)
            assert unc == pytest.approx(cov.loc[cat, "demand"] - cov.loc[cat, "covered"], rel=1e-5, abs=1e-3), cat


def test_geoparquet_equals_the_geopackage(written):
    res, out, files = written
    fac_pq = gpd.read_parquet(files["facilities_parquet"])
    fac_gpkg = gpd.read_file(files["gpkg"], layer="facilities")
    assert fac_pq.crs.to_epsg() == 4326 and len(fac_pq) == len(fac_gpkg)
    assert fac_pq.geometry.geom_equals_exact(fac_gpkg.geometry, 1e-9).all()
    assert fac_pq["facility_id"].tolist() == fac_gpkg["facility_id"].tolist()
    dem_pq = gpd.read_parquet(files["demand_parquet"])
    dem_gpkg = gpd.read_file(files["gpkg"], layer="demand")
    assert len(dem_pq) == len(dem_gpkg) and (dem_pq.geom_type == "Point").all()
    assert dem_gpkg.geometry.contains(dem_pq.geometry).all()  # each point is its cell's centre
    for col in ("weight", "time_clinic", "covered_combined", "missing"):
        pd.testing.assert_series_equal(dem_pq[col], dem_gpkg[col], check_dtype=False, check_names=False)


def test_streamed_geoparquet_is_what_geopandas_writes(written, tmp_path, monkeypatch):
    """demand.parquet is written in batches from the Arrow table: the same frame, geometry and GeoParquet
    metadata (bbox included) as geopandas' to_parquet of the same rows, in one row group per batch."""
    import pyarrow.parquet as pq

    from access15 import rasters
    from access15.coords import WGS84, transform_xy
    from access15.outputs import arrow_table, demand_attributes

    res, out, files = written
    monkeypatch.setattr(rasters, "PARQUET_BATCH", 1000)
    attrs = demand_attributes(res)
    lonlat = transform_xy(shapely.get_coordinates(res.demand.geometry.values), res.demand.crs, WGS84)
    rasters.write_points_parquet(tmp_path / "streamed.parquet", arrow_table(attrs), lonlat)
    gpd.GeoDataFrame(attrs, geometry=res.demand.geometry.to_crs(4326).values, crs=4326).to_parquet(tmp_path / "gpd.parquet")
    a, b = gpd.read_parquet(tmp_path / "streamed.parquet"), gpd.read_parquet(tmp_path / "gpd.parquet")
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert a.crs == b.crs and a.geometry.geom_equals_exact(b.geometry, 0).all()
    geo_a, geo_b = (json.loads(pq.read_schema(p).metadata[b"geo"]) for p in (tmp_path / "streamed.parquet",
                                                                            tmp_path / "gpd.parquet"))
    assert geo_a == geo_b
    assert pq.read_metadata(tmp_path / "streamed.parquet").num_row_groups == -(-len(attrs) // 1000)
    empty = tmp_path / "empty.parquet"
    rasters.write_points_parquet(empty, arrow_table(attrs.iloc[:0]), lonlat[:0])
    assert len(gpd.read_parquet(empty)) == 0


def test_the_new_files_are_in_run_json(written):
    res, out, files = written
    listed = {rec["name"] for rec in json.loads((out / "run.json").read_text(encoding="utf-8"))["outputs"]}
    assert {"travel_time.tif", "coverage.tif", "demand.parquet", "facilities.parquet"} <= listed
    assert not verify_outputs(out)  # every file listed with its SHA-256, none changed


def test_missing_labels_name_every_required_category_outside(demo_result):
    from access15.outputs import missing_labels

    req = [c for c, k in demo_result.config.categories.items() if k.required]
    got = missing_labels(demo_result.demand, req)
    for i in np.random.default_rng(0).choice(len(got), 500, replace=False):  # against a plain reading
        want = ",".join(c for c in req if not demo_result.demand[f"covered_{c}"].iat[i])
        assert got[i] == want
    assert (got == "").sum() == demo_result.demand["covered_combined"].sum()


def test_gpkg_as_points_holds_the_same_rows_and_renders_the_same_map(written, tmp_path):
    """[output] gpkg_cells = "points": the demand and gaps layers hold the cell centres with the same columns
    and values; access15 map rebuilds the same view from it (the cells come from the stored indices)."""
    from dataclasses import replace

    from access15.outputs import load_result

    res, out, files = written
    cfg = replace(res.config, output=replace(res.config.output, gpkg_cells="points"))
    pts = write_outputs_quietly(replace(res, config=cfg), tmp_path / "pts", html=False)
    for layer in ("demand", "gaps"):
        a, b = gpd.read_file(files["gpkg"], layer=layer), gpd.read_file(pts["gpkg"], layer=layer)
        assert (b.geom_type == "Point").all() and (a.geom_type == "Polygon").all() and len(a) == len(b) > 0
        assert a.geometry.contains(b.geometry).all()
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    va, vb = load_result(files["gpkg"]), load_result(pts["gpkg"])
    pd.testing.assert_frame_equal(va.demand.drop(columns="geometry"), vb.demand.drop(columns="geometry"))
    assert va.demand.geometry.geom_equals(vb.demand.geometry).all()
    assert pts["gpkg"].stat().st_size < files["gpkg"].stat().st_size


def test_gpkg_cells_auto_writes_squares_up_to_the_limit_and_no_cell_layers_above(written, tmp_path, monkeypatch):
    """The default ("auto"): the demo's 14,369 cells are squares; above GPKG_SQUARES_UP_TO demand points the
    GeoPackage holds no demand and gaps layers (demand.parquet and the rasters hold the cells), its meta table
    says so, and access15 map rebuilds the same view from the GeoPackage and demand.parquet beside it."""
    from access15 import outputs
    from access15.outputs import load_result, read_meta_table, render_maps

    res, out, files = written
    assert res.config.output.gpkg_cells == "auto" and len(res.demand) <= outputs.GPKG_SQUARES_UP_TO
    assert pyogrio.read_info(files["gpkg"], layer="demand")["geometry_type"] == "Polygon"
    assert read_meta_table(files["gpkg"])["gpkg_cells"] == "polygons"
    monkeypatch.setattr(outputs, "GPKG_SQUARES_UP_TO", len(res.demand) - 1)
    big = write_outputs_quietly(res, tmp_path / "big", html=False)
    assert read_meta_table(big["gpkg"])["gpkg_cells"] == "none"
    layers = set(pyogrio.list_layers(big["gpkg"])[:, 0])
    assert not {"demand", "gaps"} & layers and {"facilities", "streets", "coverage"} <= layers
    assert big["gpkg"].stat().st_size < files["gpkg"].stat().st_size / 2
    va, vb = load_result(files["gpkg"]), load_result(big["gpkg"])
    pd.testing.assert_frame_equal(va.demand.drop(columns="geometry"), vb.demand.drop(columns="geometry"))
    assert va.demand.geometry.geom_equals_exact(vb.demand.geometry, 0).all()
    assert render_maps(big["gpkg"], out=tmp_path / "maps")["html"].stat().st_size > 0
    assert verify_outputs(tmp_path / "big") == []


def test_a_gpkg_without_its_demand_parquet_says_what_to_copy(written, tmp_path, monkeypatch):
    """A GeoPackage of a run without demand layers, copied without demand.parquet (or with a damaged one, or
    another run's): one line that says where the demand is and what to do."""
    import shutil

    from access15 import outputs
    from access15.errors import InputError
    from access15.outputs import load_result

    res, out, files = written
    monkeypatch.setattr(outputs, "GPKG_SQUARES_UP_TO", 0)
    big = write_outputs_quietly(res, tmp_path / "big", html=False)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(big["gpkg"], alone)
    with pytest.raises(InputError, match=r"demand in demand\.parquet beside the GeoPackage.*copy the whole output"):
        load_result(alone)
    (alone / "demand.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"demand\.parquet.*cannot read the demand table"):
        load_result(alone)
    other = write_outputs_quietly(res, tmp_path / "other", html=False)
    shutil.copy(other["demand_parquet"], alone)  # another run's: never drawn with this GeoPackage
    with pytest.raises(InputError, match=r"demand\.parquet.*written by another run than the GeoPackage"):
        load_result(alone)
    shutil.copy(big["demand_parquet"], alone)
    assert len(load_result(alone).demand) == len(res.demand)


def test_gpkg_cells_is_checked(tmp_path):
    from access15.config import config_from_dict
    from access15.errors import InputError

    base = {"network": {"path": "x.osm.pbf"}, "categories": {"clinic": {"minutes": 15}},
            "facilities": [{"path": "osm"}]}
    with pytest.raises(InputError, match=r"gpkg_cells = 'cells'.*\"polygons\".*\"points\".*\"none\""):
        config_from_dict({**base, "output": {"gpkg_cells": "cells"}})
    assert config_from_dict({**base, "output": {"gpkg_cells": "none"}}).output.gpkg_cells == "none"


def test_grid_outline_is_the_union_of_the_cells(demo_result):
    """Grid.outline (traced from a cell mask) covers exactly the union of the cell squares, holes included."""
    res = demo_result
    for cat in ("clinic", "combined"):
        gaps = res.demand[~res.demand[f"covered_{cat}"].to_numpy(bool)]
        ix, iy = gaps["ix"].to_numpy(), gaps["iy"].to_numpy()
        traced = res.grid.outline(ix, iy)
        union = shapely.coverage_union_all(res.grid.cell_polygons(ix, iy))
        assert traced.is_valid and traced.area == pytest.approx(union.area, rel=1e-12)
        assert shapely.symmetric_difference(traced, union).area < 1e-6 * union.area
        assert traced.area == pytest.approx(len(gaps) * res.grid.cell ** 2, rel=1e-12)
    assert res.grid.outline(np.array([], int), np.array([], int)).is_empty


def test_a_gpkg_missing_its_demand_layer_is_incomplete(written, tmp_path, monkeypatch):
    """Only a run that kept its cells out (gpkg_cells "none") may lack the demand layer: a GeoPackage without
    it whose meta table says otherwise is reported incomplete, with demand.parquet beside it or not."""
    from access15 import outputs
    from access15.errors import InputError
    from access15.outputs import load_result, write_meta_table

    res, out, files = written
    monkeypatch.setattr(outputs, "GPKG_SQUARES_UP_TO", 0)
    big = write_outputs_quietly(res, tmp_path / "big", html=False)
    write_meta_table(big["gpkg"], {"gpkg_cells": "polygons"})  # the last row of a key wins
    with pytest.raises(InputError, match=r"not a complete access15 analysis \(missing demand\)"):
        load_result(big["gpkg"])
