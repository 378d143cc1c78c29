"""The analysis on disk: coverage CSVs, the GeoPackage and the maps; one owner of these formats.

:func:`write_outputs` writes a run's tables (CSV), its GeoPackage and its HTML map; :func:`load_result`
reads the GeoPackage back into a :class:`~access15.maps.mapdata.MapData` without recomputing, and
:func:`render_maps` re-renders the maps from it (``access15 map``).

The GeoPackage holds the layers ``facilities``, ``demand``, ``gaps``, ``boundaries`` and ``unit_coverage``
(EPSG:4326) and ``streets`` (the analysis's metric CRS, as the maps draw them), the non-spatial tables
``coverage``, ``supply``, ``targets``, ``unit_check`` and ``capacity_missing``, and the table
``access15_meta`` (``key``, ``value`` as JSON text; the last row of a key wins): ``format``, ``version``,
``config``, ``crs`` (WKT of the metric CRS), ``grid`` (x0, y0, cell in metres, nx, ny), ``gpkg_cells``
(whether ``demand`` and ``gaps`` hold cell ``polygons`` or ``points``, or are left to ``demand.parquet``:
``none``), ``run_id`` (also in ``demand.parquet``), ``demand_label``,
``sources``, ``data_date``, ``created`` and the provenance keys (inputs with SHA-256, run times, OSM date; see
:mod:`access15.provenance`).

The big layers (``demand``, ``gaps``, ``streets``) are staged as Arrow IPC files and written by a worker
process while this one builds the map, when GDAL's work on them is more than :data:`GPKG_WORKER_ABOVE` demand
rows (GDAL holds the GIL while it writes; :mod:`access15.gpkg_worker`); the rasters and GeoParquet are written,
and the big layers staged, in a thread.

Every file is first written into a staging folder beside the output folder and moved into place only
when all of them are complete, so a failed or interrupted run never leaves a half-written file and never
mixes new files with a failed run's leftovers. ``run.json`` and the GeoPackage's ``access15_meta`` table
record what the outputs were made from (see :mod:`access15.provenance`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyproj
import shapely

from . import gpkg_worker
from .config import GPKG_SQUARES_UP_TO, check_basemap, config_from_json, config_to_json
from .coords import WGS84, transform_xy
from .coverage import COMBINED
from .demand import Grid
from .errors import InputError
from .gpkg_worker import StagedLayer
from .maps.html import write_map
from .maps.mapdata import MapData
from .provenance import RUN_JSON, meta_items, write_run_json
from .rasters import DEMAND_PARQUET, write_scalable
from .rasters import NAMES as SCALABLE_NAMES
from .result import AnalysisResult

#: The GeoPackage of a run, and its format (``format`` in its meta table).
GPKG_NAME = "access15.gpkg"
FORMAT = "access15-gpkg/1"
#: The GeoPackage's non-spatial table of metadata and provenance (``key``, ``value`` as JSON text).
META_TABLE = "access15_meta"
#: A run's random id, in the meta table (this key) and in ``demand.parquet``'s schema metadata (this field), so
#: that a run whose demand is only there is never rendered with another run's.
RUN_ID, RUN_ID_FIELD = "run_id", b"access15_run_id"


def demand_attributes(result: AnalysisResult) -> pd.DataFrame:
    """The demand table as the GeoPackage and GeoParquet hold it, without geometry: the analysis's columns
    (shared, not copied), travel times rounded to 3 decimals (minutes), the ``missing`` column (the required
    categories outside their circle) and ``demand_label``."""
    d = pd.DataFrame(result.demand.copy(deep=False))
    del d[result.demand.geometry.name]
    req = [c for c, k in result.config.categories.items() if k.required]
    d["missing"] = missing_labels(d, req)
    d["demand_label"] = result.demand_label
    for col in [c for c in d.columns if c.startswith("time_")]:
        d[col] = d[col].round(3)
    return d


def gpkg_cells(result: AnalysisResult) -> str:
    """How the GeoPackage holds the demand, after ``[output] gpkg_cells``: ``"polygons"`` (grid cell squares),
    ``"points"`` (grid cell centres, or the demand points of a run without a grid) or ``"none"`` (no ``demand``
    and ``gaps`` layers: ``demand.parquet`` and the rasters hold them). ``"auto"``: squares (points without a
    grid) up to :data:`GPKG_SQUARES_UP_TO` demand points, none above."""
    setting = result.config.output.gpkg_cells
    if setting == "auto":
        setting = "polygons" if len(result.demand) <= GPKG_SQUARES_UP_TO else "none"
    return "points" if setting == "polygons" and result.grid is None else setting


def cell_geometry(result: AnalysisResult, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """The GeoPackage geometry of the demand points ``rows`` (EPSG:4326): the cell squares or the points (see
    :func:`gpkg_cells`)."""
    d = result.demand
    if gpkg_cells(result) == "polygons":
        return result.grid.cell_polygons(d["ix"].to_numpy()[rows], d["iy"].to_numpy()[rows], crs=d.crs, to=4326)
    return np.asarray(gpd.GeoSeries(d.geometry.values[rows], crs=d.crs).to_crs(4326).values)


def demand_layer(result: AnalysisResult) -> gpd.GeoDataFrame:
    """Demand as cell polygons or points (see :func:`gpkg_cells`), with travel
    times and a ``missing`` column that lists the required categories outside their circle (EPSG:4326): the
    GeoPackage's ``demand`` layer in one table (:func:`write_outputs` writes it in batches)."""
    return gpd.GeoDataFrame(demand_attributes(result), geometry=cell_geometry(result), crs=4326)


#: Demand cells per staged Arrow batch of the ``demand`` and ``gaps`` layers as squares: the polygons of one
#: batch exist at a time.
CELL_BATCH = 262_144
#: Demand points per staged batch of a layer of points: the rows of one batch are what the writer holds.
POINT_BATCH = 65_536


def arrow_table(attrs: pd.DataFrame) -> pa.Table:
    """``attrs`` as an Arrow table as geopandas gives it to GDAL (a column of None only becomes text)."""
    table = pa.Table.from_pandas(attrs, preserve_index=False)
    return table.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]))


def stage_cells(result: AnalysisResult, table: pa.Table, rows: np.ndarray, lonlat: np.ndarray, path: Path,
                layer: str) -> StagedLayer:
    """Stage the demand points ``rows`` (positions in ``result.demand``) with their attributes ``table`` (the
    same rows, see :func:`arrow_table`) as ``layer`` of the GeoPackage (:mod:`access15.gpkg_worker`), streamed
    to ``path`` in batches of :data:`CELL_BATCH` points: cell squares with their WKB (see :func:`cell_geometry`;
    one batch's polygons exist at a time: 1.9 million cells, about 1 GB less), or points as their coordinates
    ``lonlat`` (the same rows, EPSG:4326), made into WKB by the writer. The layer equals :func:`demand_layer`'s
    rows. O(n)."""
    wgs84 = pyproj.CRS(4326).to_wkt()
    if gpkg_cells(result) == "points":
        staged = table.append_column(gpkg_worker.X, pa.array(lonlat[:, 0])).append_column(gpkg_worker.Y,
                                                                                           pa.array(lonlat[:, 1]))
        gpkg_worker.stage(path, staged.schema, staged.to_batches(POINT_BATCH))
        return StagedLayer(layer, str(path), "Point", wgs84, points=True)
    schema = table.schema.append(pa.field("geometry", pa.binary()))

    def batches():
        for start in range(0, len(rows), CELL_BATCH):
            wkb = shapely.to_wkb(cell_geometry(result, rows[start:start + CELL_BATCH]), output_dimension=2)
            block = table.slice(start, len(wkb)).append_column(schema.field("geometry"), pa.array(wkb, pa.binary()))
            yield from block.combine_chunks().to_batches()

    gpkg_worker.stage(path, schema, batches())
    return StagedLayer(layer, str(path), "Polygon", wgs84)


def big_layers(result: AnalysisResult, view: MapData, cells: pa.Table, gap_rows: np.ndarray, lonlat: np.ndarray,
               folder: Path, with_cells: bool) -> Iterator[StagedLayer]:
    """Stage the GeoPackage's big layers in ``folder``, one at a time, in their order in the file: ``demand``
    and ``gaps`` (``with_cells``; the rows ``gap_rows`` outside the combined circle; see :func:`stage_cells`),
    then ``streets`` (:func:`stage_streets`)."""
    if with_cells:
        yield stage_cells(result, cells, np.arange(len(cells)), lonlat, folder / ".demand.arrows", "demand")
        yield stage_cells(result, cells.take(gap_rows), gap_rows, lonlat[gap_rows], folder / ".gaps.arrows", "gaps")
    yield stage_streets(view.streets, view.crs, folder / ".streets.arrows")


def _hand_over(layers: Iterator[StagedLayer], worker: gpkg_worker.Worker | None) -> list[StagedLayer]:
    """Send each staged layer to ``worker`` as soon as it is staged; without a worker, return them."""
    if worker is None:
        return list(layers)
    for layer in layers:
        worker.send(layer)
    return []


def missing_labels(demand: pd.DataFrame, required: list[str]) -> np.ndarray:
    """Per demand point, the required categories outside their circle ("clinic,school"; "" when none): one
    bit mask per point, labelled once per distinct mask (at most 2^k of them). O(n k)."""
    if not required:
        return np.full(len(demand), "", dtype=object)
    miss = np.column_stack([~demand[f"covered_{c}"].to_numpy(bool) for c in required])
    masks = miss.astype(np.int64) @ (np.int64(1) << np.arange(len(required), dtype=np.int64))
    uniq, inverse = np.unique(masks, return_inverse=True)
    labels = np.array([",".join(c for j, c in enumerate(required) if m >> j & 1) for m in uniq], dtype=object)
    return labels[inverse]


def unit_layer(result: AnalysisResult) -> gpd.GeoDataFrame:
    """The per-unit coverage table on the unit polygons (one row per unit, level and category; EPSG:4326)."""
    b = result.boundaries.to_crs(4326)[["unit", "level", "geometry"]].drop_duplicates(["unit", "level"])
    return gpd.GeoDataFrame(result.unit_coverage.merge(b, on=["unit", "level"], how="left"), geometry="geometry",
                            crs=4326)


def _write_tables(result: AnalysisResult, gpkg: Path) -> None:
    """Non-spatial tables (supply ratios, targets, unit checks, missing capacities) as GeoPackage tables."""
    for key in ("supply", "targets", "unit_check", "capacity"):
        table = getattr(result, key, None)
        if table is not None and len(table):
            df = table.copy()
            for col in df.columns[df.dtypes == object]:
                df[col] = df[col].astype("string")
            pyogrio.write_dataframe(df, gpkg, layer="capacity_missing" if key == "capacity" else key, driver="GPKG",
                                    use_arrow=True)


#: Every file :func:`write_outputs` may write; files of this list that a run does not write are removed
#: from the output folder so a folder never mixes two runs.
OUTPUT_NAMES = ("coverage.csv", "unit_coverage.csv", "unit_check.csv", "supply.csv", "targets.csv",
                "capacity_missing.csv", "access15.gpkg", "map.html", RUN_JSON, *SCALABLE_NAMES)
STAGING_PREFIX = ".access15-staging-"


#: GDAL's work on the big layers, in demand rows, above which a worker process writes them beside the map
#: (:mod:`access15.gpkg_worker`); below, starting it (about 0.45 CPU-seconds of imports) costs more than it saves.
GPKG_WORKER_ABOVE = 200_000
#: Streets per demand row of that work: GDAL takes 0.28 s per million streets (as 1,000-line rows), 3.5 µs per
#: demand row.
STREETS_PER_ROW_OF_WORK = 12


def gdal_work(cell_rows: int, streets: int) -> int:
    """GDAL's work on the big layers, in demand rows: ``cell_rows`` rows of ``demand`` and ``gaps`` and the
    ``streets`` lines (see :data:`GPKG_WORKER_ABOVE`)."""
    return cell_rows + streets // STREETS_PER_ROW_OF_WORK


#: GDAL's SQLite settings while a run writes its GeoPackage into the staging folder: no fsync per transaction
#: (every staged file is fsync'ed once before it is moved into place, so a crash never exposes a damaged file).
#: (A larger SQLite page cache, ``OGR_SQLITE_CACHE``, was measured: no faster, and up to 0.25 GB more memory.)
GPKG_WRITE_OPTIONS = {"OGR_SQLITE_SYNCHRONOUS": "OFF"}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_dead_staging(out_dir: Path) -> None:
    """Delete staging folders of ``out_dir`` left by runs that were killed (their process is gone)."""
    for d in out_dir.parent.glob(f"{STAGING_PREFIX}{out_dir.name}-*"):
        try:
            pid = int(d.name[len(STAGING_PREFIX) + len(out_dir.name) + 1:].split("-")[0])
            os.kill(pid, 0)
            continue  # still running (another run writing the same folder)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            continue


def write_outputs(result: AnalysisResult, out_dir: str | Path, html: bool | None = None) -> dict[str, Path]:
    """Write ``coverage.csv``, ``unit_coverage.csv`` (with boundaries), ``unit_check.csv``, ``supply.csv``,
    ``targets.csv`` and ``capacity_missing.csv`` (when present), ``access15.gpkg`` (layers ``facilities``,
    ``demand`` and ``gaps`` (unless :func:`gpkg_cells` is ``"none"``), ``boundaries``, ``unit_coverage``,
    ``streets``, the same tables, and the tables
    ``coverage`` and ``access15_meta``: enough for ``access15 map`` to re-render without recomputing),
    ``travel_time.tif`` / ``coverage.tif`` (grid demand) and ``demand.parquet`` / ``facilities.parquet``
(:mod:`access15.rasters`), ``map.html`` and ``run.json`` into ``out_dir``; return the written paths.

    Atomicity: everything is written and fsync'ed in a staging folder beside ``out_dir`` first; only then
    is each file moved into place with ``os.replace`` (atomic on POSIX and Windows), ``run.json`` last, and
    outputs of an earlier run that this run does not produce are removed. A run killed before that commit
    (the whole computation and writing) leaves the previous outputs untouched; its staging folder is
    removed by the next run. The commit itself is a handful of renames; ``run.json`` lists every output's
    SHA-256, so :func:`access15.provenance.verify_outputs` detects a folder caught mid-commit.

    Raises
    ------
    InputError : the folder cannot be written (permissions, disk full); the previous outputs are kept.
    """
    out_dir = Path(out_dir)
    html = result.config.output.html if html is None else html
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _remove_dead_staging(out_dir)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-{os.getpid()}-", dir=out_dir.parent))
    except OSError as exc:
        raise InputError(out_dir, f"cannot create the output folder ({exc.strerror})",
                         "choose another folder with --out or [output] dir") from None
    worker = None
    try:
        with gpkg_worker.gdal_options(GPKG_WRITE_OPTIONS), ThreadPoolExecutor(1) as pool:
            gpkg = staging / "access15.gpkg"
            view = MapData.from_result(result)  # one view for the stored tables and the map: they match
            cells_mode = gpkg_cells(result)
            cells_in_gpkg = cells_mode != "none"
            gap_rows = np.flatnonzero(~result.demand[f"covered_{COMBINED}"].to_numpy(bool))
            if gdal_work((len(result.demand) + len(gap_rows)) * cells_in_gpkg, len(view.streets)) > GPKG_WORKER_ABOVE:
                # the big layers by a worker process, beside the map (GDAL holds the GIL while it writes); it
                # starts now, so it has imported its libraries by the time the first layer is staged (None: no
                # Python to start, so this process writes them)
                worker = gpkg_worker.start(gpkg, GPKG_WRITE_OPTIONS)
            files: dict[str, str] = {}
            result.coverage.to_csv(staging / "coverage.csv", index=False, float_format="%.6g", lineterminator="\n")
            files["coverage"] = "coverage.csv"
            if len(result.unit_coverage):
                result.unit_coverage.to_csv(staging / "unit_coverage.csv", index=False, float_format="%.6g",
                                            lineterminator="\n")
                files["unit_coverage"] = "unit_coverage.csv"
            for key in ("unit_check", "supply", "targets", "capacity"):
                table = getattr(result, key, None)
                if table is not None and len(table):
                    name = "capacity_missing.csv" if key == "capacity" else f"{key}.csv"
                    table.to_csv(staging / name, index=False, float_format="%.6g", lineterminator="\n")
                    files[key] = name
            fac = result.facilities.to_crs(4326)
            fac.to_file(gpkg, layer="facilities", driver="GPKG", use_arrow=True)
            if result.boundaries is not None:
                result.boundaries.to_crs(4326).to_file(gpkg, layer="boundaries", driver="GPKG", use_arrow=True)
                if len(result.unit_coverage):
                    unit_layer(result).to_file(gpkg, layer="unit_coverage", driver="GPKG", use_arrow=True)
            _write_tables(result, gpkg)
            run_id = uuid.uuid4().hex  # also in demand.parquet: the two files of one run are known as such
            write_meta_table(gpkg, {**meta_items(result.provenance), "gpkg_cells": cells_mode, RUN_ID: run_id})
            write_map_tables(view, gpkg)
            files["gpkg"] = "access15.gpkg"
            cells = arrow_table(demand_attributes(result))
            cells = cells.replace_schema_metadata({**(cells.schema.metadata or {}), RUN_ID_FIELD: run_id.encode()})
            # the demand points in EPSG:4326, projected once for demand.parquet and the GeoPackage's points
            lonlat = transform_xy(shapely.get_coordinates(result.demand.geometry.values), result.demand.crs, WGS84)
            # in a thread beside the map, one after the other (joined before run.json; the pool waits for them if
            # this block raises): the rasters and GeoParquet, compressed by GDAL and Arrow without the GIL; then the
            # big layers, staged by shapely and Arrow (the GIL released too) and handed to the worker, which
            # writes one while the next is staged (this thread has written its own layers: one writer at a time)
            scalable = pool.submit(write_scalable, result, staging, cells, lonlat, fac)
            big = pool.submit(_hand_over, big_layers(result, view, cells, gap_rows, lonlat, staging, cells_in_gpkg),
                              worker)
            del cells, lonlat
            if html:
                write_map(view, staging / "map.html")
                files["html"] = "map.html"
            if worker is None:
                gpkg_worker.write_staged(gpkg, big.result(), GPKG_WRITE_OPTIONS)
            else:
                big.result()  # every layer sent
                worker.wait()
            files.update(scalable.result())
            write_run_json(staging / RUN_JSON, result.provenance, {k: staging / n for k, n in files.items()})
            files["run"] = RUN_JSON
            for name in files.values():
                _fsync(staging / name)
            # commit: data files first, run.json (the manifest) last
            written = {}
            for key, name in files.items():
                os.replace(staging / name, out_dir / name)
                written[key] = out_dir / name
            for name in set(OUTPUT_NAMES) - set(files.values()):
                (out_dir / name).unlink(missing_ok=True)
            if hasattr(os, "O_DIRECTORY"):
                _fsync(out_dir)
            return written
    except OSError as exc:
        raise InputError(out_dir, f"cannot write outputs ({exc.strerror or exc}); the previous outputs are unchanged",
                         "free disk space or choose another folder with --out") from None
    finally:
        if worker is not None:
            worker.stop()
        shutil.rmtree(staging, ignore_errors=True)


def write_meta_table(gpkg: str | Path, items: dict[str, Any]) -> None:
    """Append ``items`` to the GeoPackage's non-spatial ``access15_meta`` table (``key``, ``value`` as JSON
    text), creating it when absent; a key written again supersedes the earlier row (the last row wins).

    The table is written with pyogrio (GDAL registers it in ``gpkg_contents`` as an ``attributes`` table,
    so GIS software lists it).
    """
    rows = pd.DataFrame({"key": list(items),
                         "value": [json.dumps(v, ensure_ascii=False) for v in items.values()]})  # keep key order: it is meaningful (category order)
    exists = Path(gpkg).exists() and META_TABLE in pyogrio.list_layers(gpkg)[:, 0]
    pyogrio.write_dataframe(rows, gpkg, layer=META_TABLE, driver="GPKG", append=bool(exists))


def read_meta_table(gpkg: str | Path) -> dict[str, Any]:
    """The ``access15_meta`` table of a GeoPackage as a dict (values parsed from JSON; last row of a key wins)."""
    con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    try:
        rows = con.execute(f"SELECT key, value FROM {META_TABLE} ORDER BY rowid").fetchall()
    finally:
        con.close()
    return {k: json.loads(v) for k, v in rows}


#: Streets per row of the GeoPackage's ``streets`` layer (one MultiLineString each).
STREETS_PER_ROW = 1_000


def stage_streets(lines: np.ndarray, crs: Any, path: Path) -> StagedLayer:
    """Stage the streets the maps draw as the GeoPackage layer ``streets`` (:mod:`access15.gpkg_worker`), in
    their own (metric) CRS, as one MultiLineString per :data:`STREETS_PER_ROW` consecutive lines, streamed to
    ``path`` in blocks (one block's WKB in memory at a time). A million streets: 41 MB and 0.3 s, instead of 3 s
    and 93 MB as a row each. O(total vertices). :func:`load_result` takes them apart again
    (``shapely.get_parts``), in the same order."""
    lines = np.asarray(lines)
    schema = pa.schema([pa.field("geometry", pa.binary())])

    def batches():
        block = STREETS_PER_ROW * 256
        for start in range(0, len(lines), block):
            rows = [shapely.multilinestrings(lines[i:i + STREETS_PER_ROW])
                    for i in range(start, min(start + block, len(lines)), STREETS_PER_ROW)]
            wkb = shapely.to_wkb(rows, output_dimension=2, byte_order=1)
            yield pa.record_batch([pa.array(wkb, type=pa.binary())], schema=schema)

    gpkg_worker.stage(path, schema, batches())
    return StagedLayer("streets", str(path), "MultiLineString", pyproj.CRS(crs).to_wkt(), {"SPATIAL_INDEX": "NO"})


def write_map_tables(data: MapData, gpkg: str | Path) -> None:
    """Add ``coverage`` (and ``unit_coverage`` unless already a layer) and ``access15_meta`` to ``gpkg`` (which
    :func:`access15.outputs.write_outputs` has already given the spatial layers; it adds ``streets``)."""
    pyogrio.write_dataframe(data.coverage, gpkg, layer="coverage", driver="GPKG")
    if len(data.unit_coverage) and "unit_coverage" not in pyogrio.list_layers(gpkg)[:, 0]:
        pyogrio.write_dataframe(data.unit_coverage, gpkg, layer="unit_coverage", driver="GPKG")
    g = data.grid
    write_meta_table(gpkg, {
        "format": FORMAT,
        "version": data.version,
        "config": config_to_json(data.config),
        "crs": data.crs.to_wkt(),
        "grid": None if g is None else {"x0": g.x0, "y0": g.y0, "cell": g.cell, "nx": g.nx, "ny": g.ny},
        "demand_label": data.demand_label,
        "sources": data.sources,
        "data_date": data.data_date,
        "created": data.created,
    })


def find_gpkg(path: str | Path) -> Path:
    """The GeoPackage at ``path``, or ``access15.gpkg`` inside the output folder ``path``."""
    path = Path(path)
    gpkg = path / GPKG_NAME if path.is_dir() else path
    if not gpkg.is_file():
        raise InputError(path, "no access15 GeoPackage here" if path.is_dir() else "file not found",
                         "pass the access15.gpkg written by 'access15 run', or its output folder")
    with open(gpkg, "rb") as fh:
        head = fh.read(16)
    if head != b"SQLite format 3\x00":
        if gpkg.suffix.lower() == ".gpkg":
            raise InputError(gpkg, "cannot read the GeoPackage (the file is not an SQLite database: damaged or "
                             "renamed)", "re-run 'access15 run' to write it again")
        kind = f"a {gpkg.suffix.lstrip('.').upper()} file" if gpkg.suffix else "a file without an extension"
        near = gpkg.parent / GPKG_NAME
        where = f" ({near} is one)" if near.is_file() else ""
        raise InputError(gpkg, f"not a GeoPackage ({kind})",
                         f"pass the access15.gpkg written by 'access15 run', or its output folder{where}")
    return gpkg


def _table(gpkg: Path, layer: str) -> pd.DataFrame:
    """A GeoPackage layer as a plain table (its geometry, if any, dropped)."""
    return pd.DataFrame(pyogrio.read_dataframe(gpkg, layer=layer, read_geometry=False))


def _read_demand(gpkg: Path, layers: set[str], meta: dict[str, Any]) -> gpd.GeoDataFrame:
    """The demand rows of a run (EPSG:4326): the GeoPackage's ``demand`` layer, or, when the run kept its cells
    out of the GeoPackage (``gpkg_cells`` ``"none"``), ``demand.parquet`` beside it (the same columns)."""
    if "demand" in layers:
        return gpd.read_file(gpkg, layer="demand")
    parquet = gpkg.parent / DEMAND_PARQUET
    if not parquet.is_file():
        raise InputError(gpkg, f"this run keeps its demand in {DEMAND_PARQUET} beside the GeoPackage "
                         "(gpkg_cells = \"none\"), and it is not there",
                         "copy the whole output folder, or re-run with [output] gpkg_cells = \"points\"")
    try:
        run_id = (pq.read_schema(parquet).metadata or {}).get(RUN_ID_FIELD, b"").decode()
        demand = gpd.read_parquet(parquet)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise InputError(parquet, f"cannot read the demand table ({str(exc).splitlines()[0]})",
                         "re-run 'access15 run' to write it again") from None
    if run_id != meta.get(RUN_ID):
        raise InputError(parquet, "written by another run than the GeoPackage beside it",
                         "keep each run's output folder together, or re-run 'access15 run'")
    return demand


def load_result(path: str | Path) -> MapData:
    """Load a finished analysis (``access15.gpkg`` or the folder holding it) for rendering.

    Nothing is recomputed and no network or input file is read: the GeoPackage suffices, with
    ``demand.parquet`` beside it when the run kept its demand out of the GeoPackage (``gpkg_cells = "none"``,
    the default above :data:`~access15.config.GPKG_SQUARES_UP_TO` demand points). Grid demand points are
    rebuilt exactly from the stored cell indices and grid spec (metric CRS).

    Raises
    ------
    InputError
        If the file is not a GeoPackage written by ``access15 run`` (with its ``access15_meta`` table).
    """
    gpkg = find_gpkg(path)
    try:
        layers = set(pyogrio.list_layers(gpkg)[:, 0])
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputError(gpkg, f"cannot read the GeoPackage ({str(exc).splitlines()[0]})",
                         "pass the access15.gpkg written by 'access15 run'") from None
    meta = read_meta_table(gpkg) if META_TABLE in layers else {}
    kept_out = {"demand"} if meta.get("gpkg_cells") == "none" else set()  # in demand.parquet (see _read_demand)
    missing = {META_TABLE, "demand", "facilities", "coverage", "streets"} - kept_out - layers
    if missing:
        raise InputError(gpkg, f"not a complete access15 analysis (missing {', '.join(sorted(missing))})",
                         "re-run 'access15 run' with this version of access15 to write them")
    if meta.get("format") != FORMAT:
        raise InputError(gpkg, f"unknown access15 GeoPackage format {meta.get('format')!r}",
                         f"re-run 'access15 run' (this version reads {FORMAT})", field="format")
    cfg = config_from_json(meta["config"])
    crs = pyproj.CRS.from_wkt(meta["crs"])
    dem = _read_demand(gpkg, layers, meta)
    grid = Grid(**meta["grid"]) if meta.get("grid") else None
    if grid is not None:
        ix, iy = dem["ix"].to_numpy(), dem["iy"].to_numpy()
        pts = shapely.points(grid.x0 + (ix + 0.5) * grid.cell, grid.y0 + (iy + 0.5) * grid.cell)
        dem = dem.set_geometry(gpd.GeoSeries(pts, crs=crs, index=dem.index), crs=crs)
    else:
        dem = dem.to_crs(crs)
    for col in [c for c in dem.columns if c.startswith("covered_") or c == "on_network"]:
        dem[col] = dem[col].astype(bool)
    dem = dem.drop(columns=[c for c in ("missing", "demand_label") if c in dem.columns])
    streets = shapely.get_parts(gpd.read_file(gpkg, layer="streets").to_crs(crs).geometry.to_numpy())
    return MapData(
        config=cfg, crs=crs, demand=dem, grid=grid, demand_label=meta.get("demand_label", ""),
        facilities=gpd.read_file(gpkg, layer="facilities"),
        coverage=pyogrio.read_dataframe(gpkg, layer="coverage"),
        unit_coverage=_table(gpkg, "unit_coverage") if "unit_coverage" in layers else pd.DataFrame(),
        boundaries=gpd.read_file(gpkg, layer="boundaries") if "boundaries" in layers else None,
        streets=np.asarray(streets), sources=list(meta.get("sources", [])), data_date=meta.get("data_date", ""),
        created=meta.get("created", ""), version=str(meta.get("version", "")), meta=meta,
        provenance=meta)


def render_maps(source: str | Path, out: str | Path | None = None, lang: str | None = None,
                basemap: str | None = None, attribution: str | None = None, basemap_crs: str | None = None,
                static: bool = False, html: bool = True) -> dict[str, Path]:
    """Write the HTML map (and with ``static`` the PNG/PDF maps) of the analysis stored at ``source``.

    Parameters
    ----------
    source : ``access15.gpkg`` written by ``access15 run``, or the output folder holding it.
    out : output folder (default: the GeoPackage's folder).
    lang, basemap, attribution, basemap_crs : override the stored ``[output]`` settings.
    static : also write ``gap_<category>.png`` per category and the combined circle, and ``gap_maps.pdf``.

    Returns
    -------
    ``{"html": path, <category>: png path, ..., "pdf": path}``.
    """
    gpkg = find_gpkg(source)
    data = load_result(gpkg)
    settings = data.config.output
    if lang is not None and lang not in ("en", "zh"):
        raise InputError("--lang", f"unknown language '{lang}'", "use en or zh")
    chosen = dataclasses.replace(
        settings, lang=lang or settings.lang, basemap=settings.basemap if basemap is None else basemap,
        basemap_attribution=settings.basemap_attribution if attribution is None else attribution,
        basemap_crs=settings.basemap_crs if basemap_crs is None else basemap_crs)
    check_basemap(chosen, "--basemap")
    data.config = dataclasses.replace(data.config, output=chosen)
    out_dir = Path(out) if out is not None else gpkg.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if html:
        name = "map.html" if chosen.lang == settings.lang else f"map_{chosen.lang}.html"
        written["html"] = write_map(data, out_dir / name)
    if static:
        from .maps.static import write_static_maps  # matplotlib: heavy, and only for print maps

        written.update(write_static_maps(data, out_dir))
    return written
