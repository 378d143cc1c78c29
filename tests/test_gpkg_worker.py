"""The GeoPackage's big layers written by a worker process (access15.gpkg_worker): the same file as writing them
in the run's own process, and a failed or interrupted worker never leaves a half-written output or a process
behind."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from access15 import gpkg_worker, outputs
from access15.errors import InputError
from access15.outputs import load_result
from access15.provenance import verify_outputs
from tests.conftest import ROOT
from tests.conftest import write_outputs_quietly as _write


@pytest.fixture(scope="module")
def in_process(demo_result, tmp_path_factory):
    assert len(demo_result.demand) < outputs.GPKG_WORKER_ABOVE  # the demo writes in its own process
    return _write(demo_result, tmp_path_factory.mktemp("inproc"), html=False)


@pytest.mark.parametrize("cells", ["polygons", "points"])
def test_the_worker_writes_what_the_run_writes_itself(demo_result, in_process, tmp_path, monkeypatch, cells):
    from dataclasses import replace

    res = replace(demo_result, config=replace(demo_result.config,
                                              output=replace(demo_result.config.output, gpkg_cells=cells)))
    started = []
    start = gpkg_worker.start
    monkeypatch.setattr(outputs, "GPKG_WORKER_ABOVE", 0)
    monkeypatch.setattr(gpkg_worker, "start", lambda *a: started.append(start(*a)) or started[-1])
    by_worker = _write(res, tmp_path / "w", html=False)
    monkeypatch.setattr(outputs, "GPKG_WORKER_ABOVE", 10**12)
    here = _write(res, tmp_path / "h", html=False)
    assert len(started) == 1 and started[0].process.returncode == 0
    for layer in ("demand", "gaps", "streets", "facilities"):
        a, b = gpd.read_file(by_worker["gpkg"], layer=layer), gpd.read_file(here["gpkg"], layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
        assert a.crs == b.crs and a.geometry.geom_equals_exact(b.geometry, 0).all(), layer
    dem = gpd.read_file(by_worker["gpkg"], layer="demand")
    if cells == "points":  # projected exactly as geopandas projects the cell centres
        assert dem.geometry.geom_equals_exact(demo_result.demand.geometry.to_crs(4326).reset_index(drop=True), 0).all()
    else:
        assert dem.geometry.geom_equals_exact(gpd.read_file(in_process["gpkg"], layer="demand").geometry, 0).all()
    view = load_result(by_worker["gpkg"])
    assert len(view.streets) == demo_result.network.n_edges
    assert verify_outputs(tmp_path / "w") == []
    assert not list(tmp_path.glob(".access15-staging-*"))  # staged Arrow files went with the staging folder


def test_a_failed_worker_is_one_line_and_keeps_the_previous_outputs(demo_result, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _write(demo_result, out, html=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(outputs, "GPKG_WORKER_ABOVE", 0)
    real = outputs.stage_streets

    def broken(lines, crs, path):  # the staged file is cut short: the worker cannot read it
        staged = real(lines, crs, path)
        with open(path, "r+b") as f:
            f.truncate(100)
        return staged

    monkeypatch.setattr(outputs, "stage_streets", broken)
    with pytest.raises(InputError) as err:
        _write(demo_result, out, html=False)
    msg = str(err.value)
    assert "\n" not in msg and "cannot write outputs" in msg and str(out) in msg and "unchanged" in msg
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".access15-staging-*"))


def test_an_interrupted_run_stops_its_worker(demo_result, tmp_path, monkeypatch):
    started = []
    start = gpkg_worker.start
    monkeypatch.setattr(outputs, "GPKG_WORKER_ABOVE", 0)
    monkeypatch.setattr(gpkg_worker, "start", lambda *a: started.append(start(*a)) or started[-1])

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "write_map", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _write(demo_result, tmp_path / "out", html=True)
    assert len(started) == 1 and started[0].process.returncode is not None  # killed or finished, and reaped
    assert not (tmp_path / "out" / "access15.gpkg").exists()
    assert not list(tmp_path.glob(".access15-staging-*"))


def test_staged_points_are_made_by_the_writer(tmp_path):
    import pyarrow as pa
    import pyogrio
    import pyproj

    lonlat = np.array([[-51.2, -30.05], [-51.187654321, -30.0412345678]])
    table = pa.table({"id": [1, 2], gpkg_worker.X: lonlat[:, 0], gpkg_worker.Y: lonlat[:, 1]})
    gpkg_worker.stage(tmp_path / "p.arrows", table.schema, table.to_batches())
    layer = gpkg_worker.StagedLayer("pts", str(tmp_path / "p.arrows"), "Point", pyproj.CRS(4326).to_wkt(), points=True)
    gpkg_worker.write_staged(tmp_path / "p.gpkg", [layer], {})
    got = gpd.read_file(tmp_path / "p.gpkg", layer="pts")
    assert list(got.columns) == ["id", "geometry"] and not (tmp_path / "p.arrows").exists()
    assert got.crs.to_epsg() == 4326
    assert got.geometry.geom_equals_exact(gpd.GeoSeries(shapely.points(lonlat), crs=4326), 0).all()
    assert pyogrio.read_info(tmp_path / "p.gpkg", layer="pts")["geometry_type"] == "Point"


def test_a_worker_whose_run_stopped_stops(tmp_path):
    worker = gpkg_worker.start(tmp_path / "x.gpkg", {})
    worker.process.stdin.close()  # the run died before it sent every layer (no DONE line)
    assert worker.process.wait(timeout=60) == 1
    assert "the run stopped before it had sent every layer" in worker.process.stderr.read().decode()
    worker.stop()
    assert not (tmp_path / "x.gpkg").exists()


def test_without_a_python_to_start_the_run_writes_the_layers_itself(demo_result, in_process, tmp_path, monkeypatch):
    """Embedded in another program (QGIS's console: sys.executable is qgis-bin), no worker is started."""
    monkeypatch.setattr(gpkg_worker.sys, "executable", "/usr/bin/qgis-bin")
    assert gpkg_worker.start(tmp_path / "x.gpkg", {}) is None
    monkeypatch.setattr(outputs, "GPKG_WORKER_ABOVE", 0)
    files = _write(demo_result, tmp_path / "out", html=False)
    for layer in ("demand", "gaps", "streets"):
        a, b = gpd.read_file(files["gpkg"], layer=layer), gpd.read_file(in_process["gpkg"], layer=layer)
        assert len(a) == len(b) and a.geometry.geom_equals_exact(b.geometry, 0).all()


def test_the_worker_ignores_modules_of_the_working_folder(tmp_path, monkeypatch):
    """A planner's folder may hold a json.py or pyarrow.py of their own: the worker does not import them."""
    import pyarrow as pa
    import pyproj

    for name in ("json", "pyarrow", "pyogrio"):
        (tmp_path / f"{name}.py").write_text("raise RuntimeError('not the library')\n")
    monkeypatch.chdir(tmp_path)
    table = pa.table({"id": [1], "geometry": [shapely.to_wkb(shapely.Point(0, 0))]})
    gpkg_worker.stage(tmp_path / "t.arrows", table.schema, table.to_batches())
    worker = gpkg_worker.start(tmp_path / "t.gpkg", {})
    worker.send(gpkg_worker.StagedLayer("t", str(tmp_path / "t.arrows"), "Point", pyproj.CRS(4326).to_wkt()))
    worker.wait()
    worker.stop()
    assert len(gpd.read_file(tmp_path / "t.gpkg", layer="t")) == 1


def test_the_worker_runs_the_copy_of_access15_that_started_it(tmp_path):
    """With another access15 installed (here: the project's, on sys.path of every interpreter), the worker still
    loads the package from the folder of the run's own copy."""
    import shutil
    import subprocess
    import sys

    pkg = tmp_path / "copy" / "access15"
    shutil.copytree(ROOT / "src" / "access15", pkg, ignore=shutil.ignore_patterns("__pycache__", "data", "vendor",
                                                                                 "web"))
    marker = tmp_path / "ran"
    with open(pkg / "gpkg_worker.py", "a", encoding="utf-8") as f:  # this copy's main leaves a mark
        f.write(f"\n\ndef main(argv):\n    open({str(marker)!r}, 'w').write(__file__)\n    return 0\n")
    done = subprocess.run([sys.executable, "-c", gpkg_worker.BOOT, str(pkg), "x.gpkg", "{}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == str(pkg / "gpkg_worker.py")


def test_point_wkb_is_shapelys_to_the_bit(demo_result):
    """wkb.points lays out the 21 bytes of each point: the same bytes as shapely's WKB, for the demo's cell
    centres in both CRSs, extreme and negative coordinates, and no points."""
    import numpy as np
    import shapely

    from access15 import wkb

    xy = shapely.get_coordinates(demo_result.demand.geometry.values)
    lonlat = shapely.get_coordinates(demo_result.demand.geometry.to_crs(4326).values)
    odd = np.array([[-180.0, -90.0], [1e300, -1e-300], [0.0, -0.0], [123.456789012345, 29.87654321]])
    for pts in (xy, lonlat, odd, np.zeros((0, 2))):
        want = shapely.to_wkb(shapely.points(pts), output_dimension=2, byte_order=1) if len(pts) else []
        assert wkb.points(pts).to_pylist() == list(want)


def test_the_worker_starts_where_gdal_would_hold_the_map_up():
    """The worker starts when GDAL's work on the big layers outweighs starting it (measured, performance.md):
    not for the streets alone of a 1M-edge run (0.3 s of GDAL), but for those of a 5M-edge run, and for a
    metro grid's cells whenever the GeoPackage holds them."""
    from access15.outputs import GPKG_WORKER_ABOVE, gdal_work

    assert gdal_work(0, 1_056_896) < GPKG_WORKER_ABOVE < gdal_work(0, 5_053_284)
    assert gdal_work(404_512 + 123_936, 1_056_896) > GPKG_WORKER_ABOVE
    assert gdal_work(14_369 + 5_000, 26_262) < GPKG_WORKER_ABOVE  # the demo
