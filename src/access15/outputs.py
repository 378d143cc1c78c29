"""Write an analysis to disk: coverage CSVs, a GeoPackage and the HTML map.

Every file is first written into a staging folder beside the output folder and moved into place only
when all of them are complete, so a failed or interrupted run never leaves a half-written file and never
mixes new files with a failed run's leftovers. ``run.json`` and the GeoPackage's ``access15_meta`` table
record what the outputs were made from (see :mod:`access15.provenance`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np

from .coverage import COMBINED
from .errors import InputError
from .pipeline import AnalysisResult
from .provenance import RUN_JSON, meta_items, write_meta_table, write_run_json


def demand_layer(result: AnalysisResult) -> gpd.GeoDataFrame:
    """Demand as cell polygons (grid demand) or points, with travel times and a ``missing`` column that
    lists the required categories outside their circle (EPSG:4326)."""
    d = result.demand.copy()
    if result.grid is not None:
        d = d.set_geometry(result.grid.cell_polygons(d["ix"].to_numpy(), d["iy"].to_numpy()), crs=d.crs)
    req = [c for c, k in result.config.categories.items() if k.required]
    miss = np.column_stack([~d[f"covered_{c}"].to_numpy() for c in req]) if req else np.zeros((len(d), 0), bool)
    d["missing"] = [",".join(c for c, m in zip(req, row) if m) for row in miss]
    d["demand_label"] = result.demand_label
    for col in [c for c in d.columns if c.startswith("time_")]:
        d[col] = d[col].round(3)
    return d.to_crs(4326)


def unit_layer(result: AnalysisResult) -> gpd.GeoDataFrame:
    """The per-unit coverage table on the unit polygons (one row per unit, level and category; EPSG:4326)."""
    b = result.boundaries.to_crs(4326)[["unit", "level", "geometry"]].drop_duplicates(["unit", "level"])
    return gpd.GeoDataFrame(result.unit_coverage.merge(b, on=["unit", "level"], how="left"), geometry="geometry",
                            crs=4326)


def _write_tables(result: AnalysisResult, gpkg: Path) -> None:
    """Non-spatial tables (supply ratios, targets, unit checks, missing capacities) as GeoPackage tables."""
    import pyogrio

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
                "capacity_missing.csv", "access15.gpkg", "map.html", RUN_JSON)
STAGING_PREFIX = ".access15-staging-"


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
    ``demand``, ``gaps``, ``boundaries``, ``unit_coverage``, ``streets``, the same tables, and the tables
    ``coverage`` and ``access15_meta``: enough for ``access15 map`` to re-render without recomputing),
    ``map.html`` and ``run.json`` into ``out_dir``; return the written paths.

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
    try:
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
        gpkg = staging / "access15.gpkg"
        fac = result.facilities.to_crs(4326)
        fac.to_file(gpkg, layer="facilities", driver="GPKG", use_arrow=True)
        dem = demand_layer(result)
        dem.to_file(gpkg, layer="demand", driver="GPKG", use_arrow=True)
        dem[~dem[f"covered_{COMBINED}"]].to_file(gpkg, layer="gaps", driver="GPKG", use_arrow=True)
        if result.boundaries is not None:
            result.boundaries.to_crs(4326).to_file(gpkg, layer="boundaries", driver="GPKG", use_arrow=True)
            if len(result.unit_coverage):
                unit_layer(result).to_file(gpkg, layer="unit_coverage", driver="GPKG", use_arrow=True)
        _write_tables(result, gpkg)
        write_meta_table(gpkg, meta_items(result.provenance))
        files["gpkg"] = "access15.gpkg"
        from .mapdata import MapData
        from .store import write_map_tables

        view = MapData.from_result(result)  # one view for the stored tables and the map: they match
        write_map_tables(view, gpkg)
        if html:
            from .html_map import write_map

            write_map(view, staging / "map.html")
            files["html"] = "map.html"
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
        shutil.rmtree(staging, ignore_errors=True)
