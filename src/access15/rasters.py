"""Outputs that scale with the data: grid demand as Cloud-Optimized GeoTIFFs, points as GeoParquet.

A run on a square demand grid (``[demand] kind = "grid"``) is a raster: one value per cell. Besides the
GeoPackage (one polygon per cell, slow to write and to draw at metro size), :func:`write_scalable` writes

* ``travel_time.tif``: walking minutes to the nearest facility, one band per category and a last band
  ``combined`` (the slowest required service), float32; ``NaN`` (the nodata value) where a cell holds no demand
  point, ``+inf`` where no facility is within the search limit (``[routing] max_minutes``);
* ``coverage.tif``: band ``demand`` (the weight of each cell: residents, or 1 per cell without population),
  then ``uncovered_<category>`` and ``uncovered_combined`` (the weight outside the circle), float32, nodata
  ``NaN``;

both in the analysis's metric CRS (the grid's own: no resampling), as Cloud-Optimized GeoTIFFs (GDAL's COG
driver: 512-pixel tiles, DEFLATE with the floating-point predictor, overviews by nearest neighbour, so a
value seen at any zoom is a value of the table). The cell of demand point ``(ix, iy)`` is row ``ny - 1 - iy``,
column ``ix``. Every run, grid or not, also writes

* ``demand.parquet`` and ``facilities.parquet``: the GeoPackage's demand and facility rows as GeoParquet
  (EPSG:4326; demand as the cell centres or nodes, not polygons), which pandas, DuckDB and QGIS read fast.

Cost: O(cells) memory per band (float32: 4 bytes per cell of the grid's bounding box), written band by band;
GDAL compresses the COG tiles.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio
import shapely
from rasterio.shutil import copy as rio_copy

from .coverage import COMBINED
from .demand import Grid
from .result import AnalysisResult
from .wkb import points as points_wkb

TRAVEL_TIME_TIF = "travel_time.tif"
COVERAGE_TIF = "coverage.tif"
DEMAND_PARQUET = "demand.parquet"
FACILITIES_PARQUET = "facilities.parquet"
#: The file names :func:`write_scalable` may write (an earlier run's are removed when this run writes none).
NAMES = (TRAVEL_TIME_TIF, COVERAGE_TIF, DEMAND_PARQUET, FACILITIES_PARQUET)

#: Creation options of the Cloud-Optimized GeoTIFFs.
COG_OPTIONS = {"compress": "DEFLATE", "predictor": 3, "blocksize": 512, "overview_resampling": "nearest",
               "bigtiff": "IF_SAFER"}


def grid_bands(result: AnalysisResult) -> dict[str, dict[str, np.ndarray]]:
    """Per file name, the bands (name -> per-demand-point float32 values) of the grid rasters."""
    dem, cats = result.demand, list(result.config.categories)
    weight = dem["weight"].to_numpy(np.float32)
    times = {c: dem[f"time_{c}"].to_numpy(np.float32) for c in [*cats, COMBINED]}
    uncovered = {f"uncovered_{c}": np.where(dem[f"covered_{c}"].to_numpy(bool), np.float32(0), weight)
                 for c in [*cats, COMBINED]}
    return {TRAVEL_TIME_TIF: times, COVERAGE_TIF: {"demand": weight, **uncovered}}


def _write_cog(path: Path, grid: Grid, crs, ix: np.ndarray, iy: np.ndarray, bands: dict[str, np.ndarray],
               tags: dict[str, str]) -> None:
    """One COG at ``path``: each band a (ny, nx) float32 array, NaN where no demand point lies."""
    tmp = path.with_suffix(".tmp.tif")
    profile = {"driver": "GTiff", "width": grid.nx, "height": grid.ny, "count": len(bands), "dtype": "float32",
               "crs": crs, "nodata": np.nan, "tiled": True, "blockxsize": 512, "blockysize": 512,
               "transform": grid.transform}
    with rasterio.open(tmp, "w", **profile) as dst:
        for i, (name, values) in enumerate(bands.items(), start=1):
            dst.write(grid.raster(ix, iy, values), i)
            dst.set_band_description(i, name)
        dst.update_tags(**tags)
    rio_copy(tmp, path, driver="COG", **COG_OPTIONS)
    tmp.unlink()


#: Demand points per Parquet batch (and row group) of ``demand.parquet``: the WKB of one batch exists at a time.
PARQUET_BATCH = 262_144


def geoparquet_schema(attributes: pa.Schema, lonlat: np.ndarray) -> pa.Schema:
    """The schema of a GeoParquet file of points (EPSG:4326) with ``attributes``: their fields, then a WKB
    ``geometry`` field. The field and the ``geo`` metadata are what geopandas writes for one such point; the
    ``bbox`` it records is set to the bounds of ``lonlat`` (n, 2), the file's points."""
    sample = gpd.GeoDataFrame({}, geometry=shapely.points(lonlat[:1] if len(lonlat) else np.zeros((1, 2))), crs=4326)
    buf = io.BytesIO()
    sample.to_parquet(buf)
    schema = pq.read_schema(pa.BufferReader(buf.getvalue()))
    geo = json.loads(schema.metadata[b"geo"])
    if len(lonlat):
        geo["columns"]["geometry"]["bbox"] = [*map(float, lonlat.min(axis=0)), *map(float, lonlat.max(axis=0))]
    else:
        del geo["columns"]["geometry"]["bbox"]  # (optional in GeoParquet: no points, no bounds)
    return attributes.append(schema.field("geometry")).with_metadata(
        {**(attributes.metadata or {}), b"geo": json.dumps(geo).encode()})


def write_points_parquet(path: Path, attributes: pa.Table, lonlat: np.ndarray) -> None:
    """``attributes`` (one row per point) with the points ``lonlat`` (n, 2; EPSG:4326) as GeoParquet, in batches
    of :data:`PARQUET_BATCH` rows (a row group each): the rows geopandas' ``to_parquet`` would write, without a
    pandas copy of the table or a GEOS point per row (:func:`access15.wkb.points`). O(n)."""
    schema = geoparquet_schema(attributes.schema, lonlat)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(len(lonlat), 1), PARQUET_BATCH):
            wkb = points_wkb(lonlat[start:start + PARQUET_BATCH])
            block = attributes.slice(start, len(wkb)).append_column(schema.field("geometry"), wkb)
            writer.write_table(block.cast(schema))


def write_scalable(result: AnalysisResult, folder: Path, demand_attributes: pa.Table, lonlat: np.ndarray,
                   facilities: gpd.GeoDataFrame) -> dict[str, str]:
    """Write the COGs (grid demand only) and the GeoParquet files into ``folder``; return key -> file name.

    ``demand_attributes`` (the GeoPackage's ``demand`` columns as Arrow, see
    :func:`access15.outputs.arrow_table`) at the demand points ``lonlat`` (n, 2; EPSG:4326) and ``facilities``
    (its layer, EPSG:4326) are written as points.
    """
    files = {}
    if result.grid is not None and len(result.demand):
        ix, iy = result.demand["ix"].to_numpy(), result.demand["iy"].to_numpy()
        tags = {"demand_label": result.demand_label, "analysis": result.config.name,
                "units": "travel_time.tif: minutes (NaN: no demand point, inf: none within the search limit); "
                         "coverage.tif: demand weight per cell"}
        for name, bands in grid_bands(result).items():
            _write_cog(folder / name, result.grid, result.demand.crs, ix, iy, bands, tags)
            files[Path(name).stem + "_tif"] = name
    write_points_parquet(folder / DEMAND_PARQUET, demand_attributes, lonlat)  # cell centres or nodes
    facilities = facilities.copy()
    facilities.attrs = {}  # run-time attachments (e.g. a source path) are not table metadata
    facilities.to_parquet(folder / FACILITIES_PARQUET)
    files.update({"demand_parquet": DEMAND_PARQUET, "facilities_parquet": FACILITIES_PARQUET})
    return files
