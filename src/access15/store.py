"""Store a finished analysis in its GeoPackage and load it back for rendering, without recomputing.

``access15 run`` writes the layers ``facilities``, ``demand``, ``gaps`` and ``boundaries``
(:mod:`access15.outputs`); :func:`write_map_tables` adds what the maps need on top: the walkable
``streets`` (EPSG:4326), the non-spatial table ``coverage`` (``unit_coverage`` is the outputs' unit layer,
read back without its geometry), and the non-spatial
table ``access15_meta`` with columns ``key`` and ``value`` (JSON text): ``format``, ``version``,
``config``, ``crs`` (WKT of the metric CRS), ``grid`` (x0, y0, cell in metres, nx, ny), ``demand_label``,
``sources``, ``data_date``, ``created``. Provenance keys (inputs with SHA-256, run times, OSM date) are added by :mod:`access15.provenance`.
:func:`load_result` rebuilds a :class:`~access15.mapdata.MapData`. Complexity: O(rows) I/O.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from . import config as config_mod
from .config import Config
from .demand import Grid
from .errors import InputError
from .provenance import META_TABLE, read_meta_table, write_meta_table
from .mapdata import MapData

FORMAT = "access15-gpkg/1"
GPKG_NAME = "access15.gpkg"


# ----------------------------------------------------------------------------------------- config <-> JSON
def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def config_to_json(cfg: Config) -> dict:
    """A JSON-ready dict of ``cfg`` (paths as strings)."""
    return _plain(cfg)


def _dataclass_in(tp: Any) -> type | None:
    if dataclasses.is_dataclass(tp):
        return tp
    for arg in typing.get_args(tp):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def _build(cls: type, data: dict) -> Any:
    hints = typing.get_type_hints(cls, vars(config_mod))
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:  # written by an older version: keep the default
            continue
        value, tp = data[f.name], hints.get(f.name)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if value is None:
            kwargs[f.name] = None
        elif origin is dict and len(args) == 2 and _dataclass_in(args[1]):
            kwargs[f.name] = {k: _build(_dataclass_in(args[1]), v) for k, v in value.items()}
        elif origin is list and args and _dataclass_in(args[0]):
            kwargs[f.name] = [_build(_dataclass_in(args[0]), v) for v in value]
        elif _dataclass_in(tp) and isinstance(value, dict):
            kwargs[f.name] = _build(_dataclass_in(tp), value)
        elif tp is Path or (typing.get_args(tp) and Path in typing.get_args(tp)):
            kwargs[f.name] = Path(value)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def config_from_json(data: dict) -> Config:
    """The :class:`Config` saved by :func:`config_to_json` (keys unknown to this version are ignored)."""
    return _build(Config, data)


# ------------------------------------------------------------------------------------------------ writing
def write_map_tables(data: MapData, gpkg: str | Path) -> None:
    """Add ``streets``, ``coverage`` (and ``unit_coverage`` unless already a layer) and ``access15_meta`` to ``gpkg`` (which
    :func:`access15.outputs.write_outputs` has already given the spatial layers)."""
    streets = gpd.GeoDataFrame(geometry=gpd.GeoSeries(data.streets, crs=data.crs).to_crs(4326).values, crs=4326)
    streets["geometry"] = shapely.set_precision(streets.geometry.values, 1e-7)
    streets.to_file(gpkg, layer="streets", driver="GPKG", SPATIAL_INDEX="NO", use_arrow=True)
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


# ------------------------------------------------------------------------------------------------ loading
def find_gpkg(path: str | Path) -> Path:
    """The GeoPackage at ``path``, or ``access15.gpkg`` inside the output folder ``path``."""
    path = Path(path)
    gpkg = path / GPKG_NAME if path.is_dir() else path
    if not gpkg.is_file():
        raise InputError(path, "no access15 GeoPackage here" if path.is_dir() else "file not found",
                         "pass the access15.gpkg written by 'access15 run', or its output folder")
    return gpkg


def _table(gpkg: Path, layer: str) -> pd.DataFrame:
    """A GeoPackage layer as a plain table (its geometry, if any, dropped)."""
    return pd.DataFrame(pyogrio.read_dataframe(gpkg, layer=layer, read_geometry=False))


def load_result(path: str | Path) -> MapData:
    """Load a finished analysis (``access15.gpkg`` or the folder holding it) for rendering.

    Nothing is recomputed and no network or input file is read: the GeoPackage alone suffices.
    Grid demand points are rebuilt exactly from the stored cell indices and grid spec (metric CRS).

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
    missing = {META_TABLE, "demand", "facilities", "coverage", "streets"} - layers
    if missing:
        raise InputError(gpkg, f"not a complete access15 analysis (missing {', '.join(sorted(missing))})",
                         "re-run 'access15 run' with this version of access15 to write them")
    meta = read_meta_table(gpkg)
    if meta.get("format") != FORMAT:
        raise InputError(gpkg, f"unknown access15 GeoPackage format {meta.get('format')!r}",
                         f"re-run 'access15 run' (this version reads {FORMAT})", field="format")
    cfg = config_from_json(meta["config"])
    crs = pyproj.CRS.from_wkt(meta["crs"])
    dem = gpd.read_file(gpkg, layer="demand")
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
    streets = gpd.read_file(gpkg, layer="streets").to_crs(crs).geometry.to_numpy()
    return MapData(
        config=cfg, crs=crs, demand=dem, grid=grid, demand_label=meta.get("demand_label", ""),
        facilities=gpd.read_file(gpkg, layer="facilities"),
        coverage=pyogrio.read_dataframe(gpkg, layer="coverage"),
        unit_coverage=_table(gpkg, "unit_coverage") if "unit_coverage" in layers else pd.DataFrame(),
        boundaries=gpd.read_file(gpkg, layer="boundaries") if "boundaries" in layers else None,
        streets=np.asarray(streets), sources=list(meta.get("sources", [])), data_date=meta.get("data_date", ""),
        created=meta.get("created", ""), version=str(meta.get("version", "")), meta=meta,
        provenance=meta)
